"""Durability: a service object dropped without stop() and a new one on the same database."""

from __future__ import annotations

import json
import pathlib
import time
from typing import Any

from local.stepfunctions import StepFunctionsService
from local.stepfunctions.clock import ManualClock

from .conftest import ROLE, FakeLambdas

CALLBACK = {
    "StartAt": "Wait",
    "States": {
        "Wait": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
            "Parameters": {"FunctionName": "Send", "Payload": {"token.$": "$$.Task.Token"}},
            "TimeoutSeconds": 60,
            "Next": "Done",
        },
        "Done": {"Type": "Pass", "End": True},
    },
}


def test_callback_survives_restart(tmp_path: pathlib.Path) -> None:
    db = tmp_path / "sfn.db"
    first = FakeLambdas()
    tokens: list[str] = []
    first.add("Send", lambda p: tokens.append(p["token"]) or {"ok": True})
    svc = StepFunctionsService(db, first)
    svc.start()
    sm = svc.upsert_state_machine("cb", json.dumps(CALLBACK), ROLE)
    arn = svc.start_execution({"stateMachineArn": sm, "input": "{}"})["executionArn"]
    deadline = time.monotonic() + 5
    while not tokens and time.monotonic() < deadline:
        time.sleep(0.01)
    assert tokens
    time.sleep(0.1)  # let the invocation's completion be recorded
    # "crash": drop the service without stop(); threads are daemons and simply stop mattering
    svc.scheduler.stopping = True

    second = FakeLambdas()
    second.add("Send", lambda p: (_ for _ in ()).throw(AssertionError("re-invoked")))
    svc2 = StepFunctionsService(db, second)
    svc2.start()
    try:
        svc2.send_task_success({"taskToken": tokens[0], "output": json.dumps({"reply": "YES"})})
        desc = svc2.wait_for(arn)
        assert desc["status"] == "SUCCEEDED"
        assert json.loads(desc["output"]) == {"reply": "YES"}
        assert second.calls == []
    finally:
        svc2.stop()


def test_overdue_timers_fire_after_restart(tmp_path: pathlib.Path) -> None:
    db = tmp_path / "sfn.db"
    clock = ManualClock()
    svc = StepFunctionsService(db, FakeLambdas(), clock=clock)
    # never started: nothing runs; the execution is persisted with its first step queued
    definition: dict[str, Any] = {
        "StartAt": "W",
        "States": {
            "W": {"Type": "Wait", "Seconds": 1, "Next": "P"},
            "P": {"Type": "Pass", "End": True},
        },
    }
    sm = svc.upsert_state_machine("w", json.dumps(definition), ROLE)
    svc.start()
    arn = svc.start_execution({"stateMachineArn": sm, "input": '{"x": 1}'})["executionArn"]
    deadline = time.monotonic() + 5
    while not any(
        e["type"] == "WaitStateEntered"
        for e in svc.get_execution_history({"executionArn": arn})["events"]
    ):
        assert time.monotonic() < deadline
        time.sleep(0.005)
    svc.scheduler.stopping = True  # "killed" while the Wait timer is pending
    clock.advance(1.2)  # the timer comes due while nothing runs
    svc2 = StepFunctionsService(db, FakeLambdas(), clock=clock)
    svc2.start()
    try:
        desc = svc2.wait_for(arn, timeout=5)
        assert desc["status"] == "SUCCEEDED"
        assert json.loads(desc["output"]) == {"x": 1}
    finally:
        svc2.stop()


def test_mid_step_runs_resume(tmp_path: pathlib.Path) -> None:
    db = tmp_path / "sfn.db"
    svc = StepFunctionsService(db, FakeLambdas())
    sm = svc.upsert_state_machine(
        "p", json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}), ROLE
    )
    # persisted but never stepped: as if killed right after StartExecution returned
    arn = svc.start_execution({"stateMachineArn": sm, "input": '{"a": 2}'})["executionArn"]
    svc2 = StepFunctionsService(db, FakeLambdas())
    svc2.start()
    try:
        desc = svc2.wait_for(arn)
        assert json.loads(desc["output"]) == {"a": 2}
    finally:
        svc2.stop()
