"""Engine behaviour: data flow, Retry/Catch timing, timeouts, callbacks, Parallel and Map."""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from local.stepfunctions import LambdaFunctionError
from local.stepfunctions.clock import ManualClock
from local.stepfunctions.errors import ApiError

from .conftest import FakeLambdas, Harness, output

LAMBDA = "arn:aws:states:::lambda:invoke"


def task(fn: str, **extra: Any) -> dict[str, Any]:
    return {
        "Type": "Task",
        "Resource": LAMBDA,
        "Parameters": {"FunctionName": fn, "Payload.$": "$"},
        **extra,
    }


def test_paths_and_result_handling(harness: Harness) -> None:
    definition = {
        "StartAt": "A",
        "States": {
            "A": {
                "Type": "Pass",
                "InputPath": "$.in",
                "Parameters": {"x.$": "$.x", "ctx.$": "$$.State.Name", "lit": [1]},
                "ResultPath": "$.deep.result",
                "OutputPath": "$.deep",
                "Next": "B",
            },
            "B": {"Type": "Pass", "ResultPath": None, "Result": "ignored", "End": True},
        },
    }
    out = output(harness.run(definition, {"in": {"x": 7}}))
    assert out == {"result": {"x": 7, "ctx": "A", "lit": [1]}}


def test_bad_input_path_is_states_runtime(harness: Harness) -> None:
    definition = {
        "StartAt": "P",
        "States": {"P": {"Type": "Pass", "InputPath": "$.nope", "End": True}},
    }
    desc = harness.run(definition)
    assert desc["error"] == "States.Runtime"
    assert desc["cause"] == (
        "An error occurred while executing the state 'P' (entered at the event id #2). "
        "Invalid path '$.nope' : No results for path: $['nope']"
    )


def test_lambda_invoke_result_shape_and_selector(harness: Harness, lambdas: FakeLambdas) -> None:
    lambdas.add("Echo", lambda p: {"got": p})
    definition = {
        "StartAt": "T",
        "States": {
            "T": task(
                "Echo", ResultSelector={"p.$": "$.Payload", "code.$": "$.StatusCode"}, End=True
            )
        },
    }
    assert output(harness.run(definition, {"a": 1})) == {"p": {"got": {"a": 1}}, "code": 200}
    raw = output(harness.run({"StartAt": "T", "States": {"T": task("Echo", End=True)}}, {"b": 2}))
    assert raw["ExecutedVersion"] == "$LATEST" and raw["Payload"] == {"got": {"b": 2}}
    assert set(raw) == {
        "ExecutedVersion",
        "Payload",
        "SdkHttpMetadata",
        "SdkResponseMetadata",
        "StatusCode",
    }


def test_direct_lambda_arn_and_history(harness: Harness, lambdas: FakeLambdas) -> None:
    lambdas.add("Fn", lambda p: p["n"] + 1)
    arn_fn = "arn:aws:lambda:us-east-1:123456789012:function:Fn"
    sm = harness.machine(
        {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": arn_fn, "End": True}}}
    )
    arn = harness.start(sm, {"n": 1})
    assert output(harness.svc.wait_for(arn)) == 2
    types = [e["type"] for e in harness.history(arn)]
    assert types == [
        "ExecutionStarted",
        "TaskStateEntered",
        "LambdaFunctionScheduled",
        "LambdaFunctionStarted",
        "LambdaFunctionSucceeded",
        "TaskStateExited",
        "ExecutionSucceeded",
    ]


def test_retry_backoff_then_catch(timed: Harness, lambdas: FakeLambdas, clock: ManualClock) -> None:
    times: list[float] = []

    def failing(p: Any) -> Any:
        times.append(clock.now())
        raise LambdaFunctionError("Boom", "always", [])

    lambdas.add("Fail", failing)
    definition = {
        "StartAt": "T",
        "States": {
            "T": task(
                "Fail",
                Retry=[
                    {
                        "ErrorEquals": ["Boom"],
                        "IntervalSeconds": 1,
                        "MaxAttempts": 2,
                        "BackoffRate": 3,
                    }
                ],
                Catch=[{"ErrorEquals": ["States.ALL"], "ResultPath": "$.err", "Next": "Caught"}],
                Next="Never",
            ),
            "Never": {"Type": "Succeed"},
            "Caught": {"Type": "Pass", "End": True},
        },
    }
    arn = timed.start(timed.machine(definition), {"k": 1})
    for attempt, delay in enumerate((1.0, 3.0), start=1):  # 1 s, then 1 s × 3^1
        wait_until(lambda: timed.history(arn)[-1]["type"] == "TaskFailed")
        clock.advance(delay - 0.01)
        timed.svc.scheduler.fire_due_timers()
        assert len(times) == attempt  # not retried before its back-off is over
        clock.advance(0.01)
        wait_until(lambda n=attempt: len(times) == n + 1)
    out = output(timed.svc.wait_for(arn))
    assert out["k"] == 1 and out["err"]["Error"] == "Boom"
    assert [round(later - earlier, 2) for earlier, later in itertools.pairwise(times)] == [1, 3]


def run_moving_the_clock(timed: Harness, clock: ManualClock, definition: dict[str, Any]) -> Any:
    """Runs to the end, moving the clock a second at a time: back-offs pass at once."""
    arn = timed.start(timed.machine(definition))
    deadline = time.monotonic() + 10
    while (desc := timed.svc.wait_for(arn, 0.01))["status"] == "RUNNING":
        assert time.monotonic() < deadline, "still RUNNING"
        clock.advance(1)
    return desc


def test_max_attempts_zero_and_retry_count(
    timed: Harness, lambdas: FakeLambdas, clock: ManualClock
) -> None:
    seen: list[int] = []

    def fn(p: Any) -> Any:
        seen.append(p["retry"])
        if len(seen) < 3:
            raise LambdaFunctionError("Flaky", "x", [])
        return "ok"

    lambdas.add("F", fn)
    definition = {
        "StartAt": "T",
        "States": {
            "T": {
                "Type": "Task",
                "Resource": LAMBDA,
                "Parameters": {"FunctionName": "F", "Payload": {"retry.$": "$$.State.RetryCount"}},
                "Retry": [
                    {"ErrorEquals": ["Other"], "MaxAttempts": 0},
                    {
                        "ErrorEquals": ["States.TaskFailed"],
                        "IntervalSeconds": 1,
                        "MaxAttempts": 5,
                        "BackoffRate": 1,
                    },
                ],
                "OutputPath": "$.Payload",
                "End": True,
            }
        },
    }
    assert output(run_moving_the_clock(timed, clock, definition)) == "ok"
    assert seen == [0, 1, 2]
    lambdas.add("G", lambda p: (_ for _ in ()).throw(LambdaFunctionError("Other", "x", [])))
    definition["States"]["T"]["Parameters"]["FunctionName"] = "G"
    assert run_moving_the_clock(timed, clock, definition)["error"] == "Other"


def wait_until(condition: Callable[[], object], timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def test_task_timeout_on_slow_lambda(
    timed: Harness, lambdas: FakeLambdas, clock: ManualClock
) -> None:
    release, called = threading.Event(), threading.Event()

    def slow(p: Any) -> Any:
        called.set()
        return release.wait(5) and "late"

    lambdas.add("Slow", slow)
    definition = {"StartAt": "T", "States": {"T": task("Slow", TimeoutSeconds=1, End=True)}}
    arn = timed.start(timed.machine(definition))
    assert called.wait(5)
    clock.advance(0.9)
    timed.svc.scheduler.fire_due_timers()
    assert timed.svc.describe_execution({"executionArn": arn})["status"] == "RUNNING"
    clock.advance(0.2)
    desc = timed.svc.wait_for(arn, timeout=5)
    release.set()
    assert desc["status"] == "FAILED" and desc["error"] == "States.Timeout"


def test_heartbeat_timeout_and_heartbeat(
    timed: Harness, lambdas: FakeLambdas, clock: ManualClock
) -> None:
    tokens: list[str] = []
    lambdas.add("Cb", lambda p: tokens.append(p["t"]))
    definition = {
        "StartAt": "T",
        "States": {
            "T": {
                "Type": "Task",
                "Resource": LAMBDA + ".waitForTaskToken",
                "Parameters": {"FunctionName": "Cb", "Payload": {"t.$": "$$.Task.Token"}},
                "HeartbeatSeconds": 1,
                "End": True,
            }
        },
    }
    arn = timed.start(timed.machine(definition))
    wait_until(lambda: tokens)
    for _ in range(4):  # keep it alive past its heartbeat interval: 1.6 s in all
        clock.advance(0.4)
        timed.svc.scheduler.fire_due_timers()
        # a heartbeat timer that had fired would have timed the token out: TaskTimedOut
        timed.svc.send_task_heartbeat({"taskToken": tokens[0]})
    assert timed.svc.describe_execution({"executionArn": arn})["status"] == "RUNNING"
    clock.advance(1.0)
    desc = timed.svc.wait_for(arn, timeout=5)
    assert desc["error"] == "States.HeartbeatTimeout"
    with pytest.raises(ApiError) as e:
        timed.svc.send_task_heartbeat({"taskToken": tokens[0]})
    assert e.value.type_name == "TaskTimedOut"


def test_callback_failure_and_token_errors(harness: Harness, lambdas: FakeLambdas) -> None:
    tokens: list[str] = []
    lambdas.add("Cb", lambda p: tokens.append(p["t"]))
    definition = {
        "StartAt": "T",
        "States": {
            "T": {
                "Type": "Task",
                "Resource": LAMBDA + ".waitForTaskToken",
                "Parameters": {"FunctionName": "Cb", "Payload": {"t.$": "$$.Task.Token"}},
                "End": True,
            }
        },
    }
    arn = harness.start(harness.machine(definition))
    deadline = time.monotonic() + 5
    while not tokens and time.monotonic() < deadline:
        time.sleep(0.01)
    with pytest.raises(ApiError) as e:
        harness.svc.send_task_success({"taskToken": tokens[0], "output": "{not json"})
    assert e.value.type_name == "InvalidOutput"
    harness.svc.send_task_failure({"taskToken": tokens[0], "error": "Nope", "cause": "because"})
    desc = harness.svc.wait_for(arn)
    assert (desc["error"], desc["cause"]) == ("Nope", "because")
    with pytest.raises(ApiError) as e:
        harness.svc.send_task_success({"taskToken": tokens[0], "output": "{}"})
    assert e.value.type_name == "TaskTimedOut"
    forged = tokens[0][:-6] + "AAAAAA"
    with pytest.raises(ApiError) as e:
        harness.svc.send_task_success({"taskToken": "x" + forged, "output": "{}"})
    assert e.value.type_name == "InvalidToken"


def test_execution_timeout(timed: Harness, clock: ManualClock) -> None:
    definition = {
        "TimeoutSeconds": 1,
        "StartAt": "W",
        "States": {"W": {"Type": "Wait", "Seconds": 30, "End": True}},
    }
    arn = timed.start(timed.machine(definition))
    wait_until(lambda: any(e["type"] == "WaitStateEntered" for e in timed.history(arn)))
    clock.advance(0.9)
    timed.svc.scheduler.fire_due_timers()
    assert timed.svc.describe_execution({"executionArn": arn})["status"] == "RUNNING"
    clock.advance(0.1)
    desc = timed.svc.wait_for(arn, timeout=5)
    assert desc["status"] == "TIMED_OUT"


def test_wait_timestamp_path_and_seconds(harness: Harness) -> None:
    definition = {
        "StartAt": "W1",
        "States": {
            "W1": {"Type": "Wait", "SecondsPath": "$.s", "Next": "W2"},
            "W2": {"Type": "Wait", "TimestampPath": "$.ts", "End": True},
        },
    }
    data = {"s": 0, "ts": "2001-01-01T00:00:00Z"}
    assert output(harness.run(definition, data)) == data
    desc = harness.run(definition, {"s": -1, "ts": "x"})
    assert desc["error"] == "States.Runtime" and "negative" in desc["cause"]


def test_fail_and_choice(harness: Harness) -> None:
    definition = {
        "StartAt": "C",
        "States": {
            "C": {
                "Type": "Choice",
                "Choices": [
                    {"Not": {"Variable": "$.n", "IsPresent": True}, "Next": "Missing"},
                    {"Variable": "$.n", "NumericGreaterThan": 10, "Next": "Big"},
                ],
                "Default": "Small",
            },
            "Big": {"Type": "Succeed"},
            "Missing": {"Type": "Fail", "Error": "Missing", "Cause": "no n"},
            "Small": {
                "Type": "Fail",
                "ErrorPath": "$.e",
                "CausePath": "States.Format('n={}', $.n)",
            },
        },
    }
    assert harness.run(definition, {"n": 11})["status"] == "SUCCEEDED"
    assert harness.run(definition, {})["error"] == "Missing"
    desc = harness.run(definition, {"n": 1, "e": "Tiny"})
    assert (desc["error"], desc["cause"]) == ("Tiny", "n=1")
    no_default = {"StartAt": "C", "States": {"C": {**definition["States"]["C"], "Default": None}}}
    del no_default["States"]["C"]["Default"]
    # without the Default, Small is unreachable, which AWS refuses: it goes too
    no_default["States"].update(
        {k: v for k, v in definition["States"].items() if k not in ("C", "Small")}
    )
    assert harness.run(no_default, {"n": 1})["error"] == "States.NoChoiceMatched"
    # a comparison on a missing variable is a runtime error, as on AWS
    missing = {
        "StartAt": "C",
        "States": {
            "C": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.n", "NumericEquals": 1, "Next": "Big"}],
                "Default": "Big",
            },
            "Big": {"Type": "Succeed"},
        },
    }
    assert harness.run(missing, {})["error"] == "States.Runtime"


def test_parallel_and_map(harness: Harness, lambdas: FakeLambdas) -> None:
    lambdas.add("Double", lambda p: p * 2)
    definition = {
        "StartAt": "P",
        "States": {
            "P": {
                "Type": "Parallel",
                "Branches": [
                    {"StartAt": "A", "States": {"A": {"Type": "Pass", "Result": "a", "End": True}}},
                    {
                        "StartAt": "M",
                        "States": {
                            "M": {
                                "Type": "Map",
                                "ItemsPath": "$.items",
                                "MaxConcurrency": 2,
                                "ItemSelector": {
                                    "v.$": "$$.Map.Item.Value",
                                    "i.$": "$$.Map.Item.Index",
                                },
                                "ItemProcessor": {
                                    "StartAt": "D",
                                    "States": {
                                        "D": {
                                            "Type": "Task",
                                            "Resource": LAMBDA,
                                            "Parameters": {
                                                "FunctionName": "Double",
                                                "Payload.$": "$.v",
                                            },
                                            "OutputPath": "$.Payload",
                                            "End": True,
                                        }
                                    },
                                },
                                "End": True,
                            }
                        },
                    },
                ],
                "End": True,
            }
        },
    }
    sm = harness.machine(definition)
    arn = harness.start(sm, {"items": [1, 2, 3, 4, 5]})
    assert output(harness.svc.wait_for(arn)) == ["a", [2, 4, 6, 8, 10]]
    types = [e["type"] for e in harness.history(arn)]
    assert types.count("MapIterationStarted") == 5 and types.count("MapIterationSucceeded") == 5
    assert "ParallelStateSucceeded" in types and "MapStateSucceeded" in types


def test_parallel_branch_failure_is_caught(harness: Harness) -> None:
    definition = {
        "StartAt": "P",
        "States": {
            "P": {
                "Type": "Parallel",
                "Branches": [
                    {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 30, "End": True}}},
                    {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "E", "Cause": "c"}}},
                ],
                "Catch": [{"ErrorEquals": ["E"], "Next": "Done"}],
                "End": True,
            },
            "Done": {"Type": "Pass", "End": True},
        },
    }
    assert output(harness.run(definition)) == {"Error": "E", "Cause": "c"}


def test_map_tolerated_failures(harness: Harness) -> None:
    processor = {
        "StartAt": "C",
        "States": {
            "C": {
                "Type": "Choice",
                "Choices": [{"Variable": "$", "NumericEquals": 2, "Next": "F"}],
                "Default": "OK",
            },
            "F": {"Type": "Fail", "Error": "Two"},
            "OK": {"Type": "Pass", "End": True},
        },
    }
    definition = {
        "StartAt": "M",
        "States": {"M": {"Type": "Map", "ItemProcessor": processor, "End": True}},
    }
    assert harness.run(definition, [1, 2, 3])["error"] == "Two"
    definition["States"]["M"]["ToleratedFailureCount"] = 1
    out = output(harness.run(definition, [1, 2, 3]))
    assert out[0] == 1 and out[2] == 3 and out[1]["Error"] == "Two"


def test_variables_and_data_limit(harness: Harness) -> None:
    definition = {
        "StartAt": "A",
        "States": {
            "A": {"Type": "Pass", "Assign": {"x.$": "$.v", "k": "lit"}, "Next": "B"},
            "B": {"Type": "Pass", "Parameters": {"x.$": "$x", "k.$": "$k"}, "End": True},
        },
    }
    assert output(harness.run(definition, {"v": 3})) == {"x": 3, "k": "lit"}
    big = {
        "StartAt": "A",
        "States": {"A": {"Type": "Pass", "Parameters": {"a.$": "$.s", "b.$": "$.s"}, "End": True}},
    }
    desc = harness.run(big, {"s": "x" * 150_000})
    assert desc["error"] == "States.DataLimitExceeded", json.dumps(desc)[:300]
