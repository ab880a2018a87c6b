"""Express workflows through boto3 against the standalone server: StartSyncExecution,
StartExecution on an EXPRESS machine, the operations AWS does not serve for them, the
five-minute limit, and nothing kept in the database or across a restart."""

from __future__ import annotations

import json
import pathlib
import re
import sqlite3
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from local.stepfunctions.server import Server
from tests.support.stepfunctions import engine_client
from tests.support.stepfunctions import error_code as code

ROLE = "arn:aws:iam::123456789012:role/test"
LAMBDA = "arn:aws:states:::lambda:invoke"
EXPRESS_ARN = re.compile(
    r"^arn:aws:states:us-east-1:123456789012:express:(?P<machine>[^:]+):(?P<name>[^:]+):"
    r"[0-9a-f-]{36}$"
)
MOCKS = {
    "StateMachines": {"exp-mocked": {"TestCases": {"Happy": {"Call": "Answer"}}}},
    "MockedResponses": {"Answer": {"0": {"Return": {"Payload": "from the mock"}}}},
}


class Functions:
    def __init__(self) -> None:
        self.calls: list[Any] = []
        self.called = threading.Event()

    def invoke(self, function_name: str, payload: Any) -> Any:
        self.calls.append(payload)
        self.called.set()
        return {"got": payload}


@pytest.fixture(scope="module")
def functions() -> Functions:
    return Functions()


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    return pathlib.Path(tmp_path_factory.mktemp("sfn-express")) / "sfn.db"


@pytest.fixture(scope="module")
def server(db: pathlib.Path, functions: Functions) -> Iterator[Server]:
    srv = Server(db, port=0, invoker=functions, mock_config=MOCKS).start()
    yield srv
    srv.stop()


def client(url: str) -> Any:
    # StartSyncExecution has botocore's hostPrefix "sync-": off for a local endpoint
    return engine_client(url, inject_host_prefix=False)


@pytest.fixture(scope="module")
def sfn(server: Server) -> Any:
    return client(server.url)


def machine(sfn: Any, name: str, states: dict[str, Any], kind: str = "EXPRESS", **top: Any) -> str:
    first = next(iter(states))
    definition = json.dumps({"StartAt": first, "States": states, **top})
    return str(
        sfn.create_state_machine(name=name, definition=definition, roleArn=ROLE, type=kind)[
            "stateMachineArn"
        ]
    )


CALL = {
    "Call": {
        "Type": "Task",
        "Resource": LAMBDA,
        "Parameters": {"FunctionName": "F", "Payload.$": "$"},
        "OutputPath": "$.Payload",
        "End": True,
    }
}


# ------------------------------------------------------------------ StartSyncExecution


def test_sync_execution_answers_its_outcome(sfn: Any) -> None:
    arn = machine(sfn, "exp-call", CALL)
    out = sfn.start_sync_execution(stateMachineArn=arn, name="run-1", input='{"n": 1}')
    assert out["status"] == "SUCCEEDED"
    match = EXPRESS_ARN.match(out["executionArn"])
    assert match and match["machine"] == "exp-call" and match["name"] == "run-1"
    assert out["stateMachineArn"] == arn
    assert out["name"] == "run-1"
    assert json.loads(out["output"]) == {"got": {"n": 1}}
    assert out["input"] == '{"n": 1}'
    assert out["inputDetails"] == {"included": True}
    assert out["outputDetails"] == {"included": True}
    assert out["startDate"] <= out["stopDate"]
    billing = out["billingDetails"]
    assert billing["billedMemoryUsedInMB"] == 64
    assert billing["billedDurationInMilliseconds"] % 100 == 0
    assert billing["billedDurationInMilliseconds"] >= 100
    assert "error" not in out


def test_the_same_name_runs_again_with_a_new_arn(sfn: Any) -> None:
    arn = machine(sfn, "exp-again", {"P": {"Type": "Pass", "End": True}})
    first = sfn.start_sync_execution(stateMachineArn=arn, name="same")
    second = sfn.start_sync_execution(stateMachineArn=arn, name="same")
    assert first["executionArn"] != second["executionArn"]
    assert second["status"] == "SUCCEEDED"


def test_a_failed_sync_execution_is_still_a_200_with_error_and_cause(sfn: Any) -> None:
    arn = machine(sfn, "exp-fail", {"F": {"Type": "Fail", "Error": "Bad", "Cause": "why"}})
    out = sfn.start_sync_execution(stateMachineArn=arn)
    assert (out["status"], out["error"], out["cause"]) == ("FAILED", "Bad", "why")
    assert "output" not in out


def test_metadata_only_leaves_input_and_output_out(sfn: Any) -> None:
    arn = machine(sfn, "exp-meta", {"P": {"Type": "Pass", "End": True}})
    out = sfn.start_sync_execution(
        stateMachineArn=arn, input='{"secret": 1}', includedData="METADATA_ONLY", traceHeader="t1"
    )
    assert out["status"] == "SUCCEEDED"
    assert "input" not in out and "output" not in out
    assert out["inputDetails"] == {"included": False}
    assert out["outputDetails"] == {"included": False}
    assert out["traceHeader"] == "t1"


def test_timeout_seconds_ends_it_timed_out(sfn: Any) -> None:
    states = {"W": {"Type": "Wait", "Seconds": 30, "End": True}}
    arn = machine(sfn, "exp-timeout", states, TimeoutSeconds=1)
    out = sfn.start_sync_execution(stateMachineArn=arn)
    assert out["status"] == "TIMED_OUT"
    assert out["error"] == "States.Timeout"


def test_the_express_limit_ends_a_long_execution_timed_out(sfn: Any, server: Server) -> None:
    arn = machine(sfn, "exp-limit", {"W": {"Type": "Wait", "Seconds": 30, "End": True}})
    server.service.express.limit_seconds = 1  # five minutes on AWS; shortened to test it
    try:
        started = time.monotonic()
        out = sfn.start_sync_execution(stateMachineArn=arn)
    finally:
        server.service.express.limit_seconds = 300
    assert out["status"] == "TIMED_OUT"
    assert out["error"] == "States.Timeout"
    assert time.monotonic() - started < 10


def test_a_mocked_test_case_runs_on_an_express_machine(sfn: Any, functions: Functions) -> None:
    arn = machine(sfn, "exp-mocked", CALL)
    before = len(functions.calls)
    out = sfn.start_sync_execution(stateMachineArn=arn + "#Happy")
    assert json.loads(out["output"]) == "from the mock"
    assert len(functions.calls) == before


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"input": "{oops"}, "InvalidExecutionInput"),
        ({"name": "bad name"}, "InvalidName"),
        ({"includedData": "EVERYTHING"}, "ValidationException"),
    ],
)
def test_bad_sync_requests(sfn: Any, kwargs: dict[str, Any], error: str) -> None:
    arn = machine(sfn, "exp-bad", {"P": {"Type": "Pass", "End": True}})
    with pytest.raises(ClientError) as e:
        sfn.start_sync_execution(stateMachineArn=arn, **kwargs)
    assert code(e) == error


def test_sync_on_a_standard_machine_or_no_machine_is_refused(sfn: Any) -> None:
    standard = machine(sfn, "std-machine", {"P": {"Type": "Pass", "End": True}}, "STANDARD")
    with pytest.raises(ClientError) as e:
        sfn.start_sync_execution(stateMachineArn=standard)
    assert code(e) == "StateMachineTypeNotSupported"
    with pytest.raises(ClientError) as e:
        sfn.start_sync_execution(stateMachineArn=standard.replace("std-machine", "nothing"))
    assert code(e) == "StateMachineDoesNotExist"
    with pytest.raises(ClientError) as e:
        sfn.start_sync_execution(stateMachineArn="arn:aws:states:us-east-1:1:activity:a")
    assert code(e) == "InvalidArn"


# ------------------------------------------------------------------ asynchronous Express


def test_start_execution_on_an_express_machine_runs_it(sfn: Any, functions: Functions) -> None:
    arn = machine(sfn, "exp-async", CALL)
    functions.called.clear()
    out = sfn.start_execution(stateMachineArn=arn, name="bg", input='{"async": true}')
    match = EXPRESS_ARN.match(out["executionArn"])
    assert match and match["name"] == "bg"
    assert functions.called.wait(10)
    assert {"async": True} in functions.calls


def test_aws_serves_no_describe_history_stop_or_list_for_express(sfn: Any) -> None:
    arn = machine(sfn, "exp-unserved", {"W": {"Type": "Wait", "Seconds": 1, "End": True}})
    execution = sfn.start_execution(stateMachineArn=arn)["executionArn"]
    for call in (sfn.describe_execution, sfn.get_execution_history, sfn.stop_execution):
        with pytest.raises(ClientError) as e:
            call(executionArn=execution)
        assert code(e) == "InvalidArn"
    with pytest.raises(ClientError) as e:
        sfn.list_executions(stateMachineArn=arn)
    assert code(e) == "StateMachineTypeNotSupported"


def test_express_executions_are_not_in_the_database(sfn: Any, db: pathlib.Path) -> None:
    arn = machine(sfn, "exp-stored", {"P": {"Type": "Pass", "End": True}})
    sfn.start_sync_execution(stateMachineArn=arn)
    sfn.start_execution(stateMachineArn=arn)
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT COUNT(*) FROM executions WHERE sm_arn=?", (arn,)).fetchone()
    assert rows[0] == 0


def test_a_restart_loses_an_express_execution_in_flight(tmp_path: pathlib.Path) -> None:
    functions = Functions()
    db = tmp_path / "restart.db"
    states = {"W": {"Type": "Wait", "Seconds": 1, "Next": "Call"}, **CALL}
    first = Server(db, port=0, invoker=functions).start()
    sfn = client(first.url)
    arn = machine(sfn, "exp-restart", states)
    sfn.start_execution(stateMachineArn=arn)
    first.stop()
    second = Server(db, port=0, invoker=functions).start()
    try:
        assert not functions.called.wait(2.5)  # the Wait would have ended after 1 s
        # the machine itself is durable and runs again
        out = client(second.url).start_sync_execution(stateMachineArn=arn, input='{"k": 2}')
        assert out["status"] == "SUCCEEDED"
        assert functions.calls == [{"k": 2}]
    finally:
        second.stop()
