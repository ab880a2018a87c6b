"""Retry back-off as the ASL spec gives it, without running a state machine."""

from __future__ import annotations

import pytest

from local.stepfunctions.states.retry import backoff_seconds, error_matches


def test_backoff_grows_by_the_rate_and_stops_at_max_delay() -> None:
    retrier = {"IntervalSeconds": 2, "BackoffRate": 3, "MaxDelaySeconds": 10}
    assert [backoff_seconds(retrier, n) for n in range(4)] == [2, 6, 10, 10]


def test_backoff_defaults_are_one_second_doubling() -> None:
    assert [backoff_seconds({}, n) for n in range(3)] == [1, 2, 4]


def test_full_jitter_stays_between_zero_and_the_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    retrier = {"IntervalSeconds": 4, "BackoffRate": 2, "JitterStrategy": "FULL"}
    seen: list[tuple[float, float]] = []
    monkeypatch.setattr(
        "local.stepfunctions.states.retry.random.uniform",
        lambda lo, hi: seen.append((lo, hi)) or hi / 2,
    )
    assert backoff_seconds(retrier, 1) == 4
    assert seen == [(0, 8)]


def test_states_all_does_not_match_runtime_and_task_failed_does_not_match_timeout() -> None:
    assert error_matches(["States.ALL"], "Boom")
    assert not error_matches(["States.ALL"], "States.Runtime")
    assert not error_matches(["States.TaskFailed"], "States.Timeout")
    assert error_matches(["States.TaskFailed"], "Boom")
