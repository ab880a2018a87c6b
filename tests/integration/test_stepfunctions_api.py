"""The Step Functions JSON API through boto3 against the standalone server."""

from __future__ import annotations

import json
import pathlib
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from local.stepfunctions.server import Server
from tests.support.stepfunctions import create_machine as create
from tests.support.stepfunctions import engine_client
from tests.support.stepfunctions import error_code as code
from tests.support.stepfunctions import wait_terminal as wait

ROLE = "arn:aws:iam::123456789012:role/test"
PASS = {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": {"ok": 1}, "End": True}}}
WAIT_LONG = {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 600, "End": True}}}
CALLBACK = {
    "StartAt": "T",
    "States": {
        "T": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
            "Parameters": {"FunctionName": "Missing", "Payload": {"t.$": "$$.Task.Token"}},
            "End": True,
        }
    },
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    db = pathlib.Path(tmp_path_factory.mktemp("sfn")) / "sfn.db"
    srv = Server(db, port=0).start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def sfn(server: Server) -> Any:
    return engine_client(server.url)


def test_state_machine_lifecycle(sfn: Any) -> None:
    arn = create(sfn, "life", PASS)
    assert arn == "arn:aws:states:us-east-1:123456789012:stateMachine:life"
    # same definition again is idempotent; a different one is a conflict
    assert create(sfn, "life", PASS) == arn
    with pytest.raises(ClientError) as e:
        create(sfn, "life", WAIT_LONG)
    assert code(e) == "StateMachineAlreadyExists"
    d = sfn.describe_state_machine(stateMachineArn=arn)
    assert d["name"] == "life" and d["status"] == "ACTIVE" and json.loads(d["definition"]) == PASS
    names = [m["name"] for m in sfn.list_state_machines()["stateMachines"]]
    assert "life" in names
    sfn.update_state_machine(stateMachineArn=arn, definition=json.dumps(WAIT_LONG))
    assert json.loads(sfn.describe_state_machine(stateMachineArn=arn)["definition"]) == WAIT_LONG
    sfn.delete_state_machine(stateMachineArn=arn)
    with pytest.raises(ClientError) as e:
        sfn.describe_state_machine(stateMachineArn=arn)
    assert code(e) == "StateMachineDoesNotExist"


def test_create_errors(sfn: Any) -> None:
    with pytest.raises(ClientError) as e:
        sfn.create_state_machine(name="bad name", definition=json.dumps(PASS), roleArn=ROLE)
    assert code(e) == "InvalidName"
    bad = {"StartAt": "Nope", "States": {"P": {"Type": "Pass", "Next": "Gone"}}}
    with pytest.raises(ClientError) as e:
        create(sfn, "bad", bad)
    assert code(e) == "InvalidDefinition"
    assert "Gone" in str(e.value)
    with pytest.raises(ClientError) as e:
        sfn.create_state_machine(name="x", definition="{not json", roleArn=ROLE)
    assert code(e) == "InvalidDefinition"
    with pytest.raises(ClientError) as e:
        sfn.describe_state_machine(stateMachineArn="not-an-arn")
    assert code(e) == "InvalidArn"


def test_execution_lifecycle_and_history(sfn: Any) -> None:
    sm = create(sfn, "exec", PASS)
    arn = sfn.start_execution(stateMachineArn=sm, name="one", input='{"a": 1}')["executionArn"]
    assert arn == "arn:aws:states:us-east-1:123456789012:execution:exec:one"
    d = wait(sfn, arn)
    assert d["status"] == "SUCCEEDED" and json.loads(d["output"]) == {"ok": 1}
    assert d["startDate"] <= d["stopDate"]
    h = sfn.get_execution_history(executionArn=arn)["events"]
    assert [e["type"] for e in h] == [
        "ExecutionStarted",
        "PassStateEntered",
        "PassStateExited",
        "ExecutionSucceeded",
    ]
    assert h[1]["stateEnteredEventDetails"]["name"] == "P"
    assert json.loads(h[0]["executionStartedEventDetails"]["input"]) == {"a": 1}
    rev = sfn.get_execution_history(executionArn=arn, reverseOrder=True, maxResults=2)
    assert [e["id"] for e in rev["events"]] == [4, 3] and "nextToken" in rev
    more = sfn.get_execution_history(
        executionArn=arn, reverseOrder=True, maxResults=2, nextToken=rev["nextToken"]
    )
    assert [e["id"] for e in more["events"]] == [2, 1]
    # a generated name when none is given
    arn2 = sfn.start_execution(stateMachineArn=sm)["executionArn"]
    assert wait(sfn, arn2)["status"] == "SUCCEEDED"
    listed = sfn.list_executions(stateMachineArn=sm, statusFilter="SUCCEEDED")["executions"]
    assert {e["executionArn"] for e in listed} == {arn, arn2}
    page = sfn.list_executions(stateMachineArn=sm, maxResults=1)
    assert len(page["executions"]) == 1 and "nextToken" in page


def test_start_execution_errors(sfn: Any) -> None:
    sm = create(sfn, "dups", WAIT_LONG)
    arn = sfn.start_execution(stateMachineArn=sm, name="same", input="{}")["executionArn"]
    # same name and input while running: idempotent
    again = sfn.start_execution(stateMachineArn=sm, name="same", input="{}")["executionArn"]
    assert again == arn
    with pytest.raises(ClientError) as e:
        sfn.start_execution(stateMachineArn=sm, name="same", input='{"other": 1}')
    assert code(e) == "ExecutionAlreadyExists"
    with pytest.raises(ClientError) as e:
        sfn.start_execution(stateMachineArn=sm, input="{oops")
    assert code(e) == "InvalidExecutionInput"
    with pytest.raises(ClientError) as e:
        sfn.start_execution(stateMachineArn=sm + "-gone")
    assert code(e) == "StateMachineDoesNotExist"
    with pytest.raises(ClientError) as e:
        sfn.describe_execution(executionArn=arn + "-gone")
    assert code(e) == "ExecutionDoesNotExist"
    stop = sfn.stop_execution(executionArn=arn, error="Because", cause="test")
    assert "stopDate" in stop
    d = sfn.describe_execution(executionArn=arn)
    assert (d["status"], d["error"], d["cause"]) == ("ABORTED", "Because", "test")
    assert (
        sfn.get_execution_history(executionArn=arn, reverseOrder=True)["events"][0]["type"]
        == "ExecutionAborted"
    )


def test_task_token_operations(sfn: Any) -> None:
    with pytest.raises(ClientError) as e:
        sfn.send_task_success(taskToken="garbage", output="{}")
    assert code(e) == "InvalidToken"
    with pytest.raises(ClientError) as e:
        sfn.send_task_failure(taskToken="garbage")
    assert code(e) == "InvalidToken"
    with pytest.raises(ClientError) as e:
        sfn.send_task_heartbeat(taskToken="garbage")
    assert code(e) == "InvalidToken"
    # the standalone server has no Lambdas: the callback task fails with ResourceNotFound
    sm = create(sfn, "cb", CALLBACK)
    arn = sfn.start_execution(stateMachineArn=sm)["executionArn"]
    d = wait(sfn, arn)
    assert d["status"] == "FAILED" and d["error"] == "Lambda.ResourceNotFoundException"
    failed = [
        e
        for e in sfn.get_execution_history(executionArn=arn)["events"]
        if e["type"] == "TaskFailed"
    ]
    assert failed[0]["taskFailedEventDetails"]["error"] == "Lambda.ResourceNotFoundException"


def test_unknown_operation_is_a_json_error(server: Server) -> None:
    import urllib.error
    import urllib.request

    req = urllib.request.Request(
        server.url,
        data=b"{}",
        headers={
            "X-Amz-Target": "AWSStepFunctions.Nope",
            "Content-Type": "application/x-amz-json-1.0",
        },
    )
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req)
    assert e.value.code == 400
    assert json.loads(e.value.read())["__type"] == "UnknownOperationException"


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _spawn(db: pathlib.Path, port: int) -> Any:
    import subprocess
    import sys

    proc = subprocess.Popen(
        [sys.executable, "-m", "local.stepfunctions", "--port", str(port), "--db", str(db)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        cwd=pathlib.Path(__file__).resolve().parents[2],
    )
    assert proc.stdout is not None
    proc.stdout.readline()  # "Step Functions API on ..." once it listens
    return proc


def test_sigkill_and_restart_loses_nothing(tmp_path: pathlib.Path) -> None:
    """kill -9 the standalone server mid-Wait; the restarted one finishes the execution."""
    import signal

    db, port = tmp_path / "sfn.db", _free_port()
    client = boto3.client(
        "stepfunctions",
        endpoint_url=f"http://127.0.0.1:{port}",
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    wait_then_pass = {
        "StartAt": "W",
        "States": {
            "W": {"Type": "Wait", "Seconds": 1, "Next": "P"},
            "P": {"Type": "Pass", "Result": "done", "End": True},
        },
    }
    proc = _spawn(db, port)
    try:
        sm = create(client, "killed", wait_then_pass)
        arn = client.start_execution(stateMachineArn=sm, name="survivor")["executionArn"]
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    time.sleep(1.2)  # the Wait timer comes due while the server is down
    proc = _spawn(db, port)
    try:
        d = wait(client, arn)
        assert d["status"] == "SUCCEEDED" and json.loads(d["output"]) == "done"
    finally:
        proc.terminate()
        proc.wait()
