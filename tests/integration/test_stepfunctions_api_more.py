"""The Step Functions operations beyond the first thirteen, through boto3 against the
standalone server: tags, DescribeStateMachineForExecution, versions and aliases."""

from __future__ import annotations

import json
import pathlib
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from local.stepfunctions.server import Server

ROLE = "arn:aws:iam::123456789012:role/test"
SM_PREFIX = "arn:aws:states:us-east-1:123456789012:stateMachine:"


def pass_machine(result: Any) -> str:
    return json.dumps(
        {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": result, "End": True}}}
    )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    db = pathlib.Path(tmp_path_factory.mktemp("sfn")) / "sfn.db"
    srv = Server(db, port=0).start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def sfn(server: Server) -> Any:
    return boto3.client(
        "stepfunctions",
        endpoint_url=server.url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def code(e: pytest.ExceptionInfo[ClientError]) -> str:
    return str(e.value.response["Error"]["Code"])


def create(sfn: Any, name: str, result: Any = 1, **extra: Any) -> str:
    return str(
        sfn.create_state_machine(name=name, definition=pass_machine(result), roleArn=ROLE, **extra)[
            "stateMachineArn"
        ]
    )


def wait(sfn: Any, arn: str) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while True:
        d = sfn.describe_execution(executionArn=arn)
        if d["status"] != "RUNNING" or time.monotonic() > deadline:
            return dict(d)
        time.sleep(0.02)


# ---------------------------------------------------------------- tags


def test_tags_round_trip(sfn: Any) -> None:
    arn = create(sfn, "tagged", tags=[{"key": "team", "value": "sms"}])
    assert sfn.list_tags_for_resource(resourceArn=arn)["tags"] == [{"key": "team", "value": "sms"}]
    sfn.tag_resource(
        resourceArn=arn, tags=[{"key": "team", "value": "ops"}, {"key": "env", "value": ""}]
    )
    tags = {t["key"]: t["value"] for t in sfn.list_tags_for_resource(resourceArn=arn)["tags"]}
    assert tags == {"team": "ops", "env": ""}
    sfn.untag_resource(resourceArn=arn, tagKeys=["team", "absent"])
    assert sfn.list_tags_for_resource(resourceArn=arn)["tags"] == [{"key": "env", "value": ""}]


def test_tags_limit_is_fifty_per_resource(sfn: Any) -> None:
    arn = create(sfn, "many-tags")
    sfn.tag_resource(resourceArn=arn, tags=[{"key": f"k{i}", "value": "v"} for i in range(49)])
    # Re-tagging an existing key does not count twice.
    sfn.tag_resource(resourceArn=arn, tags=[{"key": "k0", "value": "w"}, {"key": "k49"}])
    with pytest.raises(ClientError) as e:
        sfn.tag_resource(resourceArn=arn, tags=[{"key": "k50", "value": "v"}])
    assert code(e) == "TooManyTags"
    assert e.value.response["resourceName"] == arn
    assert len(sfn.list_tags_for_resource(resourceArn=arn)["tags"]) == 50
    with pytest.raises(ClientError) as e:
        create(sfn, "born-with-too-many", tags=[{"key": f"k{i}"} for i in range(51)])
    assert code(e) == "TooManyTags"


def test_tags_bad_input(sfn: Any, server: Server) -> None:
    arn = create(sfn, "tags-bad")
    missing = SM_PREFIX + "nope"
    for operation, extra in (
        ("list_tags_for_resource", {}),
        ("tag_resource", {"tags": [{"key": "a", "value": "b"}]}),
        ("untag_resource", {"tagKeys": ["a"]}),
    ):
        with pytest.raises(ClientError) as e:
            getattr(sfn, operation)(resourceArn=missing, **extra)
        assert code(e) == "ResourceNotFound"
    with pytest.raises(ClientError) as e:
        sfn.list_tags_for_resource(resourceArn="arn:aws:sns:us-east-1:123456789012:topic")
    assert code(e) == "InvalidArn"
    # Posted raw: botocore refuses some of these before sending, another client would not.
    for body in (
        {"resourceArn": arn, "tags": [{"key": "k" * 129, "value": "v"}]},
        {"resourceArn": arn, "tags": [{"key": "k", "value": "v" * 257}]},
        {"resourceArn": arn, "tags": [{"key": "", "value": "v"}]},
        {"resourceArn": arn, "tags": [{"key": "bad#key", "value": "v"}]},
    ):
        status, answer = raw(server, "TagResource", body)
        assert (status, answer["__type"]) == (400, "ValidationException"), body
    assert sfn.list_tags_for_resource(resourceArn=arn)["tags"] == []
    # Deleting the machine drops its tags: one created again under the name starts bare.
    sfn.tag_resource(resourceArn=arn, tags=[{"key": "a", "value": "b"}])
    sfn.delete_state_machine(stateMachineArn=arn)
    assert create(sfn, "tags-bad") == arn
    assert sfn.list_tags_for_resource(resourceArn=arn)["tags"] == []


def raw(server: Server, operation: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        server.url,
        data=json.dumps(body).encode(),
        headers={
            "X-Amz-Target": f"AWSStepFunctions.{operation}",
            "Content-Type": "application/x-amz-json-1.0",
        },
    )
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


# ---------------------------------------------------------------- DescribeStateMachineForExecution

WAIT = json.dumps({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 600, "End": True}}})


def test_describe_state_machine_for_execution_is_the_definition_it_started_with(sfn: Any) -> None:
    arn = sfn.create_state_machine(name="for-exec", definition=WAIT, roleArn=ROLE)[
        "stateMachineArn"
    ]
    first_revision = sfn.describe_state_machine(stateMachineArn=arn)["revisionId"]
    execution = sfn.start_execution(stateMachineArn=arn)["executionArn"]
    update = sfn.update_state_machine(stateMachineArn=arn, definition=pass_machine(2))
    assert update["revisionId"] != first_revision
    described = sfn.describe_state_machine_for_execution(executionArn=execution)
    assert described["stateMachineArn"] == arn
    assert described["name"] == "for-exec"
    assert described["definition"] == WAIT
    assert described["roleArn"] == ROLE
    assert described["revisionId"] == first_revision
    assert described["updateDate"] <= update["updateDate"]
    assert described["loggingConfiguration"]["level"] == "OFF"
    later = sfn.start_execution(stateMachineArn=arn)["executionArn"]
    again = sfn.describe_state_machine_for_execution(executionArn=later)
    assert (again["definition"], again["revisionId"]) == (pass_machine(2), update["revisionId"])
    assert again["updateDate"] == update["updateDate"]
    sfn.stop_execution(executionArn=execution)


def test_describe_state_machine_for_execution_errors(sfn: Any) -> None:
    with pytest.raises(ClientError) as e:
        sfn.describe_state_machine_for_execution(
            executionArn="arn:aws:states:us-east-1:123456789012:execution:none:none"
        )
    assert code(e) == "ExecutionDoesNotExist"
    with pytest.raises(ClientError) as e:
        sfn.describe_state_machine_for_execution(executionArn=SM_PREFIX + "for-exec")
    assert code(e) == "InvalidArn"
