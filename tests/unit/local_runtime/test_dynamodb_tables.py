"""ensure_tables: the template's tables, created at a DynamoDB endpoint (moto here)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from local.runtime.cfn_yaml import load_template
from local.runtime.dynamodb_tables import create_table_requests, ensure_tables, table_names
from local.runtime.template import TemplateError

ROOT = Path(__file__).resolve().parents[3]
TEMPLATE = ROOT / "template.yaml"
TABLES = ["ContactsTable", "IdempotencyTable"]


def contacts_request() -> dict[str, Any]:
    return next(r for r in create_table_requests(TEMPLATE) if r["TableName"] == "ContactsTable")


@pytest.fixture
def client(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL_DYNAMODB", raising=False)
    with mock_aws():
        yield boto3.client("dynamodb", region_name="us-east-1")


def write_template(tmp_path: Path, table_yaml: str) -> Path:
    path = tmp_path / "template.yaml"
    path.write_text(
        "Parameters:\n"
        "  Suffix: {Type: String, Default: a}\n"
        "Resources:\n"
        "  Topic: {Type: AWS::SNS::Topic}\n" + table_yaml,
        encoding="utf-8",
    )
    return path


def test_creates_the_templates_tables_as_declared(client: Any) -> None:
    assert ensure_tables(client, TEMPLATE) == TABLES
    table = client.describe_table(TableName="ContactsTable")["Table"]
    declared = load_template(TEMPLATE)["Resources"]["ContactsTable"]["Properties"]
    assert table["TableStatus"] == "ACTIVE"
    assert table["KeySchema"] == declared["KeySchema"]
    assert sorted(table["AttributeDefinitions"], key=lambda a: a["AttributeName"]) == sorted(
        declared["AttributeDefinitions"], key=lambda a: a["AttributeName"]
    )
    assert table["BillingModeSummary"]["BillingMode"] == declared["BillingMode"]
    indexes = {index["IndexName"]: index for index in table["GlobalSecondaryIndexes"]}
    declared_indexes = {index["IndexName"]: index for index in declared["GlobalSecondaryIndexes"]}
    assert (
        set(indexes)
        == set(declared_indexes)
        == {
            "ByStatus",
            "PendingByExpiry",
            "WebhookDeliveries",
            "DueDeliveries",
        }
    )
    for name, index in indexes.items():
        assert index["KeySchema"] == declared_indexes[name]["KeySchema"]
        assert index["Projection"] == declared_indexes[name]["Projection"]


def test_a_table_of_an_older_template_gains_the_indexes_it_lacks(client: Any) -> None:
    request = contacts_request()
    older = {
        **request,
        "AttributeDefinitions": [
            a
            for a in request["AttributeDefinitions"]
            if a["AttributeName"] in ("pk", "sk", "status", "updatedAt")
        ],
        "GlobalSecondaryIndexes": [
            i for i in request["GlobalSecondaryIndexes"] if i["IndexName"] == "ByStatus"
        ],
    }
    client.create_table(**older)
    client.put_item(TableName="ContactsTable", Item={"pk": {"S": "x"}, "sk": {"S": "y"}})
    assert ensure_tables(client, TEMPLATE) == ["IdempotencyTable"]
    table = client.describe_table(TableName="ContactsTable")["Table"]
    names = {index["IndexName"] for index in table["GlobalSecondaryIndexes"]}
    assert names == {"ByStatus", "PendingByExpiry", "WebhookDeliveries", "DueDeliveries"}
    assert client.get_item(TableName="ContactsTable", Key={"pk": {"S": "x"}, "sk": {"S": "y"}})[
        "Item"
    ]
    assert ensure_tables(client, TEMPLATE) == []  # nothing more to add


def test_a_second_call_creates_nothing_and_keeps_the_data(client: Any) -> None:
    ensure_tables(client, TEMPLATE)
    client.put_item(TableName="ContactsTable", Item={"pk": {"S": "x"}, "sk": {"S": "y"}})
    assert ensure_tables(client, TEMPLATE) == []
    assert client.get_item(TableName="ContactsTable", Key={"pk": {"S": "x"}, "sk": {"S": "y"}})[
        "Item"
    ]


def test_an_existing_table_is_left_alone(client: Any) -> None:
    # Whatever its definition: ensure_tables creates, it never migrates or replaces.
    client.create_table(
        TableName="ContactsTable",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    assert ensure_tables(client, TEMPLATE) == ["IdempotencyTable"]
    table = client.describe_table(TableName="ContactsTable")["Table"]
    assert table["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]


def test_only_the_absent_tables_are_created(client: Any, tmp_path: Path) -> None:
    path = write_template(
        tmp_path,
        "  First:\n"
        "    Type: AWS::DynamoDB::Table\n"
        "    Properties:\n"
        "      BillingMode: PROVISIONED\n"
        "      ProvisionedThroughput: {ReadCapacityUnits: 1, WriteCapacityUnits: 2}\n"
        "      AttributeDefinitions: [{AttributeName: id, AttributeType: S}]\n"
        "      KeySchema: [{AttributeName: id, KeyType: HASH}]\n"
        "  Second:\n"
        "    Type: AWS::DynamoDB::Table\n"
        "    Properties:\n"
        "      BillingMode: PAY_PER_REQUEST\n"
        "      AttributeDefinitions: [{AttributeName: id, AttributeType: N}]\n"
        "      KeySchema: [{AttributeName: id, KeyType: HASH}]\n",
    )
    client.create_table(
        TableName="Second",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "N"}],
        BillingMode="PAY_PER_REQUEST",
    )
    assert ensure_tables(client, path) == ["First"]
    first = client.describe_table(TableName="First")["Table"]
    assert first["ProvisionedThroughput"]["WriteCapacityUnits"] == 2


def test_names_are_the_local_runtimes_physical_names() -> None:
    assert table_names(TEMPLATE) == {name: name for name in TABLES}
    request = contacts_request()
    assert request["TableName"] == "ContactsTable"
    # CloudFormation-only properties never reach CreateTable.
    assert "PointInTimeRecoverySpecification" not in request
    assert "SSESpecification" not in request


def test_intrinsics_in_the_definition_are_resolved(tmp_path: Path) -> None:
    path = write_template(
        tmp_path,
        "  T:\n"
        "    Type: AWS::DynamoDB::Table\n"
        "    Properties:\n"
        "      BillingMode: PAY_PER_REQUEST\n"
        "      AttributeDefinitions: [{AttributeName: !Sub 'id${Suffix}', AttributeType: S}]\n"
        "      KeySchema: [{AttributeName: !Sub 'id${Suffix}', KeyType: HASH}]\n",
    )
    [request] = create_table_requests(path, {"Suffix": "b"})
    assert request["KeySchema"] == [{"AttributeName": "idb", "KeyType": "HASH"}]
    with pytest.raises(TemplateError, match="unknown parameter"):
        create_table_requests(path, {"Nope": "x"})


def test_provisioned_without_throughput_is_refused(tmp_path: Path) -> None:
    # No BillingMode means PROVISIONED, as in CloudFormation.
    path = write_template(
        tmp_path,
        "  T:\n"
        "    Type: AWS::DynamoDB::Table\n"
        "    Properties:\n"
        "      AttributeDefinitions: [{AttributeName: id, AttributeType: S}]\n"
        "      KeySchema: [{AttributeName: id, KeyType: HASH}]\n",
    )
    with pytest.raises(TemplateError, match="ProvisionedThroughput"):
        create_table_requests(path)


def test_a_table_without_keys_is_refused(tmp_path: Path) -> None:
    path = write_template(
        tmp_path, "  T:\n    Type: AWS::DynamoDB::Table\n    Properties: {BillingMode: X}\n"
    )
    with pytest.raises(TemplateError, match="KeySchema"):
        create_table_requests(path)


class _RacingClient:
    """describe says absent, then create loses to another process; later describes see it."""

    def __init__(self, statuses: list[str]) -> None:
        self.statuses = statuses
        self.described = 0

    def describe_table(self, TableName: str) -> dict[str, Any]:
        self.described += 1
        if self.described == 1:
            raise ClientError(
                {"Error": {"Code": "ResourceNotFoundException", "Message": "no"}}, "DescribeTable"
            )
        status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
        return {
            "Table": {
                "TableStatus": status,
                "GlobalSecondaryIndexes": [{"IndexName": "ByStatus", "IndexStatus": status}],
            }
        }

    def create_table(self, **request: Any) -> None:
        raise ClientError(
            {"Error": {"Code": "ResourceInUseException", "Message": "in use"}}, "CreateTable"
        )


def test_losing_the_creation_race_waits_for_the_winner(tmp_path: Path) -> None:
    # A template of the contacts table alone (JSON is YAML): one race, one table to wait for.
    contacts = load_template(TEMPLATE)["Resources"]["ContactsTable"]
    one_table = tmp_path / "template.json"
    one_table.write_text(json.dumps({"Resources": {"ContactsTable": contacts}}))
    fake = _RacingClient(["CREATING", "CREATING", "ACTIVE"])
    naps: list[float] = []
    assert ensure_tables(fake, one_table, sleep=naps.append) == []
    assert len(naps) == 2


def test_a_table_that_never_becomes_active_times_out() -> None:
    fake = _RacingClient(["CREATING"])
    with pytest.raises(TimeoutError, match="ContactsTable"):
        ensure_tables(fake, TEMPLATE, timeout_seconds=0.0, sleep=lambda _: None)


def test_other_errors_propagate() -> None:
    class Denied(_RacingClient):
        def create_table(self, **request: Any) -> None:
            raise ClientError(
                {"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "CreateTable"
            )

    with pytest.raises(ClientError, match="AccessDenied"):
        ensure_tables(Denied(["ACTIVE"]), TEMPLATE)
