"""The registration workflow's mocked test cases (statemachine/registration.mocks.json).

Step Functions Local's MockConfigFile format: each test case answers the Task states it names
with mocked responses, so every path and every error handler of registration.asl.json runs
without a Lambda, a database or an SMS. The state machine comes from template.yaml through the
project's own template reader, substitutions and all, exactly as the local runtime loads it.

No Lambda may run: the invoker records any call, and each test asserts that its execution made
none (a call would mean a mock did not stand in). All executions start together in one service
on the engine's ManualClock, and each test waits for its own, moving the clock a second at a
time while it runs: the retries' back-offs (RetriesExhausted: 1 + 2 + 4 s) pass without being
waited out, and the history's timestamps show them exactly.
"""

from __future__ import annotations

import itertools
import json
import pathlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pytest

from local.runtime.template import load_application
from local.stepfunctions import LambdaServiceError, StepFunctionsService
from local.stepfunctions.clock import ManualClock

ROOT = pathlib.Path(__file__).resolve().parents[2]
MOCKS = ROOT / "statemachine" / "registration.mocks.json"
MACHINE = "RegistrationStateMachine"
E164 = "+12065550100"  # what the mocked ValidateNumber answers
ACCEPTED_PATH = [
    "LoadSettings",
    "ValidateNumber",
    "Acceptable?",
    "CreateContact",
    "SendConfirmation",
]
YES = {"reply": "YES", "inboundMessageId": "inbound-0001", "receivedAt": "2026-11-02T17:04:05Z"}


@dataclass
class NoLambdasAllowed:
    """Records every invocation; a mocked test case must never reach a real function."""

    calls: list[tuple[str, Any]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def invoke(self, function_name: str, payload: Any) -> Any:
        with self._lock:
            self.calls.append((function_name, payload))
        raise LambdaServiceError(
            "Test.UnexpectedLambdaCall", f"{function_name} was invoked: a state was not mocked"
        )

    def calls_for(self, case: str) -> list[tuple[str, Any]]:
        with self._lock:
            return [
                (fn, p)
                for fn, p in self.calls
                if isinstance(p, dict)
                and (p.get("registrationId") == case or p.get("phoneNumber") == phone_of(case))
            ]


CASES = (
    "HappyPath",
    "ConfirmationWindowClosed",
    "StopWhilePending",
    "NumberRejected",
    "DuplicateRegistration",
    "TransientLambdaErrorsRetried",
    "RetriesExhausted",
    "SmsUnavailableRetried",
    "Undeliverable",
    "CreateContactFailed",
    "OptInFailedAfterConfirmed",
    "ExpireFailed",
)


def phone_of(case: str) -> str:
    return f"+1206555{CASES.index(case) + 101:04d}"


def input_of(case: str) -> dict[str, Any]:
    return {
        "registrationId": case,
        "phoneNumber": phone_of(case),
        "firstName": "Ada",
        "evidence": {"ip": "203.0.113.7", "userAgent": "pytest", "disclosureVersion": "2026-11-01"},
    }


@dataclass
class Suite:
    svc: StepFunctionsService
    lambdas: NoLambdasAllowed
    executions: dict[str, str]
    clock: ManualClock

    def finished(self, case: str) -> dict[str, Any]:
        deadline = time.monotonic() + 30
        while (desc := self.svc.wait_for(self.executions[case], 0.01))["status"] == "RUNNING":
            assert time.monotonic() < deadline, f"{case} still running"
            self.clock.advance(1)
        assert self.lambdas.calls_for(case) == [], f"{case} invoked a real Lambda"
        return desc

    def history(self, case: str) -> list[dict[str, Any]]:
        arn = self.executions[case]
        return list(self.svc.get_execution_history({"executionArn": arn})["events"])

    def states_entered(self, case: str) -> list[str]:
        return [
            e["stateEnteredEventDetails"]["name"]
            for e in self.history(case)
            if "stateEnteredEventDetails" in e
        ]

    def task_events(self, case: str, state: str) -> list[dict[str, Any]]:
        """The Task* events between `state`'s TaskStateEntered and TaskStateExited."""
        inside, out = False, []
        for e in self.history(case):
            details = e.get("stateEnteredEventDetails") or e.get("stateExitedEventDetails")
            if e["type"] == "TaskStateEntered":
                inside = details["name"] == state
            elif e["type"] == "TaskStateExited":
                inside = False
            elif inside:
                out.append(e)
        return out


@pytest.fixture(scope="module")
def suite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Suite]:
    machine = load_application(ROOT / "template.yaml").state_machines[MACHINE]
    lambdas = NoLambdasAllowed()
    db = pathlib.Path(tmp_path_factory.mktemp("mocks")) / "sfn.db"
    clock = ManualClock()
    svc = StepFunctionsService(db, lambdas, workers=4, mock_config=MOCKS, clock=clock)
    svc.start()
    try:
        arn = svc.upsert_state_machine(machine.name, machine.definition, machine.role_arn)
        executions = {
            case: svc.start_execution(
                {
                    "stateMachineArn": f"{arn}#{case}",
                    "name": case,
                    "input": json.dumps(input_of(case)),
                }
            )["executionArn"]
            for case in CASES
        }
        yield Suite(svc, lambdas, executions, clock)
    finally:
        svc.stop()


def output_of(desc: dict[str, Any]) -> dict[str, Any]:
    assert desc["status"] == "SUCCEEDED", desc
    return dict(json.loads(desc["output"]))


def validation(acceptable: bool = True) -> dict[str, Any]:
    mocks = json.loads(MOCKS.read_text())["MockedResponses"]
    name = "NumberAcceptable" if acceptable else "NumberNotAcceptable"
    details = mocks[name]["0"]["Return"]["Payload"]
    return {
        "acceptable": acceptable,
        "e164": E164,
        "reason": details["reason"],
        "details": details,
    }


def seconds_between(events: list[dict[str, Any]], type_: str) -> list[float]:
    times = [e["timestamp"] for e in events if e["type"] == type_]
    stamps = [t.timestamp() if isinstance(t, datetime) else float(t) for t in times]
    return [b - a for a, b in itertools.pairwise(stamps)]


# ---------------------------------------------------------------- the file itself


def test_every_test_case_in_the_file_has_a_test() -> None:
    doc = json.loads(MOCKS.read_text())
    assert set(doc["StateMachines"][MACHINE]["TestCases"]) == set(CASES)


def test_execution_arns_keep_aws_form(suite: Suite) -> None:
    for case, arn in suite.executions.items():
        assert arn == f"arn:aws:states:us-east-1:123456789012:execution:{MACHINE}:{case}"


# ---------------------------------------------------------------- paths


def test_happy_path_yes_opts_in(suite: Suite) -> None:
    out = output_of(suite.finished("HappyPath"))
    assert suite.states_entered("HappyPath") == [*ACCEPTED_PATH, "OptIn", "Confirmed"]
    assert out == {
        **input_of("HappyPath"),
        "settings": {"confirmationWindowSeconds": 86400},
        "validation": validation(),
        "contact": {"status": "CONFIRMED"},
        "confirmation": YES,
    }
    # SendConfirmation got a task token in its payload, though nothing waited on it.
    scheduled = suite.task_events("HappyPath", "SendConfirmation")[0]
    assert scheduled["type"] == "TaskScheduled"
    params = json.loads(scheduled["taskScheduledEventDetails"]["parameters"])
    assert params["Payload"]["taskToken"]
    assert params["Payload"]["phoneNumber"] == E164
    assert [e["type"] for e in suite.task_events("HappyPath", "SendConfirmation")] == [
        "TaskScheduled",
        "TaskStarted",
        "TaskSucceeded",
    ]


def test_confirmation_window_closed_expires(suite: Suite) -> None:
    out = output_of(suite.finished("ConfirmationWindowClosed"))
    assert suite.states_entered("ConfirmationWindowClosed") == [*ACCEPTED_PATH, "Expire", "Expired"]
    assert out["error"] == {
        "Error": "States.Timeout",
        "Cause": "The confirmation window closed without a reply.",
    }
    assert out["contact"] == {"status": "EXPIRED"}
    assert "confirmation" not in out


def test_stop_while_pending_cancels(suite: Suite) -> None:
    out = output_of(suite.finished("StopWhilePending"))
    assert suite.states_entered("StopWhilePending") == [*ACCEPTED_PATH, "Cancelled"]
    assert out["error"]["Error"] == "OptedOut"
    assert out["contact"] == {"status": "PENDING"}  # inbound_sms opted it out; no task ran after


def test_number_rejected_fails_with_the_reason(suite: Suite) -> None:
    desc = suite.finished("NumberRejected")
    assert (desc["status"], desc["error"]) == ("FAILED", "NumberRejected")
    assert desc["cause"] == validation(acceptable=False)["reason"]
    assert suite.states_entered("NumberRejected") == [
        "LoadSettings",
        "ValidateNumber",
        "Acceptable?",
        "Rejected",
    ]


def test_duplicate_registration_leaves_the_other_workflow_to_carry_on(suite: Suite) -> None:
    out = output_of(suite.finished("DuplicateRegistration"))
    assert suite.states_entered("DuplicateRegistration") == [
        "LoadSettings",
        "ValidateNumber",
        "Acceptable?",
        "CreateContact",
        "AlreadyInProgress",
    ]
    assert out["error"]["Error"] == "AlreadyRegistered"
    assert json.loads(out["error"]["Cause"])["errorType"] == "AlreadyRegistered"


# ---------------------------------------------------------------- retries and failures


def test_transient_lambda_errors_are_retried(suite: Suite) -> None:
    out = output_of(suite.finished("TransientLambdaErrorsRetried"))
    # A retry is not a new state entry: ValidateNumber appears once.
    assert suite.states_entered("TransientLambdaErrorsRetried") == [
        *ACCEPTED_PATH,
        "OptIn",
        "Confirmed",
    ]
    assert out["validation"] == validation()
    events = suite.task_events("TransientLambdaErrorsRetried", "ValidateNumber")
    assert [e["type"] for e in events] == [
        "TaskScheduled",
        "TaskStarted",
        "TaskFailed",
        "TaskScheduled",
        "TaskStarted",
        "TaskFailed",
        "TaskScheduled",
        "TaskStarted",
        "TaskSucceeded",
    ]
    failed = [e["taskFailedEventDetails"]["error"] for e in events if e["type"] == "TaskFailed"]
    assert failed == ["Lambda.ServiceException"] * 2
    # IntervalSeconds 1, BackoffRate 2: the retries waited 1 s, then 2 s.
    gaps = seconds_between(events, "TaskScheduled")
    assert gaps[0] >= 0.95 and gaps[1] >= 1.95, gaps


def test_retries_exhausted_fail_the_execution(suite: Suite) -> None:
    desc = suite.finished("RetriesExhausted")
    assert (desc["status"], desc["error"]) == ("FAILED", "Lambda.TooManyRequestsException")
    assert desc["cause"] == "Rate Exceeded. (Service: Lambda, Status Code: 429)"
    assert suite.states_entered("RetriesExhausted") == [
        "LoadSettings",
        "ValidateNumber",
        "CleanUp",
        "Failed",
    ]
    # No $.validation yet: CleanUp gets the input's number, and the caught error by state.
    assert clean_up_payload(suite, "RetriesExhausted") == {
        "registrationId": "RetriesExhausted",
        "phoneNumber": phone_of("RetriesExhausted"),
        "failure": {
            "ValidateNumber": {
                "Error": "Lambda.TooManyRequestsException",
                "Cause": "Rate Exceeded. (Service: Lambda, Status Code: 429)",
            }
        },
        "executionArn": suite.executions["RetriesExhausted"],
    }
    events = suite.task_events("RetriesExhausted", "ValidateNumber")
    assert [e["type"] for e in events].count("TaskFailed") == 4  # first attempt + 3 retries
    gaps = seconds_between(events, "TaskScheduled")
    assert len(gaps) == 3
    assert gaps[0] >= 0.95 and gaps[1] >= 1.95 and gaps[2] >= 3.95, gaps


def test_sms_unavailable_is_retried(suite: Suite) -> None:
    out = output_of(suite.finished("SmsUnavailableRetried"))
    assert suite.states_entered("SmsUnavailableRetried") == [*ACCEPTED_PATH, "OptIn", "Confirmed"]
    assert out["confirmation"] == YES
    events = suite.task_events("SmsUnavailableRetried", "SendConfirmation")
    failed = [e["taskFailedEventDetails"]["error"] for e in events if e["type"] == "TaskFailed"]
    assert failed == ["SmsUnavailable"]
    # IntervalSeconds 5 with JitterStrategy FULL: somewhere between 0 and 5 s.
    (gap,) = seconds_between(events, "TaskScheduled")
    assert 0 <= gap <= 5.5, gap


def test_undeliverable_fails_the_execution(suite: Suite) -> None:
    desc = suite.finished("Undeliverable")
    assert (desc["status"], desc["error"]) == ("FAILED", "Undeliverable")
    assert "cannot receive texts" in json.loads(desc["cause"])["errorMessage"]
    # SendConfirmation made the contact REJECTED; the catch-all runs and leaves it so.
    assert suite.states_entered("Undeliverable") == [*ACCEPTED_PATH, "CleanUp", "Failed"]
    (caught,) = clean_up_payload(suite, "Undeliverable")["failure"].items()
    assert caught[0] == "SendConfirmation" and caught[1]["Error"] == "Undeliverable"
    assert output_of_state(suite, "Undeliverable", "CleanUp")["cleanUp"]["status"] == "REJECTED"


# ---------------------------------------------------------------- the catch-all


def clean_up_payload(suite: Suite, case: str) -> dict[str, Any]:
    """What CleanUp was invoked with (its first TaskScheduled; a retry sends the same)."""
    scheduled = [e for e in suite.task_events(case, "CleanUp") if e["type"] == "TaskScheduled"]
    assert scheduled, f"{case}: CleanUp was not scheduled"
    return dict(json.loads(scheduled[0]["taskScheduledEventDetails"]["parameters"])["Payload"])


def output_of_state(suite: Suite, case: str, state: str) -> dict[str, Any]:
    for e in suite.history(case):
        details = e.get("stateExitedEventDetails")
        if details and details["name"] == state:
            return dict(json.loads(details["output"]))
    raise AssertionError(f"{case}: {state} never exited")


def test_create_contact_failing_is_cleaned_up_with_retries_on_the_clean_up(suite: Suite) -> None:
    desc = suite.finished("CreateContactFailed")
    assert (desc["status"], desc["error"]) == ("FAILED", "TransitionConflict")
    assert json.loads(desc["cause"])["errorType"] == "TransitionConflict"
    assert suite.states_entered("CreateContactFailed") == [
        "LoadSettings",
        "ValidateNumber",
        "Acceptable?",
        "CreateContact",
        "CleanUp",
        "Failed",
    ]
    payload = clean_up_payload(suite, "CreateContactFailed")
    assert payload["failure"]["CreateContact"]["Error"] == "TransitionConflict"
    assert payload["phoneNumber"] == phone_of("CreateContactFailed")
    events = suite.task_events("CreateContactFailed", "CleanUp")
    failed = [e["taskFailedEventDetails"]["error"] for e in events if e["type"] == "TaskFailed"]
    assert failed == ["Lambda.ServiceException"]  # retried like every other task
    assert [e["type"] for e in events][-1] == "TaskSucceeded"


def test_opt_in_failing_after_the_confirmation_ends_failed_through_the_clean_up(
    suite: Suite,
) -> None:
    desc = suite.finished("OptInFailedAfterConfirmed")
    assert (desc["status"], desc["error"]) == ("FAILED", "TransitionConflict")
    assert suite.states_entered("OptInFailedAfterConfirmed") == [
        *ACCEPTED_PATH,
        "OptIn",
        "CleanUp",
        "Failed",
    ]
    assert list(clean_up_payload(suite, "OptInFailedAfterConfirmed")["failure"]) == ["OptIn"]
    state = output_of_state(suite, "OptInFailedAfterConfirmed", "CleanUp")
    assert state["cleanUp"]["status"] == "CONFIRMED"
    assert state["confirmation"] == YES  # the reply is still in the record


def test_expire_failing_is_cleaned_up(suite: Suite) -> None:
    desc = suite.finished("ExpireFailed")
    assert (desc["status"], desc["error"]) == ("FAILED", "TransitionConflict")
    assert suite.states_entered("ExpireFailed") == [*ACCEPTED_PATH, "Expire", "CleanUp", "Failed"]
    failure = clean_up_payload(suite, "ExpireFailed")["failure"]
    assert list(failure) == ["Expire"]


def test_no_lambda_was_invoked(suite: Suite) -> None:
    for case in CASES:
        suite.finished(case)
    assert suite.lambdas.calls == []
