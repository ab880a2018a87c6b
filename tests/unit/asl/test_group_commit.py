"""Group commit: several runs' steps in one transaction (Engine.step_runs), each in its own
savepoint, so one run's failure is rolled back alone and fails only its own execution; and
StartExecution taking a run's first steps in its own transaction (Engine.step_inline)."""

from __future__ import annotations

import json
import pathlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from local.stepfunctions import StepFunctionsService
from local.stepfunctions import service as service_module
from local.stepfunctions.states import STATE_TYPES, StateType

from .conftest import ROLE, FakeLambdas, Harness

CHAIN = {
    "StartAt": "A",
    "States": {
        "A": {"Type": "Pass", "Result": 1, "ResultPath": "$.a", "Next": "B"},
        "B": {"Type": "Pass", "Result": 2, "ResultPath": "$.b", "End": True},
    },
}
MAP = {
    "StartAt": "Each",
    "States": {
        "Each": {
            "Type": "Map",
            "ItemsPath": "$.items",
            "ItemProcessor": {
                "StartAt": "Double",
                "States": {
                    "Double": {
                        "Type": "Pass",
                        "Parameters": {"v.$": "States.MathAdd($, $)"},
                        "End": True,
                    }
                },
            },
            "End": True,
        }
    },
}


@pytest.fixture
def idle(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[StepFunctionsService]:
    """A service whose scheduler never runs and whose StartExecution takes no step itself:
    the test steps the runs."""
    monkeypatch.setattr(service_module, "STEPS_AT_START", 0)
    svc = StepFunctionsService(tmp_path / "sfn.db", FakeLambdas())
    yield svc
    svc.store.close()


def start(svc: StepFunctionsService, definition: dict[str, Any], value: Any, n: int) -> list[str]:
    sm = svc.upsert_state_machine("m", json.dumps(definition), ROLE)
    return [
        svc.start_execution({"stateMachineArn": sm, "input": json.dumps(value)})["executionArn"]
        for _ in range(n)
    ]


def ready_runs(svc: StepFunctionsService) -> list[int]:
    with svc.store.read() as conn:
        return svc.store.runs_to_step(conn)


@contextmanager
def counting_transactions(svc: StepFunctionsService) -> Iterator[list[int]]:
    opened: list[int] = []
    real = svc.store.tx

    @contextmanager
    def tx() -> Iterator[Any]:
        opened.append(1)
        with real() as conn:
            yield conn

    svc.store.tx = tx  # type: ignore[method-assign]
    try:
        yield opened
    finally:
        svc.store.tx = real  # type: ignore[method-assign]


def test_several_runs_finish_in_one_transaction(idle: StepFunctionsService) -> None:
    arns = start(idle, CHAIN, {}, 5)
    with counting_transactions(idle) as opened:
        again, crashed = idle.engine.step_runs(ready_runs(idle), limit=8)
    assert (again, crashed, len(opened)) == ([], {}, 1)
    for arn in arns:
        described = idle.describe_execution({"executionArn": arn})
        assert described["status"] == "SUCCEEDED"
        assert json.loads(described["output"]) == {"a": 1, "b": 2}


def test_a_map_s_iterations_are_stepped_together(idle: StepFunctionsService) -> None:
    (arn,) = start(idle, MAP, {"items": [1, 2, 3]}, 1)
    transactions = 0
    while runs := ready_runs(idle):
        with counting_transactions(idle) as opened:
            idle.engine.step_runs(runs, limit=8)
        transactions += len(opened)
    # The Map state's entry and its items' start, the three iterations, the join: 3 commits
    # where one per run took 5.
    assert transactions == 3
    described = idle.describe_execution({"executionArn": arn})
    assert json.loads(described["output"]) == [{"v": 2}, {"v": 4}, {"v": 6}]


def test_a_run_that_raises_is_rolled_back_alone(
    idle: StepFunctionsService, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, doomed, last = start(idle, CHAIN, {}, 3)
    real_enter = STATE_TYPES["Pass"].enter

    def enter(step: Any) -> None:
        if step.ex.arn == doomed:
            raise RuntimeError("engine bug")
        real_enter(step)

    monkeypatch.setitem(STATE_TYPES, "Pass", StateType(enter))
    runs = ready_runs(idle)
    again, crashed = idle.engine.step_runs(runs, limit=8)
    assert list(crashed) == [runs[1]] and again == []
    assert str(crashed[runs[1]]) == "engine bug"
    for arn in (first, last):
        assert idle.describe_execution({"executionArn": arn})["status"] == "SUCCEEDED"
    # Nothing of the failed run's step was kept: it is where it was, with its start event only.
    assert ready_runs(idle) == [runs[1]]
    events = idle.get_execution_history({"executionArn": doomed})["events"]
    assert [e["type"] for e in events] == ["ExecutionStarted"]


def test_the_scheduler_fails_only_the_execution_whose_step_raised(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    harness = Harness(tmp_path / "sfn.db", FakeLambdas())
    try:
        sm = harness.machine(CHAIN)
        real_enter = STATE_TYPES["Pass"].enter

        def enter(step: Any) -> None:
            if json.loads(step.ex.input).get("doomed"):
                raise RuntimeError("engine bug")
            real_enter(step)

        monkeypatch.setitem(STATE_TYPES, "Pass", StateType(enter))
        arns = [harness.start(sm, {"doomed": i == 2, "i": i}) for i in range(5)]
        results = [harness.svc.wait_for(arn, 10) for arn in arns]
    finally:
        harness.svc.stop()
    assert [r["status"] for r in results] == ["SUCCEEDED"] * 2 + ["FAILED"] + ["SUCCEEDED"] * 2
    assert "engine bug" in results[2]["cause"]


def test_event_ids_stay_consecutive_when_a_run_of_the_same_execution_rolls_back(
    idle: StepFunctionsService, monkeypatch: pytest.MonkeyPatch
) -> None:
    fork = {
        "StartAt": "Fork",
        "States": {
            "Fork": {
                "Type": "Parallel",
                "Branches": [
                    {"StartAt": f"B{i}", "States": {f"B{i}": {"Type": "Pass", "End": True}}}
                    for i in range(3)
                ],
                "End": True,
            }
        },
    }
    (arn,) = start(idle, fork, {}, 1)
    idle.engine.step_runs(ready_runs(idle), limit=8)  # the Parallel state starts its branches
    real_enter = STATE_TYPES["Pass"].enter

    def enter(step: Any) -> None:
        real_enter(step)
        if step.run.idx == 1:
            raise RuntimeError("engine bug")  # after its events were written

    monkeypatch.setitem(STATE_TYPES, "Pass", StateType(enter))
    branches = ready_runs(idle)
    _, crashed = idle.engine.step_runs(branches, limit=8)
    assert list(crashed) == [branches[1]]
    ids = [e["id"] for e in idle.get_execution_history({"executionArn": arn})["events"]]
    assert ids == list(range(1, len(ids) + 1))


@pytest.fixture
def unstarted(tmp_path: pathlib.Path) -> Iterator[StepFunctionsService]:
    """StartExecution as served (it takes the first steps), with no worker running."""
    svc = StepFunctionsService(tmp_path / "sfn.db", FakeLambdas())
    yield svc
    svc.store.close()


def test_start_execution_runs_a_short_machine_to_its_end_in_one_commit(
    unstarted: StepFunctionsService,
) -> None:
    with counting_transactions(unstarted) as opened:
        (arn,) = start(unstarted, CHAIN, {}, 1)
    assert len(opened) == 2  # the machine's creation, then the start with every step
    described = unstarted.describe_execution({"executionArn": arn})
    assert json.loads(described["output"]) == {"a": 1, "b": 2}
    assert ready_runs(unstarted) == []


def test_a_start_whose_first_step_raises_still_starts_and_leaves_the_run_to_a_worker(
    unstarted: StepFunctionsService, monkeypatch: pytest.MonkeyPatch
) -> None:
    def enter(step: Any) -> None:
        step.event("PassStateEntered", {"name": step.run.state})
        raise RuntimeError("engine bug")

    monkeypatch.setitem(STATE_TYPES, "Pass", StateType(enter))
    (arn,) = start(unstarted, CHAIN, {}, 1)
    assert unstarted.describe_execution({"executionArn": arn})["status"] == "RUNNING"
    events = unstarted.get_execution_history({"executionArn": arn})["events"]
    assert [e["type"] for e in events] == ["ExecutionStarted"]
    assert len(ready_runs(unstarted)) == 1
