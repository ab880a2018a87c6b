"""The project's registration state machine on the local engine, with fake Lambdas."""

from __future__ import annotations

import json
import pathlib
import threading
import time
from typing import Any

import pytest

from local.stepfunctions import LambdaFunctionError, LambdaServiceError

from .conftest import FakeLambdas, Harness, output

ROOT = pathlib.Path(__file__).resolve().parents[3]
FUNCTIONS = ("ValidateNumber", "CreateContact", "SendConfirmation", "OptIn", "Expire", "CleanUp")


def registration_definition(window: int) -> str:
    text = (ROOT / "statemachine" / "registration.asl.json").read_text()
    text = text.replace("${ConfirmationWindowSeconds}", str(window))
    for fn in FUNCTIONS:
        arn = f"arn:aws:lambda:us-east-1:123456789012:function:{fn}"
        text = text.replace("${" + fn + "FunctionArn}", arn)
    return text


class Tokens:
    def __init__(self) -> None:
        self.tokens: list[str] = []
        self.event = threading.Event()

    def capture(self, payload: dict[str, Any]) -> dict[str, Any]:
        self.tokens.append(payload["taskToken"])
        self.event.set()
        return {"sent": True}

    def wait(self) -> str:
        assert self.event.wait(5), "SendConfirmation was not called"
        return self.tokens[-1]


def install(lambdas: FakeLambdas, acceptable: bool = True) -> Tokens:
    tokens = Tokens()
    lambdas.add(
        "ValidateNumber",
        lambda p: {
            "acceptable": acceptable,
            "e164": p["phoneNumber"],
            "reason": None if acceptable else "not a mobile number",
        },
    )
    lambdas.add("CreateContact", lambda p: {"status": "PENDING"})
    lambdas.add("SendConfirmation", tokens.capture)
    lambdas.add("OptIn", lambda p: {"status": "CONFIRMED", "reply": p["reply"]})
    lambdas.add("Expire", lambda p: {"status": "EXPIRED"})
    lambdas.add("CleanUp", echo_failure)
    return tokens


def echo_failure(payload: dict[str, Any]) -> dict[str, Any]:
    """What the clean-up function answers: the contact's status, and the caught error."""
    ((state, caught),) = payload["failure"].items()
    return {
        "status": "EXPIRED",
        "state": state,
        "error": caught["Error"],
        "cause": caught.get("Cause") or "",
    }


INPUT = {
    "registrationId": "r-1",
    "phoneNumber": "+12065550100",
    "firstName": "Ada",
    "evidence": {"ip": "127.0.0.1"},
}


def start(harness: Harness, window: int = 60) -> str:
    sm = harness.machine(registration_definition(window), "registration")
    return harness.start(sm, INPUT, name="r-1")


def test_confirmed_after_task_success(harness: Harness, lambdas: FakeLambdas) -> None:
    tokens = install(lambdas)
    arn = start(harness)
    token = tokens.wait()
    harness.svc.send_task_success({"taskToken": token, "output": json.dumps({"reply": "YES"})})
    out = output(harness.svc.wait_for(arn))
    assert out["contact"] == {"status": "CONFIRMED"}
    assert out["confirmation"] == {"reply": "YES"}
    assert out["settings"] == {"confirmationWindowSeconds": 60}
    create_payload = next(p for n, p in lambdas.calls if n == "CreateContact")
    assert create_payload["executionArn"] == arn
    assert create_payload["validation"]["e164"] == "+12065550100"
    types = [e["type"] for e in harness.history(arn)]
    assert types[0] == "ExecutionStarted"
    assert "TaskSubmitted" in types
    assert types[-1] == "ExecutionSucceeded"


def test_rejected_number_fails_with_reason(harness: Harness, lambdas: FakeLambdas) -> None:
    install(lambdas, acceptable=False)
    desc = harness.svc.wait_for(start(harness))
    assert desc["status"] == "FAILED"
    assert desc["error"] == "NumberRejected"
    assert desc["cause"] == "not a mobile number"


def test_confirmation_window_expires(harness: Harness, lambdas: FakeLambdas) -> None:
    tokens = install(lambdas)
    arn = start(harness, window=1)
    token = tokens.wait()
    out = output(harness.svc.wait_for(arn, timeout=5))
    assert out["contact"] == {"status": "EXPIRED"}
    assert out["error"]["Error"] == "States.Timeout"
    with pytest.raises(Exception) as e:
        harness.svc.send_task_success({"taskToken": token, "output": "{}"})
    assert getattr(e.value, "type_name", None) == "TaskTimedOut"
    assert "TaskTimedOut" in [ev["type"] for ev in harness.history(arn)]


def test_stop_reply_cancels(harness: Harness, lambdas: FakeLambdas) -> None:
    tokens = install(lambdas)
    arn = start(harness)
    harness.svc.send_task_failure(
        {"taskToken": tokens.wait(), "error": "OptedOut", "cause": "STOP received"}
    )
    out = output(harness.svc.wait_for(arn))
    assert out["error"] == {"Error": "OptedOut", "Cause": "STOP received"}
    assert lambdas.count("OptIn") == 0


def test_already_registered_is_caught(harness: Harness, lambdas: FakeLambdas) -> None:
    install(lambdas)

    def already(p: Any) -> Any:
        raise LambdaFunctionError("AlreadyRegistered", "pending elsewhere", ["line 1"])

    lambdas.add("CreateContact", already)
    out = output(harness.svc.wait_for(start(harness)))
    assert out["error"]["Error"] == "AlreadyRegistered"
    cause = json.loads(out["error"]["Cause"])
    assert cause["errorMessage"] == "pending elsewhere"
    assert cause["errorType"] == "AlreadyRegistered"
    assert cause["stackTrace"] == ["line 1"]
    assert "requestId" in cause


def test_lambda_service_errors_are_retried(harness: Harness, lambdas: FakeLambdas) -> None:
    tokens = install(lambdas)
    attempts: list[float] = []

    def flaky(p: Any) -> Any:
        attempts.append(time.monotonic())
        if len(attempts) < 2:
            raise LambdaServiceError("Lambda.ServiceException", "try again")
        return {"acceptable": True, "e164": p["phoneNumber"], "reason": None}

    lambdas.add("ValidateNumber", flaky)
    arn = start(harness)
    tokens.wait()
    assert len(attempts) == 2
    assert attempts[1] - attempts[0] >= 0.9  # IntervalSeconds: 1
    harness.svc.stop_execution({"executionArn": arn})
    assert harness.svc.describe_execution({"executionArn": arn})["status"] == "ABORTED"


def test_unknown_exception_is_lambda_service_exception(
    harness: Harness, lambdas: FakeLambdas
) -> None:
    install(lambdas)

    def boom(p: Any) -> Any:
        raise RuntimeError("kaput")

    lambdas.add("OptIn", boom)
    lambdas.add("ValidateNumber", boom)
    sm = harness.machine(
        {
            "StartAt": "T",
            "States": {
                "T": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::lambda:invoke",
                    "Parameters": {"FunctionName": "OptIn", "Payload": {}},
                    "End": True,
                }
            },
        }
    )
    desc = harness.svc.wait_for(harness.start(sm))
    assert desc["error"] == "Lambda.ServiceException"


def test_an_uncaught_error_is_cleaned_up_then_fails_with_the_original_error(
    harness: Harness, lambdas: FakeLambdas
) -> None:
    tokens = install(lambdas)

    def broken(p: Any) -> Any:
        raise LambdaFunctionError("ContactNotFound", "No contact for this number.", [])

    lambdas.add("OptIn", broken)
    arn = start(harness)
    harness.svc.send_task_success({"taskToken": tokens.wait(), "output": json.dumps({"r": 1})})
    desc = harness.svc.wait_for(arn)

    assert (desc["status"], desc["error"]) == ("FAILED", "ContactNotFound")
    assert json.loads(desc["cause"])["errorMessage"] == "No contact for this number."
    (payload,) = [p for n, p in lambdas.calls if n == "CleanUp"]
    assert payload["registrationId"] == "r-1"
    assert payload["phoneNumber"] == "+12065550100"
    assert payload["executionArn"] == arn
    assert list(payload["failure"]) == ["OptIn"]
    assert payload["failure"]["OptIn"]["Error"] == "ContactNotFound"
    types = [e["type"] for e in harness.history(arn)]
    assert types[-2:] == ["FailStateEntered", "ExecutionFailed"]


def test_a_catch_all_is_on_every_task_and_nowhere_else() -> None:
    definition = json.loads(registration_definition(60))
    for name, state in definition["States"].items():
        catches = state.get("Catch", [])
        if state["Type"] == "Task" and name != "CleanUp":
            last = catches[-1]
            # States.ALL last, alone, writing the error under the state's own name.
            assert last == {
                "ErrorEquals": ["States.ALL"],
                "ResultPath": f"$.failure.{name}",
                "Next": "CleanUp",
            }, name
            assert all("States.ALL" not in c["ErrorEquals"] for c in catches[:-1]), name
        else:
            # The clean-up's own failure must not loop back into itself.
            assert catches == [], name
    assert definition["States"]["CleanUp"]["Next"] == "Failed"
    assert definition["States"]["Failed"]["Type"] == "Fail"


def test_a_stopped_execution_runs_no_clean_up(harness: Harness, lambdas: FakeLambdas) -> None:
    """StopExecution ends an execution without any state running: no Catch sees it. A later
    reply or sign-up repairs the contact (usecases/ended.py)."""
    tokens = install(lambdas)
    arn = start(harness)
    tokens.wait()
    harness.svc.stop_execution({"executionArn": arn})
    assert harness.svc.describe_execution({"executionArn": arn})["status"] == "ABORTED"
    assert lambdas.count("CleanUp") == 0
