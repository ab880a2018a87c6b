"""The template's Schedule events, run locally: rate expressions, the EventBridge-shaped
event, and a scheduler that fires on its period and keeps going after a failed run."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from local.runtime.schedules import Scheduler, scheduled_event
from local.runtime.server import invokes_functions
from local.runtime.template import Schedule, TemplateError, load_application, rate_seconds

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize(
    ("expression", "seconds"),
    [("rate(1 minute)", 60), ("rate(5 minutes)", 300), ("rate(1 hour)", 3600),
     ("rate(2 days)", 172800)],
)  # fmt: skip
def test_rate_expressions(expression: str, seconds: int) -> None:
    assert rate_seconds(expression, "here") == seconds


@pytest.mark.parametrize(
    "expression",
    ["cron(0 12 * * ? *)", "rate(1 minutes)", "rate(2 minute)", "rate(0 minutes)", "rate(x)", ""],
)
def test_other_expressions_are_refused_with_where(expression: str) -> None:
    with pytest.raises(TemplateError, match=r"Fn\.Events\.Sweep"):
        rate_seconds(expression, "Fn.Events.Sweep")


def test_the_template_schedules_the_webhook_sweep_and_serves_invoke() -> None:
    app = load_application(ROOT / "template.yaml")
    [schedule] = app.schedules
    assert (schedule.function_id, schedule.rate_seconds) == ("WebhookDispatchFunction", 60)
    # Functions name the dispatcher (their nudge): the runtime serves Lambda's Invoke API.
    assert invokes_functions(app)


def test_the_event_is_shaped_as_eventbridge_sends_it() -> None:
    schedule = Schedule("Fn", "Sweep", 60, "rate(1 minute)")
    event = scheduled_event(schedule, datetime(2026, 11, 1, 12, 0, tzinfo=UTC))
    assert event["source"] == "aws.events" and event["detail-type"] == "Scheduled Event"
    assert event["time"] == "2026-11-01T12:00:00Z" and event["detail"] == {}
    assert event["resources"] == [schedule.rule_arn]
    assert schedule.rule_arn.startswith("arn:aws:events:us-east-1:123456789012:rule/")


def test_the_scheduler_fires_each_period_and_survives_a_failed_run() -> None:
    now = [0.0]
    calls: list[tuple[str, Any]] = []
    fired = threading.Event()

    def invoke(function_id: str, event: Any) -> None:
        calls.append((function_id, event))
        fired.set()
        raise RuntimeError("the function failed")  # logged; the schedule goes on

    scheduler = Scheduler([Schedule("Fn", "Sweep", 1, "rate(1 minute)")], invoke, lambda: now[0])
    scheduler.start()
    try:
        time.sleep(0.1)
        assert calls == []  # the first run is one period after start
        for expected in (1, 2):
            fired.clear()
            now[0] += 1.0
            assert fired.wait(5), f"run {expected} did not come"
        assert [c[0] for c in calls] == ["Fn", "Fn"]
    finally:
        scheduler.stop()
