"""RedriveExecution through boto3 against the standalone server: an unsuccessful execution
continues from the state it stopped in, in the same history, and only what failed runs again."""

from __future__ import annotations

import json
import pathlib
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from local.stepfunctions.invoker import LambdaFunctionError
from local.stepfunctions.server import Server
from tests.support.stepfunctions import create_machine as create
from tests.support.stepfunctions import engine_client as client
from tests.support.stepfunctions import error_code as code
from tests.support.stepfunctions import history
from tests.support.stepfunctions import start as run
from tests.support.stepfunctions import wait_terminal as wait

ROLE = "arn:aws:iam::123456789012:role/test"
REPO = pathlib.Path(__file__).resolve().parents[2]


class Lambdas:
    """Functions by name whose behaviour a test changes between the run and the redrive."""

    def __init__(self) -> None:
        self.functions: dict[str, Callable[[Any], Any]] = {}
        self.calls: list[tuple[str, Any]] = []
        self.lock = threading.Lock()

    def invoke(self, function_name: str, payload: Any) -> Any:
        name = function_name.split(":function:")[-1].split(":")[0]
        with self.lock:
            self.calls.append((name, payload))
        return self.functions[name](payload)

    def called(self, name: str) -> list[Any]:
        with self.lock:
            return [p for n, p in self.calls if n == name]


def failing(times: int, result: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """A function that raises on its first `times` calls, then answers result(payload)."""
    count = [0]

    def fn(payload: Any) -> Any:
        count[0] += 1
        if count[0] <= times:
            raise LambdaFunctionError("Boom", f"call {count[0]}")
        return result(payload)

    return fn


@pytest.fixture(scope="module")
def lambdas() -> Lambdas:
    return Lambdas()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, lambdas: Lambdas) -> Iterator[Server]:
    db = pathlib.Path(tmp_path_factory.mktemp("redrive")) / "sfn.db"
    srv = Server(db, port=0, invoker=lambdas).start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def sfn(server: Server) -> Any:
    return client(server.url)


def entered(events: list[dict[str, Any]], name: str) -> int:
    return sum(
        1
        for e in events
        if e["type"].endswith("StateEntered") and e["stateEnteredEventDetails"]["name"] == name
    )


def lambda_task(function: str, **fields: Any) -> dict[str, Any]:
    return {
        "Type": "Task",
        "Resource": f"arn:aws:lambda:us-east-1:123456789012:function:{function}",
        **fields,
    }


def test_a_failed_task_runs_again_from_where_it_failed(sfn: Any, lambdas: Lambdas) -> None:
    # Fails twice (the call and its one retry), then once more on the redrive: only a retry
    # counter reset by the redrive lets the redrive's retry succeed.
    lambdas.functions["Charge"] = failing(3, lambda p: {"charged": p["order"]})
    definition = {
        "StartAt": "Prepare",
        "States": {
            "Prepare": {"Type": "Pass", "Result": {"order": 7}, "Next": "Charge"},
            "Charge": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {
                    "FunctionName": "Charge",
                    "Payload": {
                        "order.$": "$.order",
                        "redrives.$": "$$.Execution.RedriveCount",
                        "context.$": "$$.Execution",
                    },
                },
                "ResultSelector": {"charged.$": "$.Payload.charged"},
                "Retry": [{"ErrorEquals": ["Boom"], "MaxAttempts": 1, "IntervalSeconds": 1}],
                "Next": "Done",
            },
            "Done": {"Type": "Pass", "End": True},
        },
    }
    sm = create(sfn, "charge", definition)
    arn = run(sfn, sm)
    failed = wait(sfn, arn)
    assert failed["status"] == "FAILED" and failed["error"] == "Boom"
    assert failed["redriveStatus"] == "REDRIVABLE" and "redriveStatusReason" not in failed
    assert failed["redriveCount"] == 0 and "redriveDate" not in failed
    before = history(sfn, arn)

    answer = sfn.redrive_execution(executionArn=arn)
    done = wait(sfn, arn, timeout=15)
    assert done["status"] == "SUCCEEDED", done
    assert json.loads(done["output"]) == {"charged": 7}
    assert done["redriveCount"] == 1 and done["redriveDate"] == answer["redriveDate"]
    assert done["redriveStatus"] == "NOT_REDRIVABLE"
    assert done["redriveStatusReason"] == "Execution is SUCCEEDED and cannot be redriven"

    calls = lambdas.called("Charge")
    assert len(calls) == 4
    assert [c["redrives"] for c in calls] == [0, 0, 1, 1]
    assert all(c["order"] == 7 for c in calls)  # the input the state had when it failed
    assert "RedriveTime" not in calls[0]["context"] and "RedriveTime" in calls[2]["context"]

    events = history(sfn, arn)
    assert events[: len(before)] == before  # the same history, continued
    assert [e["id"] for e in events] == list(range(1, len(events) + 1))
    redriven = events[len(before)]
    assert redriven["type"] == "ExecutionRedriven"
    assert redriven["previousEventId"] == before[-1]["id"]
    assert redriven["executionRedrivenEventDetails"] == {"redriveCount": 1}
    assert entered(events, "Prepare") == 1  # a state that succeeded is not run again
    assert entered(events, "Charge") == 2
    assert events[len(before) + 1]["type"] == "TaskStateEntered"
    assert json.loads(events[len(before) + 1]["stateEnteredEventDetails"]["input"]) == {"order": 7}


def test_parallel_reruns_only_the_failed_branch(sfn: Any, lambdas: Lambdas) -> None:
    lambdas.functions["Steady"] = lambda p: {"steady": p}
    lambdas.functions["Shaky"] = failing(1, lambda p: {"shaky": p})
    definition = {
        "StartAt": "Both",
        "States": {
            "Both": {
                "Type": "Parallel",
                "Branches": [
                    {
                        "StartAt": "SteadyCall",
                        "States": {"SteadyCall": lambda_task("Steady", End=True)},
                    },
                    {
                        "StartAt": "ShakyPrep",
                        "States": {
                            "ShakyPrep": {
                                "Type": "Pass",
                                "Parameters": {"n.$": "$.n"},
                                "Next": "Settle",
                            },
                            # the other branch has succeeded by the time this one fails
                            "Settle": {"Type": "Wait", "Seconds": 1, "Next": "ShakyCall"},
                            "ShakyCall": lambda_task("Shaky", End=True),
                        },
                    },
                ],
                "End": True,
            }
        },
    }
    arn = run(sfn, create(sfn, "both", definition), {"n": 1})
    assert wait(sfn, arn)["status"] == "FAILED"
    sfn.redrive_execution(executionArn=arn)
    done = wait(sfn, arn)
    assert done["status"] == "SUCCEEDED"
    assert json.loads(done["output"]) == [{"steady": {"n": 1}}, {"shaky": {"n": 1}}]
    assert len(lambdas.called("Steady")) == 1  # the successful branch kept its result
    assert len(lambdas.called("Shaky")) == 2
    events = history(sfn, arn)
    # the failed branch resumes at the state that failed, not at its start
    assert entered(events, "ShakyPrep") == 1 and entered(events, "Settle") == 1
    assert entered(events, "ShakyCall") == 2
    assert entered(events, "SteadyCall") == 1 and entered(events, "Both") == 2
    assert [e["id"] for e in events] == list(range(1, len(events) + 1))


def test_a_parallel_over_the_data_limit_reruns_every_branch(sfn: Any) -> None:
    echo = {"Type": "Pass", "InputPath": "$.text", "End": True}
    definition = {
        "StartAt": "Both",
        "States": {
            "Both": {
                "Type": "Parallel",
                "Branches": [
                    {"StartAt": "Left", "States": {"Left": echo}},
                    {"StartAt": "Right", "States": {"Right": echo}},
                ],
                "End": True,
            }
        },
    }
    # each branch's output fits, both together are over 256 KB
    arn = run(sfn, create(sfn, "too-big", definition), {"text": "x" * 150_000})
    failed = wait(sfn, arn)
    assert failed["status"] == "FAILED" and failed["error"] == "States.DataLimitExceeded"
    sfn.redrive_execution(executionArn=arn)
    assert wait(sfn, arn)["status"] == "FAILED"
    events = history(sfn, arn)
    assert entered(events, "Left") == 2 and entered(events, "Right") == 2


def test_map_reruns_only_unsuccessful_iterations_under_max_concurrency(
    sfn: Any, lambdas: Lambdas
) -> None:
    # Item 1 fails; with MaxConcurrency 1, item 2 never started. The redrive runs 1 and 2.
    fail_once = {"done": False}

    def square(p: Any) -> Any:
        if p == 1 and not fail_once["done"]:
            fail_once["done"] = True
            raise LambdaFunctionError("Boom", "item 1")
        return p * p

    lambdas.functions["Square"] = square
    definition = {
        "StartAt": "Each",
        "States": {
            "Each": {
                "Type": "Map",
                "MaxConcurrency": 1,
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "INLINE"},
                    "StartAt": "Sq",
                    "States": {"Sq": lambda_task("Square", End=True)},
                },
                "End": True,
            }
        },
    }
    arn = run(sfn, create(sfn, "each", definition), [0, 1, 2])
    assert wait(sfn, arn)["status"] == "FAILED"
    assert lambdas.called("Square") == [0, 1]
    sfn.redrive_execution(executionArn=arn)
    done = wait(sfn, arn)
    assert done["status"] == "SUCCEEDED"
    assert json.loads(done["output"]) == [0, 1, 4]
    assert lambdas.called("Square") == [0, 1, 1, 2]
    events = history(sfn, arn)
    started = [
        e["mapIterationStartedEventDetails"]["index"]
        for e in events
        if e["type"] == "MapIterationStarted"
    ]
    assert started == [0, 1, 1, 2]


def test_an_aborted_execution_is_redriven_with_a_new_task_token(sfn: Any, lambdas: Lambdas) -> None:
    tokens: list[str] = []

    def ask(payload: Any) -> Any:
        tokens.append(payload["token"])
        return {}

    lambdas.functions["Ask"] = ask
    definition = {
        "StartAt": "Ask",
        "States": {
            "Ask": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                "Parameters": {"FunctionName": "Ask", "Payload": {"token.$": "$$.Task.Token"}},
                "End": True,
            }
        },
    }
    arn = run(sfn, create(sfn, "ask", definition))
    deadline = time.monotonic() + 5
    while len(tokens) < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    sfn.stop_execution(executionArn=arn, error="Operator", cause="stopped by hand")
    aborted = wait(sfn, arn)
    assert aborted["status"] == "ABORTED" and aborted["redriveStatus"] == "REDRIVABLE"

    sfn.redrive_execution(executionArn=arn)
    running = sfn.describe_execution(executionArn=arn)
    assert running["status"] == "RUNNING" and "stopDate" not in running and "error" not in running
    assert running["redriveStatus"] == "NOT_REDRIVABLE"
    assert running["redriveStatusReason"] == "Execution is RUNNING and cannot be redriven"
    while len(tokens) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(tokens) == 2 and tokens[0] != tokens[1]
    with pytest.raises(ClientError) as e:  # the stopped attempt's token is closed
        sfn.send_task_success(taskToken=tokens[0], output='{"late": true}')
    assert code(e) == "TaskTimedOut"
    sfn.send_task_success(taskToken=tokens[1], output='{"reply": "YES"}')
    done = wait(sfn, arn)
    assert done["status"] == "SUCCEEDED" and json.loads(done["output"]) == {"reply": "YES"}
    types = [e["type"] for e in history(sfn, arn)]
    assert types.count("ExecutionAborted") == 1 and types.count("ExecutionRedriven") == 1


def test_a_timed_out_execution_gets_its_whole_timeout_again(sfn: Any) -> None:
    definition = {
        "TimeoutSeconds": 1,
        "StartAt": "Slow",
        "States": {"Slow": {"Type": "Wait", "Seconds": 3, "End": True}},
    }
    arn = run(sfn, create(sfn, "slow", definition))
    timed_out = wait(sfn, arn)
    assert timed_out["status"] == "TIMED_OUT" and timed_out["redriveStatus"] == "REDRIVABLE"
    redriven_at = sfn.redrive_execution(executionArn=arn)["redriveDate"]
    again = wait(sfn, arn)
    assert again["status"] == "TIMED_OUT" and again["redriveCount"] == 1
    # timed out a whole TimeoutSeconds after the redrive, not at once
    assert (again["stopDate"] - redriven_at).total_seconds() >= 0.9
    types = [e["type"] for e in history(sfn, arn)]
    assert types.count("ExecutionTimedOut") == 2 and types.count("WaitStateEntered") == 2


def test_succeeded_running_and_unknown_executions_are_refused(sfn: Any) -> None:
    sm = create(sfn, "fine", {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
    arn = run(sfn, sm)
    assert wait(sfn, arn)["status"] == "SUCCEEDED"
    with pytest.raises(ClientError) as e:
        sfn.redrive_execution(executionArn=arn)
    assert code(e) == "ExecutionNotRedrivable"
    assert "Execution is SUCCEEDED and cannot be redriven" in str(e.value)
    assert history(sfn, arn)[-1]["type"] == "ExecutionSucceeded"  # nothing was appended

    waiting = create(
        sfn,
        "waits",
        {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 600, "End": True}}},
    )
    running = run(sfn, waiting)
    with pytest.raises(ClientError) as e:
        sfn.redrive_execution(executionArn=running)
    assert code(e) == "ExecutionNotRedrivable" and "RUNNING" in str(e.value)
    sfn.stop_execution(executionArn=running)

    with pytest.raises(ClientError) as e:
        sfn.redrive_execution(executionArn=arn + "-nope")
    assert code(e) == "ExecutionDoesNotExist"
    with pytest.raises(ClientError) as e:
        sfn.redrive_execution(executionArn=sm)  # a state machine ARN
    assert code(e) == "InvalidArn"
    with pytest.raises(ClientError) as e:
        sfn.redrive_execution(executionArn="not-an-arn")
    assert code(e) == "InvalidArn"


def fail_machine(sfn: Any, name: str) -> str:
    return create(sfn, name, {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Nope"}}})


def test_the_same_client_token_redrives_once(sfn: Any) -> None:
    arn = run(sfn, fail_machine(sfn, "twice"))
    assert wait(sfn, arn)["status"] == "FAILED"
    first = sfn.redrive_execution(executionArn=arn, clientToken="retry-1")
    assert wait(sfn, arn)["status"] == "FAILED"  # a Fail state fails again
    second = sfn.redrive_execution(executionArn=arn, clientToken="retry-1")
    assert second["redriveDate"] == first["redriveDate"]
    d = sfn.describe_execution(executionArn=arn)
    assert d["redriveCount"] == 1 and d["status"] == "FAILED"
    types = [e["type"] for e in history(sfn, arn)]
    assert types.count("ExecutionRedriven") == 1 and types.count("FailStateEntered") == 2
    # another token is another redrive
    third = sfn.redrive_execution(executionArn=arn, clientToken="retry-2")
    assert third["redriveDate"] > first["redriveDate"]
    assert wait(sfn, arn)["redriveCount"] == 2


def test_a_redrive_runs_the_definition_the_execution_started_with(sfn: Any) -> None:
    sm = fail_machine(sfn, "changed")
    arn = run(sfn, sm)
    assert wait(sfn, arn)["status"] == "FAILED"
    passes = {"StartAt": "F", "States": {"F": {"Type": "Pass", "End": True}}}
    sfn.update_state_machine(stateMachineArn=sm, definition=json.dumps(passes))
    assert sfn.describe_execution(executionArn=arn)["redriveStatus"] == "REDRIVABLE"
    sfn.redrive_execution(executionArn=arn)
    again = wait(sfn, arn)
    assert again["status"] == "FAILED" and again["error"] == "Nope"  # not the updated Pass
    assert [e["type"] for e in history(sfn, arn)][-2:] == ["FailStateEntered", "ExecutionFailed"]


def raw(server: Server, operation: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """A request botocore would not send (it checks some constraints itself)."""
    request = urllib.request.Request(
        server.url,
        data=json.dumps(body).encode(),
        headers={
            "Content-Type": "application/x-amz-json-1.0",
            "X-Amz-Target": f"AWSStepFunctions.{operation}",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_bad_client_tokens_and_filters_are_validation_errors(sfn: Any, server: Server) -> None:
    arn = run(sfn, fail_machine(sfn, "tokens"))
    assert wait(sfn, arn)["status"] == "FAILED"
    for token in ("x" * 65, "", "has space"):
        status, body = raw(server, "RedriveExecution", {"executionArn": arn, "clientToken": token})
        assert (status, body["__type"]) == (400, "ValidationException"), token
    assert sfn.describe_execution(executionArn=arn)["redriveCount"] == 0  # nothing happened
    status, body = raw(
        server,
        "ListExecutions",
        {"stateMachineArn": arn.split(":execution:")[0], "redriveFilter": "X"},
    )
    assert body["__type"] == "ValidationException"


def test_list_executions_redrive_filter(sfn: Any) -> None:
    sm = fail_machine(sfn, "listed")
    redriven, plain = run(sfn, sm), run(sfn, sm)
    wait(sfn, redriven), wait(sfn, plain)
    sfn.redrive_execution(executionArn=redriven)
    wait(sfn, redriven)

    def listed(**kw: Any) -> dict[str, dict[str, Any]]:
        items = sfn.list_executions(stateMachineArn=sm, **kw)["executions"]
        return {i["executionArn"]: i for i in items}

    assert set(listed()) == {redriven, plain}
    assert set(listed(redriveFilter="REDRIVEN")) == {redriven}
    assert set(listed(redriveFilter="NOT_REDRIVEN")) == {plain}
    items = listed()
    assert items[redriven]["redriveCount"] == 1 and "redriveDate" in items[redriven]
    assert items[plain]["redriveCount"] == 0 and "redriveDate" not in items[plain]


def test_not_redrivable_when_the_machine_is_deleted_or_too_old(sfn: Any, server: Server) -> None:
    gone_sm = fail_machine(sfn, "gone")
    gone, old = run(sfn, gone_sm), run(sfn, fail_machine(sfn, "old"))
    wait(sfn, gone), wait(sfn, old)
    sfn.delete_state_machine(stateMachineArn=gone_sm)
    d = sfn.describe_execution(executionArn=gone)
    assert d["redriveStatus"] == "NOT_REDRIVABLE"
    assert d["redriveStatusReason"] == "State machine is in DELETING status"
    with pytest.raises(ClientError) as e:
        sfn.redrive_execution(executionArn=gone)
    assert code(e) == "ExecutionNotRedrivable"

    # 14 days and a second after it stopped (moved back in the store, as time cannot be moved)
    with server.service.store.tx() as conn:
        conn.execute(
            "UPDATE executions SET stop = stop - ?, start = start - ? WHERE arn = ?",
            (14 * 86400 + 1, 14 * 86400 + 1, old),
        )
    d = sfn.describe_execution(executionArn=old)
    assert d["redriveStatusReason"] == "Execution redrivable period exceeded"
    with pytest.raises(ClientError) as e:
        sfn.redrive_execution(executionArn=old)
    assert code(e) == "ExecutionNotRedrivable" and "redrivable period" in str(e.value)


def test_not_redrivable_after_a_year_open_or_with_a_full_history(sfn: Any, server: Server) -> None:
    sm = fail_machine(sfn, "limits")
    ancient, long_history = run(sfn, sm), run(sfn, sm)
    wait(sfn, ancient), wait(sfn, long_history)
    last = len(history(sfn, long_history))
    with server.service.store.tx() as conn:
        conn.execute(
            "UPDATE executions SET start = start - ? WHERE arn = ?", (366 * 86400, ancient)
        )
        conn.executemany(
            "INSERT INTO events (exec_arn, id, type, ts, prev) VALUES (?, ?, 'Pass', 0, ?)",
            [(long_history, i, i - 1) for i in range(last + 1, 24_999 + 1)],
        )
    reasons = {
        arn: sfn.describe_execution(executionArn=arn).get("redriveStatusReason")
        for arn in (ancient, long_history)
    }
    assert reasons == {
        ancient: "Execution has exceeded the max execution time",
        long_history: "Execution history event limit exceeded",
    }
    for arn in (ancient, long_history):
        with pytest.raises(ClientError) as e:
            sfn.redrive_execution(executionArn=arn)
        assert code(e) == "ExecutionNotRedrivable"


# ---------------------------------------------------------------- kill -9 mid-redrive

MOCKS = {
    "StateMachines": {
        "durable": {"TestCases": {"FailThenOk": {"Call": "FailThenOk"}}},
    },
    "MockedResponses": {
        "FailThenOk": {
            "0": {"Throw": {"Error": "Boom", "Cause": "first call"}},
            "1": {"Return": {"StatusCode": 200, "Payload": {"ok": True}}},
        }
    },
}
DURABLE = {
    "StartAt": "Call",
    "States": {
        "Call": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "Anything", "Payload": {}},
            "OutputPath": "$.Payload",
            "Next": "Pause",
        },
        "Pause": {"Type": "Wait", "Seconds": 2, "Next": "Done"},
        "Done": {"Type": "Pass", "End": True},
    },
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def standalone(db: pathlib.Path, mocks: pathlib.Path, port: int) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "local.stepfunctions", "--port", str(port)]
    command += ["--db", str(db), "--mock-config", str(mocks)]
    process = subprocess.Popen(
        command,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise AssertionError("the standalone server did not start")


def test_a_redriven_execution_survives_kill_9(tmp_path: pathlib.Path) -> None:
    db, mocks = tmp_path / "sfn.db", tmp_path / "mocks.json"
    mocks.write_text(json.dumps(MOCKS))
    port = free_port()
    process = standalone(db, mocks, port)
    try:
        sfn = client(f"http://127.0.0.1:{port}")
        sm = create(sfn, "durable", DURABLE)
        arn = run(sfn, f"{sm}#FailThenOk")
        assert wait(sfn, arn)["status"] == "FAILED"
        sfn.redrive_execution(executionArn=arn, clientToken="once")
        deadline = time.monotonic() + 10
        while entered(history(sfn, arn), "Pause") == 0:
            assert time.monotonic() < deadline
            time.sleep(0.02)
    finally:
        process.kill()  # SIGKILL, mid-Wait of the redriven execution
        process.wait()

    process = standalone(db, mocks, port)
    try:
        sfn = client(f"http://127.0.0.1:{port}")
        done = wait(sfn, arn, timeout=15)
        assert done["status"] == "SUCCEEDED" and json.loads(done["output"]) == {"ok": True}
        assert done["redriveCount"] == 1
        # the same token after the restart: still the one redrive
        sfn.redrive_execution(executionArn=arn, clientToken="once")
        events = history(sfn, arn)
        assert [e["id"] for e in events] == list(range(1, len(events) + 1))
        types = [e["type"] for e in events]
        assert types.count("ExecutionRedriven") == 1 and types[-1] == "ExecutionSucceeded"
        assert entered(events, "Call") == 2 and entered(events, "Pause") == 1
    finally:
        process.kill()
        process.wait()


def test_a_distributed_map_state_is_entered_again_with_a_new_map_run(
    sfn: Any, lambdas: Lambdas
) -> None:
    # Map-run redrive (only the failed child executions) is not built: the Map state runs
    # again over all its items, as a new map run (README, "Where it differs from AWS").
    lambdas.functions["Item"] = failing(1, lambda p: p)
    definition = {
        "StartAt": "Fan",
        "States": {
            "Fan": {
                "Type": "Map",
                "ItemsPath": "$.xs",
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                    "StartAt": "Work",
                    "States": {"Work": lambda_task("Item", End=True)},
                },
                "MaxConcurrency": 1,
                "End": True,
            }
        },
    }
    arn = run(sfn, create(sfn, "redrive-dmap", definition), {"xs": [1, 2, 3]})
    assert wait(sfn, arn)["error"] == "States.ExceedToleratedFailureThreshold"
    sfn.redrive_execution(executionArn=arn)
    done = wait(sfn, arn)
    assert done["status"] == "SUCCEEDED" and json.loads(done["output"]) == [1, 2, 3]
    assert len(sfn.list_map_runs(executionArn=arn)["mapRuns"]) == 2
    types = [e["type"] for e in history(sfn, arn)]
    assert types.count("MapRunStarted") == 2 and "ExecutionRedriven" in types
