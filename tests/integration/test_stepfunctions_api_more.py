# ruff: noqa: F811  -- pytest fixtures imported from the module that defines them
"""The Step Functions operations beyond the first thirteen, through boto3 against the
standalone server: tags, DescribeStateMachineForExecution, versions and aliases."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest
from botocore.exceptions import ClientError

from local.stepfunctions.server import Server
from tests.integration.test_stepfunctions_api import code, server, sfn  # noqa: F401
from tests.support.stepfunctions import wait_terminal as wait

ROLE = "arn:aws:iam::123456789012:role/test"
SM_PREFIX = "arn:aws:states:us-east-1:123456789012:stateMachine:"


def pass_machine(result: Any) -> str:
    return json.dumps(
        {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": result, "End": True}}}
    )


def create(sfn: Any, name: str, result: Any = 1, **extra: Any) -> str:
    return str(
        sfn.create_state_machine(name=name, definition=pass_machine(result), roleArn=ROLE, **extra)[
            "stateMachineArn"
        ]
    )


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


# ---------------------------------------------------------------- versions and aliases


def run_output(sfn: Any, arn: str) -> tuple[Any, dict[str, Any]]:
    execution = sfn.start_execution(stateMachineArn=arn)["executionArn"]
    described = wait(sfn, execution)
    assert described["status"] == "SUCCEEDED"
    return json.loads(described["output"]), described


def test_versions_publish_list_run_delete(sfn: Any) -> None:
    created = sfn.create_state_machine(
        name="versioned",
        definition=pass_machine(1),
        roleArn=ROLE,
        publish=True,
        versionDescription="first",
    )
    arn = created["stateMachineArn"]
    v1 = created["stateMachineVersionArn"]
    assert v1 == arn + ":1"
    # The same revision is published once: publishing again answers version 1.
    again = sfn.publish_state_machine_version(stateMachineArn=arn)
    assert again["stateMachineVersionArn"] == v1
    with pytest.raises(ClientError) as e:
        sfn.publish_state_machine_version(stateMachineArn=arn, description="other")
    assert code(e) == "ConflictException"
    updated = sfn.update_state_machine(
        stateMachineArn=arn, definition=pass_machine(2), publish=True
    )
    v2 = updated["stateMachineVersionArn"]
    assert v2 == arn + ":2"
    sfn.update_state_machine(stateMachineArn=arn, definition=pass_machine(3))
    revision = sfn.describe_state_machine(stateMachineArn=arn)["revisionId"]
    with pytest.raises(ClientError) as e:
        sfn.publish_state_machine_version(stateMachineArn=arn, revisionId="stale")
    assert code(e) == "ConflictException"
    v3 = sfn.publish_state_machine_version(stateMachineArn=arn, revisionId=revision)
    assert v3["stateMachineVersionArn"] == arn + ":3"
    listed = sfn.list_state_machine_versions(stateMachineArn=arn)["stateMachineVersions"]
    assert [v["stateMachineVersionArn"] for v in listed] == [arn + ":3", v2, v1]
    first = sfn.describe_state_machine(stateMachineArn=v1)
    assert first["stateMachineArn"] == v1
    assert (first["definition"], first["description"]) == (pass_machine(1), "first")
    assert first["revisionId"] != revision
    assert sfn.describe_state_machine(stateMachineArn=arn)["definition"] == pass_machine(3)
    page = sfn.list_state_machine_versions(stateMachineArn=arn, maxResults=2)
    assert len(page["stateMachineVersions"]) == 2
    rest = sfn.list_state_machine_versions(stateMachineArn=arn, nextToken=page["nextToken"])
    assert [v["stateMachineVersionArn"] for v in rest["stateMachineVersions"]] == [v1]

    # A version runs its own definition; the unqualified ARN runs the latest.
    output, described = run_output(sfn, v1)
    assert output == 1
    assert described["stateMachineVersionArn"] == v1
    assert "stateMachineAliasArn" not in described
    assert described["stateMachineArn"] == arn
    for_execution = sfn.describe_state_machine_for_execution(executionArn=described["executionArn"])
    assert for_execution["definition"] == pass_machine(1)
    output, described = run_output(sfn, arn)
    assert output == 3
    assert "stateMachineVersionArn" not in described

    # Numbers are not reused after a delete; deleting an absent version is not an error.
    sfn.delete_state_machine_version(stateMachineVersionArn=arn + ":3")
    sfn.delete_state_machine_version(stateMachineVersionArn=arn + ":3")
    sfn.update_state_machine(stateMachineArn=arn, definition=pass_machine(4))
    assert sfn.publish_state_machine_version(stateMachineArn=arn)["stateMachineVersionArn"] == (
        arn + ":4"
    )
    for call in (sfn.start_execution, sfn.describe_state_machine):
        with pytest.raises(ClientError) as e:
            call(stateMachineArn=arn + ":3")
        assert code(e) == "StateMachineDoesNotExist"


def test_version_bad_input(sfn: Any) -> None:
    arn = create(sfn, "versions-bad")
    with pytest.raises(ClientError) as e:
        sfn.publish_state_machine_version(stateMachineArn=SM_PREFIX + "absent")
    assert code(e) == "StateMachineDoesNotExist"
    with pytest.raises(ClientError) as e:
        sfn.update_state_machine(
            stateMachineArn=arn, definition=pass_machine(2), versionDescription="no publish"
        )
    assert code(e) == "ValidationException"
    with pytest.raises(ClientError) as e:
        sfn.delete_state_machine_version(stateMachineVersionArn=arn)
    assert code(e) == "InvalidArn"
    with pytest.raises(ClientError) as e:
        sfn.list_state_machine_versions(stateMachineArn="arn:aws:sns:us-east-1:1:t")
    assert code(e) == "InvalidArn"
    with pytest.raises(ClientError) as e:
        sfn.publish_state_machine_version(stateMachineArn=arn, description="d" * 257)
    assert code(e) == "ValidationException"


def test_aliases(sfn: Any) -> None:
    arn = create(sfn, "aliased", "one")
    v1 = sfn.publish_state_machine_version(stateMachineArn=arn)["stateMachineVersionArn"]
    sfn.update_state_machine(stateMachineArn=arn, definition=pass_machine("two"), publish=True)
    v2 = arn + ":2"
    routing = [{"stateMachineVersionArn": v1, "weight": 100}]
    created = sfn.create_state_machine_alias(
        name="PROD", routingConfiguration=routing, description="live"
    )
    alias = created["stateMachineAliasArn"]
    assert alias == arn + ":PROD"
    # The same alias again is idempotent; another routing under the name is a conflict.
    again = sfn.create_state_machine_alias(
        name="PROD", routingConfiguration=routing, description="live"
    )
    assert again["creationDate"] == created["creationDate"]
    with pytest.raises(ClientError) as e:
        sfn.create_state_machine_alias(
            name="PROD", routingConfiguration=[{"stateMachineVersionArn": v2, "weight": 100}]
        )
    assert code(e) == "ConflictException"
    described = sfn.describe_state_machine_alias(stateMachineAliasArn=alias)
    assert described["name"] == "PROD"
    assert described["description"] == "live"
    assert described["routingConfiguration"] == routing
    output, execution = run_output(sfn, alias)
    assert output == "one"
    assert execution["stateMachineAliasArn"] == alias
    assert execution["stateMachineVersionArn"] == v1

    # An alias in use keeps its versions.
    with pytest.raises(ClientError) as e:
        sfn.delete_state_machine_version(stateMachineVersionArn=v1)
    assert code(e) == "ConflictException"

    # Split routing: both versions run, in roughly their weights' proportion.
    sfn.update_state_machine_alias(
        stateMachineAliasArn=alias,
        routingConfiguration=[
            {"stateMachineVersionArn": v1, "weight": 50},
            {"stateMachineVersionArn": v2, "weight": 50},
        ],
    )
    assert sfn.describe_state_machine_alias(stateMachineAliasArn=alias)["description"] == "live"
    seen = {v1: 0, v2: 0}
    for _ in range(40):
        execution_arn = sfn.start_execution(stateMachineArn=alias)["executionArn"]
        seen[sfn.describe_execution(executionArn=execution_arn)["stateMachineVersionArn"]] += 1
    assert seen[v1] >= 5 and seen[v2] >= 5, seen

    # Weight 0 never runs.
    sfn.update_state_machine_alias(
        stateMachineAliasArn=alias,
        routingConfiguration=[
            {"stateMachineVersionArn": v1, "weight": 0},
            {"stateMachineVersionArn": v2, "weight": 100},
        ],
    )
    for _ in range(10):
        assert run_output(sfn, alias)[0] == "two"

    # ListExecutions of a version lists what ran it, by alias or not; of an alias, what the
    # alias started; of the machine, everything.
    all_executions = sfn.list_executions(stateMachineArn=arn)["executions"]
    by_alias = sfn.list_executions(stateMachineArn=alias)["executions"]
    by_v1 = sfn.list_executions(stateMachineArn=v1)["executions"]
    assert len(all_executions) == len(by_alias) == 51
    assert {e["stateMachineAliasArn"] for e in by_alias} == {alias}
    assert len(by_v1) == 1 + seen[v1]
    assert {e["stateMachineVersionArn"] for e in by_v1} == {v1}
    with pytest.raises(ClientError) as e:
        sfn.list_executions(stateMachineArn=arn + ":absent")
    assert code(e) == "ResourceNotFound"

    sfn.create_state_machine_alias(
        name="beta", routingConfiguration=[{"stateMachineVersionArn": v2, "weight": 100}]
    )
    listed = sfn.list_state_machine_aliases(stateMachineArn=arn)["stateMachineAliases"]
    assert [a["stateMachineAliasArn"] for a in listed] == [alias, arn + ":beta"]
    page = sfn.list_state_machine_aliases(stateMachineArn=arn, maxResults=1)
    assert [a["stateMachineAliasArn"] for a in page["stateMachineAliases"]] == [alias]
    rest = sfn.list_state_machine_aliases(stateMachineArn=arn, nextToken=page["nextToken"])
    assert [a["stateMachineAliasArn"] for a in rest["stateMachineAliases"]] == [arn + ":beta"]

    sfn.delete_state_machine_alias(stateMachineAliasArn=alias)
    with pytest.raises(ClientError) as e:
        sfn.describe_state_machine_alias(stateMachineAliasArn=alias)
    assert code(e) == "ResourceNotFound"
    with pytest.raises(ClientError) as e:
        sfn.start_execution(stateMachineArn=alias)
    assert code(e) == "ResourceNotFound"
    # Deleting the machine deletes its versions and aliases.
    sfn.delete_state_machine(stateMachineArn=arn)
    assert create(sfn, "aliased") == arn
    assert sfn.list_state_machine_versions(stateMachineArn=arn)["stateMachineVersions"] == []
    assert sfn.list_state_machine_aliases(stateMachineArn=arn)["stateMachineAliases"] == []


def test_alias_bad_input(sfn: Any, server: Server) -> None:
    arn = create(sfn, "alias-bad")
    v1 = sfn.publish_state_machine_version(stateMachineArn=arn)["stateMachineVersionArn"]
    other = create(sfn, "alias-bad-other")
    w1 = sfn.publish_state_machine_version(stateMachineArn=other)["stateMachineVersionArn"]
    bad_routings: list[tuple[list[dict[str, Any]], str]] = [
        ([{"stateMachineVersionArn": v1, "weight": 60}], "ValidationException"),
        (
            [
                {"stateMachineVersionArn": v1, "weight": 50},
                {"stateMachineVersionArn": w1, "weight": 50},
            ],
            "ValidationException",
        ),
        (
            [
                {"stateMachineVersionArn": v1, "weight": 50},
                {"stateMachineVersionArn": v1, "weight": 50},
            ],
            "ValidationException",
        ),
        ([{"stateMachineVersionArn": arn + ":9", "weight": 100}], "ResourceNotFound"),
        ([{"stateMachineVersionArn": arn, "weight": 100}], "InvalidArn"),
    ]
    for routing, expected in bad_routings:
        with pytest.raises(ClientError) as e:
            sfn.create_state_machine_alias(name="a", routingConfiguration=routing)
        assert code(e) == expected, routing
    # Three versions, a weight over 100, a digits-only name: posted raw (botocore refuses).
    three = [{"stateMachineVersionArn": v1, "weight": 0}] * 2 + [
        {"stateMachineVersionArn": v1, "weight": 100}
    ]
    for body, expected in (
        ({"name": "a", "routingConfiguration": three}, "ValidationException"),
        (
            {"name": "a", "routingConfiguration": [{"stateMachineVersionArn": v1, "weight": 101}]},
            "ValidationException",
        ),
        (
            {
                "name": "123",
                "routingConfiguration": [{"stateMachineVersionArn": v1, "weight": 100}],
            },
            "InvalidName",
        ),
    ):
        status, answer = raw(server, "CreateStateMachineAlias", body)
        assert (status, answer["__type"]) == (400, expected), body
    with pytest.raises(ClientError) as e:
        sfn.create_state_machine_alias(
            name="has space", routingConfiguration=[{"stateMachineVersionArn": v1, "weight": 100}]
        )
    assert code(e) == "InvalidName"
    with pytest.raises(ClientError) as e:
        sfn.describe_state_machine_alias(stateMachineAliasArn=arn + ":absent")
    assert code(e) == "ResourceNotFound"
    with pytest.raises(ClientError) as e:
        sfn.describe_state_machine_alias(stateMachineAliasArn=arn)
    assert code(e) == "InvalidArn"
    with pytest.raises(ClientError) as e:
        sfn.describe_state_machine(stateMachineArn=arn + ":absent")
    assert code(e) == "InvalidArn"
    with pytest.raises(ClientError) as e:
        sfn.update_state_machine_alias(stateMachineAliasArn=arn + ":absent", description="x")
    assert code(e) == "ResourceNotFound"
    with pytest.raises(ClientError) as e:
        sfn.delete_state_machine_alias(stateMachineAliasArn=arn + ":absent")
    assert code(e) == "ResourceNotFound"
    with pytest.raises(ClientError) as e:
        sfn.list_state_machine_aliases(stateMachineArn=SM_PREFIX + "absent")
    assert code(e) == "StateMachineDoesNotExist"
