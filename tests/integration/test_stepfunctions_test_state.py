"""TestState through boto3 against the standalone server: one state run on its own, each
inspection level, mocks, Retry/Catch outcomes, a whole machine with stateName, bad requests."""

from __future__ import annotations

import json
import pathlib
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from local.stepfunctions.invoker import LambdaFunctionError, LambdaServiceError
from local.stepfunctions.server import Server
from tests.support.stepfunctions import engine_client
from tests.support.stepfunctions import error_code as code

ROLE = "arn:aws:iam::123456789012:role/test"
LAMBDA = "arn:aws:states:::lambda:invoke"


class Functions:
    """Lambda functions for Task states that TestState calls for real (no mock)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def invoke(self, function_name: str, payload: Any) -> Any:
        self.calls.append((function_name, payload))
        if function_name == "Echo":
            return {"echo": payload}
        if function_name == "Boom":
            raise LambdaFunctionError("ValueError", "bad number")
        raise LambdaServiceError("Lambda.ResourceNotFoundException", f"no {function_name}")


@pytest.fixture(scope="module")
def functions() -> Functions:
    return Functions()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, functions: Functions) -> Iterator[Server]:
    db = pathlib.Path(tmp_path_factory.mktemp("sfn-test-state")) / "sfn.db"
    srv = Server(db, port=0, invoker=functions).start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def sfn(server: Server) -> Any:
    # TestState has botocore's hostPrefix "sync-": against a local endpoint it must be off.
    return engine_client(server.url, inject_host_prefix=False)


def run(sfn: Any, state: dict[str, Any], input_: Any = None, **extra: Any) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"definition": json.dumps(state), **extra}
    if input_ is not None:
        kwargs["input"] = json.dumps(input_)
    out = dict(sfn.test_state(**kwargs))
    out.pop("ResponseMetadata", None)
    return out


# ------------------------------------------------------------------ reaching the engine


def test_the_host_prefix_must_be_off_for_a_local_endpoint(server: Server) -> None:
    state = json.dumps({"Type": "Pass", "End": True})
    # boto3's default sends TestState to http://sync-127.0.0.1:PORT, a name that resolves nowhere
    with pytest.raises(EndpointConnectionError) as e:
        engine_client(server.url).test_state(definition=state)
    assert "sync-127.0.0.1" in str(e.value)
    for url in (server.url, server.url.replace("127.0.0.1", "localhost")):
        answer = engine_client(url, inject_host_prefix=False).test_state(definition=state)
        assert answer["status"] == "SUCCEEDED"


def test_the_environment_variable_turns_the_host_prefix_off(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_DISABLE_HOST_PREFIX_INJECTION", "true")
    answer = engine_client(server.url).test_state(
        definition=json.dumps({"Type": "Pass", "End": True})
    )
    assert answer["status"] == "SUCCEEDED"


# ------------------------------------------------------------------ INFO


def test_pass_info_gives_status_output_and_next_state(sfn: Any) -> None:
    state = {"Type": "Pass", "Parameters": {"n.$": "$.x"}, "ResultPath": "$.r", "Next": "After"}
    out = run(sfn, state, {"x": 7})
    assert out == {"status": "SUCCEEDED", "output": '{"x":7,"r":{"n":7}}', "nextState": "After"}


def test_a_state_that_ends_the_machine_has_no_next_state(sfn: Any) -> None:
    out = run(sfn, {"Type": "Succeed", "OutputPath": "$.a"}, {"a": [1]})
    assert out == {"status": "SUCCEEDED", "output": "[1]"}


def test_choice_names_the_next_state(sfn: Any) -> None:
    state = {
        "Type": "Choice",
        "Choices": [{"Variable": "$.n", "NumericGreaterThan": 10, "Next": "Big"}],
        "Default": "Small",
    }
    assert run(sfn, state, {"n": 11})["nextState"] == "Big"
    assert run(sfn, state, {"n": 1})["nextState"] == "Small"
    no_default = {k: v for k, v in state.items() if k != "Default"}
    out = run(sfn, no_default, {"n": 1})
    assert out["status"] == "FAILED"
    assert out["error"] == "States.NoChoiceMatched"


def test_wait_answers_at_once_with_its_output(sfn: Any) -> None:
    state = {"Type": "Wait", "Seconds": 3600, "OutputPath": "$.keep", "Next": "N"}
    out = run(sfn, state, {"keep": {"k": 1}, "drop": 2})
    assert out == {"status": "SUCCEEDED", "output": '{"k":1}', "nextState": "N"}


def test_fail_state_reports_its_error_and_cause(sfn: Any) -> None:
    state = {"Type": "Fail", "ErrorPath": "$.e", "Cause": "because"}
    out = run(sfn, state, {"e": "Custom.Error"})
    assert out == {"status": "FAILED", "error": "Custom.Error", "cause": "because"}


def test_jsonata_state_with_variables(sfn: Any) -> None:
    state = {
        "Type": "Pass",
        "QueryLanguage": "JSONata",
        "Output": "{% {'sum': $states.input.a + $base} %}",
        "Assign": {"seen": "{% $states.input.a %}"},
        "End": True,
    }
    out = run(sfn, state, {"a": 2}, variables=json.dumps({"base": 40}), inspectionLevel="DEBUG")
    assert out["status"] == "SUCCEEDED"
    assert json.loads(out["output"]) == {"sum": 42}
    assert json.loads(out["inspectionData"]["variables"]) == {"base": 40, "seen": 2}
    assert "afterInputPath" not in out["inspectionData"]


def test_a_path_error_fails_the_state(sfn: Any) -> None:
    out = run(sfn, {"Type": "Pass", "InputPath": "$.missing", "End": True}, {"a": 1})
    assert out["status"] == "FAILED"
    assert out["error"] == "States.Runtime"


# ------------------------------------------------------------------ DEBUG and TRACE


def test_debug_shows_every_data_processing_step_of_a_task(sfn: Any) -> None:
    state = {
        "Type": "Task",
        "Resource": LAMBDA,
        "InputPath": "$.order",
        "Parameters": {"FunctionName": "F", "Payload": {"id.$": "$.id"}},
        "ResultSelector": {"total.$": "$.Payload.total"},
        "ResultPath": "$.priced",
        "OutputPath": "$.priced",
        "Next": "Ship",
    }
    mocked = {"Payload": {"total": 12}, "StatusCode": 200}
    out = run(
        sfn,
        state,
        {"order": {"id": "o-1"}},
        inspectionLevel="DEBUG",
        mock={"result": json.dumps(mocked)},
    )
    data = out["inspectionData"]
    assert json.loads(data["input"]) == {"order": {"id": "o-1"}}
    assert json.loads(data["afterInputPath"]) == {"id": "o-1"}
    assert json.loads(data["afterParameters"]) == {"FunctionName": "F", "Payload": {"id": "o-1"}}
    assert json.loads(data["result"]) == mocked
    assert json.loads(data["afterResultSelector"]) == {"total": 12}
    assert json.loads(data["afterResultPath"]) == {"order": {"id": "o-1"}, "priced": {"total": 12}}
    assert out["output"] == '{"total":12}'
    assert out["nextState"] == "Ship"


def test_info_has_no_inspection_data_and_trace_has_what_debug_has(sfn: Any) -> None:
    state = {"Type": "Pass", "Result": {"r": 1}, "Next": "N"}
    assert "inspectionData" not in run(sfn, state)
    debug = run(sfn, state, inspectionLevel="DEBUG")["inspectionData"]
    trace = run(sfn, state, inspectionLevel="TRACE")["inspectionData"]
    assert debug == trace
    assert json.loads(debug["result"]) == {"r": 1}
    assert "request" not in trace  # no HTTP Task support, so no HTTP request to show


def test_jsonata_task_debug_shows_arguments(sfn: Any) -> None:
    state = {
        "Type": "Task",
        "QueryLanguage": "JSONata",
        "Resource": LAMBDA,
        "Arguments": {"FunctionName": "F", "Payload": "{% $states.input.v * 2 %}"},
        "Output": "{% $states.result.Payload %}",
        "End": True,
    }
    out = run(sfn, state, {"v": 4}, inspectionLevel="DEBUG", mock={"result": '{"Payload": "done"}'})
    assert json.loads(out["inspectionData"]["afterArguments"]) == {
        "FunctionName": "F",
        "Payload": 8,
    }
    assert out["output"] == '"done"'


# ------------------------------------------------------------------ Tasks: real calls and mocks


def test_an_unmocked_lambda_task_calls_the_function(sfn: Any, functions: Functions) -> None:
    state = {
        "Type": "Task",
        "Resource": LAMBDA,
        "Parameters": {"FunctionName": "Echo", "Payload": {"v.$": "$.v"}},
        "OutputPath": "$.Payload",
        "End": True,
    }
    out = run(sfn, state, {"v": 5})
    assert out == {"status": "SUCCEEDED", "output": '{"echo":{"v":5}}'}
    assert ("Echo", {"v": 5}) in functions.calls


def test_a_mocked_task_calls_nothing(sfn: Any, functions: Functions) -> None:
    before = len(functions.calls)
    state = {"Type": "Task", "Resource": LAMBDA, "Parameters": {"FunctionName": "Echo"}}
    state["End"] = True
    out = run(sfn, state, mock={"result": '{"Payload": 1}', "fieldValidationMode": "NONE"})
    assert out["output"] == '{"Payload":1}'
    assert len(functions.calls) == before


def test_a_failing_function_without_retry_or_catch_fails(sfn: Any) -> None:
    state = {"Type": "Task", "Resource": LAMBDA, "Parameters": {"FunctionName": "Boom"}}
    state["End"] = True
    out = run(sfn, state)
    assert out["status"] == "FAILED"
    assert out["error"] == "ValueError"
    assert json.loads(out["cause"])["errorMessage"] == "bad number"


def test_an_unmocked_task_of_another_service_fails_with_states_runtime(sfn: Any) -> None:
    state = {"Type": "Task", "Resource": "arn:aws:states:::dynamodb:putItem", "End": True}
    out = run(sfn, state)
    assert (out["status"], out["error"]) == ("FAILED", "States.Runtime")
    mocked = run(sfn, state, mock={"result": '{"ok": true}'})
    assert mocked == {"status": "SUCCEEDED", "output": '{"ok":true}'}


RETRY_CATCH = {
    "Type": "Task",
    "Resource": LAMBDA,
    "Parameters": {"FunctionName": "F"},
    "Retry": [
        {"ErrorEquals": ["Other"], "MaxAttempts": 5},
        {"ErrorEquals": ["Flaky"], "IntervalSeconds": 2, "BackoffRate": 3, "MaxAttempts": 2},
    ],
    "Catch": [
        {"ErrorEquals": ["Nope"], "Next": "Never"},
        {"ErrorEquals": ["States.ALL"], "ResultPath": "$.err", "Next": "Recover"},
    ],
    "Next": "Done",
}


def flaky(cause: str = "try later") -> dict[str, Any]:
    return {"errorOutput": {"error": "Flaky", "cause": cause}}


def test_a_retrier_with_attempts_left_is_retriable(sfn: Any) -> None:
    out = run(sfn, RETRY_CATCH, {"a": 1}, mock=flaky(), inspectionLevel="DEBUG")
    assert out["status"] == "RETRIABLE"
    assert (out["error"], out["cause"]) == ("Flaky", "try later")
    assert "output" not in out and "nextState" not in out
    assert out["inspectionData"]["errorDetails"] == {
        "retryIndex": 1,
        "retryBackoffIntervalSeconds": 2,
    }
    second = run(
        sfn,
        RETRY_CATCH,
        mock=flaky(),
        inspectionLevel="DEBUG",
        stateConfiguration={"retrierRetryCount": 1},
    )
    assert second["inspectionData"]["errorDetails"]["retryBackoffIntervalSeconds"] == 6


def test_an_exhausted_retrier_hands_the_error_to_catch(sfn: Any) -> None:
    out = run(
        sfn,
        RETRY_CATCH,
        {"a": 1},
        mock=flaky(),
        inspectionLevel="DEBUG",
        stateConfiguration={"retrierRetryCount": 2},
    )
    assert out["status"] == "CAUGHT_ERROR"
    assert out["nextState"] == "Recover"
    assert json.loads(out["output"]) == {"a": 1, "err": {"Error": "Flaky", "Cause": "try later"}}
    assert (out["error"], out["cause"]) == ("Flaky", "try later")
    assert out["inspectionData"]["errorDetails"] == {"catchIndex": 1}


def test_an_error_nothing_handles_fails(sfn: Any) -> None:
    state = {k: v for k, v in RETRY_CATCH.items() if k != "Catch"}
    out = run(sfn, state, mock=flaky(), stateConfiguration={"retrierRetryCount": 2})
    assert out["status"] == "FAILED"
    assert out["error"] == "Flaky"


def test_states_all_does_not_catch_states_runtime(sfn: Any) -> None:
    out = run(sfn, RETRY_CATCH, mock={"errorOutput": {"error": "States.Runtime"}})
    assert out["status"] == "FAILED"
    assert "cause" not in out


def test_a_real_call_failure_goes_through_retry_and_catch(sfn: Any) -> None:
    state = json.loads(json.dumps(RETRY_CATCH))
    state["Parameters"]["FunctionName"] = "Boom"
    out = run(sfn, state)
    assert out["status"] == "CAUGHT_ERROR"
    assert out["error"] == "ValueError"


def test_the_context_object_can_be_given_with_a_mock(sfn: Any) -> None:
    state = {
        "Type": "Task",
        "Resource": LAMBDA,
        "Parameters": {"FunctionName": "F", "Payload": {"exec.$": "$$.Execution.Name"}},
        "End": True,
    }
    context = json.dumps({"Execution": {"Name": "from-test"}})
    out = run(sfn, state, mock={"result": "{}"}, context=context, inspectionLevel="DEBUG")
    params = json.loads(out["inspectionData"]["afterParameters"])
    assert params["Payload"] == {"exec": "from-test"}


def test_a_mocked_callback_task_sees_a_task_token(sfn: Any) -> None:
    state = {
        "Type": "Task",
        "Resource": LAMBDA + ".waitForTaskToken",
        "Parameters": {"FunctionName": "F", "Payload": {"token.$": "$$.Task.Token"}},
        "End": True,
    }
    out = run(sfn, state, mock={"result": '{"reply": "YES"}'}, inspectionLevel="DEBUG")
    params = json.loads(out["inspectionData"]["afterParameters"])
    assert params["Payload"]["token"].startswith("AQB")
    assert out["output"] == '{"reply":"YES"}'


# ------------------------------------------------------------------ Map and Parallel


MAP = {
    "Type": "Map",
    "ItemsPath": "$.items",
    "ItemSelector": {"value.$": "$$.Map.Item.Value", "index.$": "$$.Map.Item.Index"},
    "MaxConcurrency": 2,
    "ToleratedFailureCount": 1,
    "ItemProcessor": {
        "ProcessorConfig": {"Mode": "INLINE"},
        "StartAt": "Inner",
        "States": {"Inner": {"Type": "Pass", "End": True}},
    },
    "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Failed"}],
    "ResultPath": "$.results",
    "Next": "After",
}


def test_a_mocked_map_shows_its_items_and_shapes_the_mocked_result(sfn: Any) -> None:
    out = run(
        sfn,
        MAP,
        {"items": ["a", "b"]},
        mock={"result": '["A", "B"]'},
        inspectionLevel="DEBUG",
    )
    data = out["inspectionData"]
    assert json.loads(data["afterItemsPath"]) == ["a", "b"]
    assert json.loads(data["afterItemSelector"]) == [
        {"value": "a", "index": 0},
        {"value": "b", "index": 1},
    ]
    assert (data["maxConcurrency"], data["toleratedFailureCount"]) == (2, 1)
    assert json.loads(out["output"]) == {"items": ["a", "b"], "results": ["A", "B"]}
    assert out["nextState"] == "After"


def test_map_iteration_failures_beyond_the_tolerance_fail_the_map(sfn: Any) -> None:
    def failures(n: int) -> dict[str, Any]:
        config = {"mapIterationFailureCount": n}
        return run(sfn, MAP, {"items": [1, 2]}, mock={"result": "[]"}, stateConfiguration=config)

    assert failures(1)["status"] == "SUCCEEDED"  # ToleratedFailureCount 1
    beyond = failures(2)
    assert beyond["status"] == "CAUGHT_ERROR"
    assert beyond["error"] == "States.ExceedToleratedFailureThreshold"
    assert beyond["nextState"] == "Failed"


def test_a_mocked_parallel_error_from_a_branch_state(sfn: Any) -> None:
    state = {
        "Type": "Parallel",
        "Branches": [{"StartAt": "B", "States": {"B": {"Type": "Pass", "End": True}}}],
        "End": True,
    }
    out = run(
        sfn,
        state,
        mock={"errorOutput": {"error": "Boom", "cause": "in B"}},
        stateConfiguration={"errorCausedByState": "B"},
    )
    assert out == {"status": "FAILED", "error": "Boom", "cause": "in B"}
    with pytest.raises(ClientError) as e:
        run(
            sfn,
            state,
            mock={"errorOutput": {"error": "Boom"}},
            stateConfiguration={"errorCausedByState": "Nowhere"},
        )
    assert code(e) == "ValidationException"


# ------------------------------------------------------------------ a state of a whole machine


def test_state_name_tests_one_state_of_a_machine(sfn: Any) -> None:
    machine = {
        "StartAt": "First",
        "States": {
            "First": {"Type": "Pass", "Next": "Second"},
            "Second": {"Type": "Pass", "Result": "two", "End": True},
        },
    }
    out = run(sfn, machine, stateName="Second", roleArn=ROLE)
    assert out == {"status": "SUCCEEDED", "output": '"two"'}
    with pytest.raises(ClientError) as e:
        run(sfn, machine, stateName="Third")
    assert code(e) == "ValidationException"
    with pytest.raises(ClientError) as e:
        run(sfn, machine)  # a whole machine needs stateName
    assert code(e) == "ValidationException"


def test_nothing_is_persisted(sfn: Any) -> None:
    run(sfn, {"Type": "Pass", "End": True})
    assert sfn.list_state_machines()["stateMachines"] == []


# ------------------------------------------------------------------ bad requests


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"definition": "{not json"}, "InvalidDefinition"),
        ({"definition": json.dumps({"Type": "Nope", "End": True})}, "InvalidDefinition"),
        (
            {"definition": json.dumps({"Type": "Pass", "Next": "X", "End": True})},
            "InvalidDefinition",
        ),
        (
            {"definition": json.dumps({"StartAt": "A", "States": {}}), "stateName": "A"},
            "InvalidDefinition",
        ),
        (
            {"definition": json.dumps({"Type": "Pass", "End": True}), "input": "{x"},
            "InvalidExecutionInput",
        ),
        (
            {"definition": json.dumps({"Type": "Pass", "End": True}), "roleArn": "nope"},
            "InvalidArn",
        ),
        (
            {"definition": json.dumps({"Type": "Pass", "End": True}), "variables": "[1]"},
            "ValidationException",
        ),
        (
            {"definition": json.dumps({"Type": "Pass", "End": True}), "mock": {"result": "{}"}},
            "ValidationException",
        ),
        (
            {"definition": json.dumps({"Type": "Pass", "End": True}), "context": "{}"},
            "ValidationException",
        ),
        (
            {
                "definition": json.dumps({"Type": "Task", "Resource": LAMBDA, "End": True}),
                "mock": {"result": "{}", "errorOutput": {"error": "E"}},
            },
            "ValidationException",
        ),
        (
            {
                "definition": json.dumps({"Type": "Task", "Resource": LAMBDA, "End": True}),
                "mock": {"result": "{oops"},
            },
            "ValidationException",
        ),
        ({"definition": json.dumps(MAP)}, "ValidationException"),
        (
            {
                "definition": json.dumps(
                    {"Type": "Task", "Resource": LAMBDA + ".waitForTaskToken", "End": True}
                )
            },
            "ValidationException",
        ),
    ],
)
def test_bad_requests_get_aws_errors(sfn: Any, kwargs: dict[str, Any], error: str) -> None:
    with pytest.raises(ClientError) as e:
        sfn.test_state(**kwargs)
    assert code(e) == error
