"""Mocked service integrations (Step Functions Local's MockConfigFile): parsing, validation,
lookup, and how the engine answers Task states from a test case."""

from __future__ import annotations

import json
import pathlib
import time
from collections.abc import Iterator
from typing import Any

import pytest

from local.stepfunctions import StepFunctionsService
from local.stepfunctions.__main__ import mock_config_path
from local.stepfunctions.clock import ManualClock
from local.stepfunctions.errors import ApiError
from local.stepfunctions.mocks import MockConfig, MockConfigError, UnknownTestCase

from .conftest import ROLE, FakeLambdas

LAMBDA = "arn:aws:states:::lambda:invoke"

# AWS's example file from "Using mocked service integrations", abridged.
AWS_EXAMPLE: dict[str, Any] = {
    "StateMachines": {
        "LambdaSQSIntegration": {
            "TestCases": {
                "HappyPath": {"LambdaState": "MockedLambdaSuccess"},
                "RetryPath": {"LambdaState": "MockedLambdaRetry"},
            }
        }
    },
    "MockedResponses": {
        "MockedLambdaSuccess": {
            "0": {"Return": {"StatusCode": 200, "Payload": {"body": "Hello from Lambda!"}}}
        },
        "MockedLambdaRetry": {
            "0": {"Throw": {"Error": "Lambda.ResourceNotReadyException", "Cause": "not ready"}},
            "1-2": {"Throw": {"Error": "Lambda.TimeoutException", "Cause": "Lambda timed out."}},
            "3": {"Return": {"StatusCode": 200, "Payload": {"body": "Hello from Lambda!"}}},
        },
    },
}


# ---------------------------------------------------------------- parsing and lookup


def test_lookup_by_invocation_number_and_range() -> None:
    config = MockConfig(AWS_EXAMPLE)
    look = lambda n: config.lookup("LambdaSQSIntegration", "RetryPath", "LambdaState", n)  # noqa: E731
    assert (look(0).kind, look(0).error) == ("Throw", "Lambda.ResourceNotReadyException")
    assert look(1).error == look(2).error == "Lambda.TimeoutException"
    assert look(3).kind == "Return"
    assert look(3).value == {"StatusCode": 200, "Payload": {"body": "Hello from Lambda!"}}
    assert look(4) is None  # past the last entry: nothing answers (the engine fails the state)
    assert config.lookup("LambdaSQSIntegration", "HappyPath", "SQSState", 0) is None


def test_unknown_machine_and_case_have_clear_messages() -> None:
    config = MockConfig(AWS_EXAMPLE, source="MockConfigFile.json")
    with pytest.raises(UnknownTestCase, match="no test cases for state machine 'Other'"):
        config.test_case("Other", "HappyPath")
    with pytest.raises(UnknownTestCase, match=r"'SadPath' is not defined.*HappyPath, RetryPath"):
        config.test_case("LambdaSQSIntegration", "SadPath")


def test_return_may_be_any_json_value_and_empty_response_is_allowed() -> None:
    config = MockConfig(
        {
            "StateMachines": {"M": {"TestCases": {"C": {"A": "List", "B": "Nothing"}}}},
            "MockedResponses": {"List": {"0": {"Return": [1, "two"]}}, "Nothing": {}},
        }
    )
    assert config.lookup("M", "C", "A", 0).value == [1, "two"]
    assert config.lookup("M", "C", "B", 0) is None


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ([], "must be a JSON object"),
        ({"StateMachines": {}, "MockedResponse": {}}, r"unknown top-level field.*MockedResponse"),
        ({"StateMachines": []}, '"StateMachines" must be an object'),
        ({"StateMachines": {"M": {"Cases": {}}}}, r'\["M"\]: must be an object with one field'),
        ({"StateMachines": {"M": {"TestCases": {"C": {"S": 1}}}}}, "name of a mocked response"),
        (
            {"StateMachines": {"M": {"TestCases": {"C": {"S": "Missing"}}}}},
            "'Missing' is not defined in MockedResponses",
        ),
        ({"MockedResponses": {"R": {"first": {"Return": 1}}}}, "invocation key 'first'"),
        ({"MockedResponses": {"R": {"-1": {"Return": 1}}}}, "invocation key '-1'"),
        ({"MockedResponses": {"R": {"3-1": {"Return": 1}}}}, "ends before it starts"),
        ({"MockedResponses": {"R": {"0": {}}}}, 'exactly one field, "Return" or "Throw"'),
        (
            {"MockedResponses": {"R": {"0": {"Return": 1, "Throw": {}}}}},
            'exactly one field, "Return" or "Throw"',
        ),
        ({"MockedResponses": {"R": {"0": {"Throw": {"Error": "E"}}}}}, '"Error" and "Cause"'),
        (
            {"MockedResponses": {"R": {"0": {"Throw": {"Error": 1, "Cause": ""}}}}},
            "non-empty string",
        ),
        (
            {"MockedResponses": {"R": {"0-2": {"Return": 1}, "2": {"Return": 2}}}},
            "invocation 2 is covered by two entries",
        ),
    ],
)
def test_bad_configurations_are_rejected_with_the_place(doc: Any, message: str) -> None:
    with pytest.raises(MockConfigError, match=message):
        MockConfig(doc)


def test_load_from_file_reports_the_path(tmp_path: pathlib.Path) -> None:
    good = tmp_path / "MockConfigFile.json"
    good.write_text(json.dumps(AWS_EXAMPLE))
    assert "HappyPath" in MockConfig.load(good).test_cases["LambdaSQSIntegration"]
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(MockConfigError, match=r"bad\.json: not valid JSON"):
        MockConfig.load(bad)
    with pytest.raises(MockConfigError, match=r"missing\.json: cannot read"):
        MockConfig.load(tmp_path / "missing.json")
    with pytest.raises(MockConfigError, match=r"bad\.json: not valid JSON"):
        StepFunctionsService(tmp_path / "sfn.db", FakeLambdas(), mock_config=bad)


def test_cli_finds_the_config_like_step_functions_local(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SFN_MOCK_CONFIG", raising=False)
    assert mock_config_path(None) is None
    (tmp_path / "MockConfigFile.json").write_text("{}")
    assert mock_config_path(None) == pathlib.Path("MockConfigFile.json")
    monkeypatch.setenv("SFN_MOCK_CONFIG", "/x/env.json")
    assert mock_config_path(None) == pathlib.Path("/x/env.json")
    assert mock_config_path(pathlib.Path("flag.json")) == pathlib.Path("flag.json")


# ---------------------------------------------------------------- the engine


def task(fn: str, **extra: Any) -> dict[str, Any]:
    return {
        "Type": "Task",
        "Resource": LAMBDA,
        "Parameters": {"FunctionName": fn, "Payload.$": "$"},
        **extra,
    }


MACHINE: dict[str, Any] = {
    "StartAt": "First",
    "States": {
        "First": task(
            "first",
            ResultSelector={"value.$": "$.Payload.value"},
            ResultPath="$.first",
            Retry=[
                {"ErrorEquals": ["Flaky"], "IntervalSeconds": 1, "MaxAttempts": 2, "BackoffRate": 1}
            ],
            Catch=[{"ErrorEquals": ["Caught"], "ResultPath": "$.error", "Next": "Handled"}],
            Next="Second",
        ),
        "Second": task("second", ResultPath="$.second", End=True),
        "Handled": {"Type": "Succeed"},
    },
}

CONFIG: dict[str, Any] = {
    "StateMachines": {
        "m": {
            "TestCases": {
                "Happy": {"First": "Value"},
                "Retried": {"First": "FlakyThenValue"},
                "Caught": {"First": "Caught"},
                "Exhausted": {"First": "AlwaysFlaky"},
                "Gap": {"First": "OnlyFirstFlaky"},
            }
        }
    },
    "MockedResponses": {
        "Value": {"0": {"Return": {"StatusCode": 200, "Payload": {"value": 42}}}},
        "FlakyThenValue": {
            "0-1": {"Throw": {"Error": "Flaky", "Cause": "try again"}},
            "2": {"Return": {"Payload": {"value": 7}}},
        },
        "Caught": {"0": {"Throw": {"Error": "Caught", "Cause": "handled"}}},
        "AlwaysFlaky": {"0-2": {"Throw": {"Error": "Flaky", "Cause": "still"}}},
        "OnlyFirstFlaky": {"0": {"Throw": {"Error": "Flaky", "Cause": "once"}}},
    },
}


@pytest.fixture
def mocked(tmp_path: pathlib.Path) -> Iterator[tuple[StepFunctionsService, FakeLambdas, str]]:
    lambdas = FakeLambdas()
    lambdas.add("second", lambda p: {"real": True})
    # On a ManualClock that `run` moves on: the Retry's 1 s intervals pass without waiting them
    # out in real time (test_engine's backoff tests check the intervals themselves).
    svc = StepFunctionsService(
        tmp_path / "sfn.db", lambdas, mock_config=CONFIG, clock=ManualClock()
    )
    svc.start()
    arn = svc.upsert_state_machine("m", json.dumps(MACHINE), ROLE)
    yield svc, lambdas, arn
    svc.stop()


def run(svc: StepFunctionsService, sm_arn: str, case: str | None) -> dict[str, Any]:
    target = f"{sm_arn}#{case}" if case else sm_arn
    started = svc.start_execution({"stateMachineArn": target, "input": "{}"})
    clock = svc.clock
    if not isinstance(clock, ManualClock):
        return svc.wait_for(started["executionArn"])
    deadline = time.monotonic() + 10
    while (desc := svc.wait_for(started["executionArn"], 0.01))["status"] == "RUNNING":
        assert time.monotonic() < deadline, "still RUNNING"
        clock.advance(1)  # a retry's back-off, due at once
    return desc


def history(svc: StepFunctionsService, arn: str) -> list[dict[str, Any]]:
    return list(svc.get_execution_history({"executionArn": arn})["events"])


def test_return_replaces_the_result_and_unmocked_states_run_for_real(
    mocked: tuple[StepFunctionsService, FakeLambdas, str],
) -> None:
    svc, lambdas, sm = mocked
    desc = run(svc, sm, "Happy")
    assert desc["status"] == "SUCCEEDED", desc
    # The execution ARN keeps AWS's form and the state machine ARN has no suffix.
    assert desc["executionArn"].startswith("arn:aws:states:us-east-1:123456789012:execution:m:")
    assert desc["stateMachineArn"] == sm
    out = json.loads(desc["output"])
    assert out["first"] == {"value": 42}
    assert out["second"]["Payload"] == {"real": True}
    assert [n for n, _ in lambdas.calls] == ["second"]
    types = [e["type"] for e in history(svc, desc["executionArn"])]
    assert types[:6] == [
        "ExecutionStarted",
        "TaskStateEntered",
        "TaskScheduled",
        "TaskStarted",
        "TaskSucceeded",
        "TaskStateExited",
    ]
    succeeded = history(svc, desc["executionArn"])[4]["taskSucceededEventDetails"]
    assert json.loads(succeeded["output"]) == {"StatusCode": 200, "Payload": {"value": 42}}
    assert [
        e["executionArn"] for e in svc.list_executions({"stateMachineArn": sm})["executions"]
    ] == [desc["executionArn"]]


def test_throw_is_retried_with_the_next_invocation_number(
    mocked: tuple[StepFunctionsService, FakeLambdas, str],
) -> None:
    svc, _, sm = mocked
    desc = run(svc, sm, "Retried")
    assert json.loads(desc["output"])["first"] == {"value": 7}
    events = history(svc, desc["executionArn"])
    failed = [e["taskFailedEventDetails"] for e in events if e["type"] == "TaskFailed"]
    assert [(f["error"], f["cause"]) for f in failed] == [("Flaky", "try again")] * 2
    assert [e["type"] for e in events].count("TaskScheduled") == 4  # 3 for First, 1 for Second


def test_throw_is_caught(mocked: tuple[StepFunctionsService, FakeLambdas, str]) -> None:
    svc, lambdas, sm = mocked
    desc = run(svc, sm, "Caught")
    assert desc["status"] == "SUCCEEDED"
    assert json.loads(desc["output"])["error"] == {"Error": "Caught", "Cause": "handled"}
    assert lambdas.calls == []


def test_retries_exhausted_fail_the_execution(
    mocked: tuple[StepFunctionsService, FakeLambdas, str],
) -> None:
    svc, _, sm = mocked
    desc = run(svc, sm, "Exhausted")
    assert (desc["status"], desc["error"], desc["cause"]) == ("FAILED", "Flaky", "still")


def test_an_invocation_without_a_mocked_response_fails_with_states_runtime(
    mocked: tuple[StepFunctionsService, FakeLambdas, str],
) -> None:
    svc, lambdas, sm = mocked
    desc = run(svc, sm, "Gap")
    assert (desc["status"], desc["error"]) == ("FAILED", "States.Runtime")
    assert "invocation 1 of state 'First'" in desc["cause"]
    assert "OnlyFirstFlaky" in desc["cause"]
    assert lambdas.calls == []


def test_without_a_test_case_everything_runs_for_real(
    mocked: tuple[StepFunctionsService, FakeLambdas, str],
) -> None:
    svc, lambdas, sm = mocked
    lambdas.add("first", lambda p: {"value": "real"})
    desc = run(svc, sm, None)
    assert json.loads(desc["output"])["first"] == {"value": "real"}
    assert [n for n, _ in lambdas.calls] == ["first", "second"]


def test_test_case_suffix_on_other_operations(
    mocked: tuple[StepFunctionsService, FakeLambdas, str],
) -> None:
    svc, _, sm = mocked
    desc = run(svc, sm, "Happy")
    assert svc.describe_state_machine({"stateMachineArn": f"{sm}#Happy"})["stateMachineArn"] == sm
    listed = svc.list_executions({"stateMachineArn": f"{sm}#Happy"})["executions"]
    assert [e["executionArn"] for e in listed] == [desc["executionArn"]]
    # An execution ARN built by string replacement from the suffixed ARN finds the execution.
    built = f"{sm}#Happy".replace(":stateMachine:", ":execution:") + ":" + desc["name"]
    assert svc.describe_execution({"executionArn": built})["status"] == "SUCCEEDED"


def test_unknown_test_case_is_a_validation_error(
    mocked: tuple[StepFunctionsService, FakeLambdas, str], tmp_path: pathlib.Path
) -> None:
    svc, _, sm = mocked
    with pytest.raises(ApiError) as e:
        svc.start_execution({"stateMachineArn": f"{sm}#Nope"})
    assert e.value.type_name == "ValidationException"
    assert "Test case 'Nope' is not defined for state machine 'm'" in e.value.message
    with pytest.raises(ApiError) as e:
        svc.start_execution({"stateMachineArn": f"{sm}#"})
    assert e.value.type_name == "InvalidArn"
    with pytest.raises(ApiError) as e:
        svc.start_execution({"stateMachineArn": sm.replace(":m", ":gone") + "#Happy"})
    assert e.value.type_name == "StateMachineDoesNotExist"
    plain = StepFunctionsService(tmp_path / "plain.db", FakeLambdas())
    plain.upsert_state_machine("m", json.dumps(MACHINE), ROLE)
    try:
        with pytest.raises(ApiError, match="no mock configuration is loaded"):
            plain.start_execution({"stateMachineArn": f"{sm}#Happy"})
    finally:
        plain.stop()


def test_mocked_callback_task_returns_without_waiting(tmp_path: pathlib.Path) -> None:
    definition = {
        "StartAt": "Wait",
        "States": {
            "Wait": {
                "Type": "Task",
                "Resource": LAMBDA + ".waitForTaskToken",
                "Parameters": {"FunctionName": "f", "Payload": {"token.$": "$$.Task.Token"}},
                "TimeoutSeconds": 3600,
                "Catch": [{"ErrorEquals": ["States.Timeout"], "Next": "TimedOut"}],
                "End": True,
            },
            "TimedOut": {"Type": "Pass", "Result": "timed out", "End": True},
        },
    }
    config = {
        "StateMachines": {"cb": {"TestCases": {"Yes": {"Wait": "Y"}, "Late": {"Wait": "T"}}}},
        "MockedResponses": {
            "Y": {"0": {"Return": {"reply": "YES"}}},
            "T": {"0": {"Throw": {"Error": "States.Timeout", "Cause": "window closed"}}},
        },
    }
    svc = StepFunctionsService(tmp_path / "sfn.db", FakeLambdas(), mock_config=config)
    svc.start()
    try:
        sm = svc.upsert_state_machine("cb", json.dumps(definition), ROLE)
        yes = run(svc, sm, "Yes")
        assert json.loads(yes["output"]) == {"reply": "YES"}
        types = [e["type"] for e in history(svc, yes["executionArn"])]
        assert "TaskSubmitted" not in types
        assert types[2:5] == ["TaskScheduled", "TaskStarted", "TaskSucceeded"]
        late = run(svc, sm, "Late")
        assert json.loads(late["output"]) == "timed out"
    finally:
        svc.stop()
