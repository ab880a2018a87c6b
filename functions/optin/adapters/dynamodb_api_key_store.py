"""DynamoDB API key store, in the contacts table (CONTACTS_TABLE): one partition `APIKEYS`,
sort key `KEY#<key id>`, attributes name, secretHash, createdAt, revokedAt. Every key in one
partition makes the listing one Query; partners are few, so the partition stays small."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from optin.adapters.lazy_client import LazyClient, session_client
from optin.domain.api_keys import ApiKey, KeyNotFound
from optin.domain.clock import from_iso, to_iso

default_client_factory = session_client("dynamodb")

PK = "APIKEYS"
SK_PREFIX = "KEY#"


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", "")).rsplit("#", 1)[-1]


def _record(item: dict[str, Any]) -> ApiKey:
    revoked = item.get("revokedAt")
    return ApiKey(
        key_id=item["sk"]["S"].removeprefix(SK_PREFIX),
        name=item["name"]["S"],
        secret_hash=item["secretHash"]["S"],
        created_at=from_iso(item["createdAt"]["S"]),
        revoked_at=from_iso(revoked["S"]) if revoked else None,
    )


class DynamoDbApiKeyStore:
    def __init__(
        self, table_name: str, client_factory: Callable[[], Any] = default_client_factory
    ) -> None:
        self._table = table_name
        self._client = LazyClient(client_factory)

    def _key(self, key_id: str) -> dict[str, Any]:
        return {"pk": {"S": PK}, "sk": {"S": f"{SK_PREFIX}{key_id}"}}

    def add(self, record: ApiKey) -> None:
        item = {
            **self._key(record.key_id),
            "name": {"S": record.name},
            "secretHash": {"S": record.secret_hash},
            "createdAt": {"S": to_iso(record.created_at)},
        }
        if record.revoked_at:
            item["revokedAt"] = {"S": to_iso(record.revoked_at)}
        try:
            self._client().put_item(
                TableName=self._table, Item=item, ConditionExpression="attribute_not_exists(pk)"
            )
        except ClientError as error:
            if _code(error) == "ConditionalCheckFailedException":
                raise ValueError(f"The key id {record.key_id} is taken.") from error
            raise

    def get(self, key_id: str) -> ApiKey | None:
        # Strongly consistent: a key revoked a moment ago must stop at once.
        response = self._client().get_item(
            TableName=self._table, Key=self._key(key_id), ConsistentRead=True
        )
        item = response.get("Item")
        return _record(item) if item else None

    def list(self) -> list[ApiKey]:
        request: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": {":pk": {"S": PK}, ":prefix": {"S": SK_PREFIX}},
            "ConsistentRead": True,
        }
        found: list[ApiKey] = []
        while True:
            response = self._client().query(**request)
            found.extend(_record(item) for item in response.get("Items", []))
            last = response.get("LastEvaluatedKey")
            if not last:
                break
            request["ExclusiveStartKey"] = last
        return sorted(found, key=lambda record: (record.created_at, record.key_id))

    def revoke(self, key_id: str, *, now: datetime) -> ApiKey:
        try:
            response = self._client().update_item(
                TableName=self._table,
                Key=self._key(key_id),
                # if_not_exists: a second revoke keeps the first time.
                UpdateExpression="SET revokedAt = if_not_exists(revokedAt, :now)",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues={":now": {"S": to_iso(now)}},
                ReturnValues="ALL_NEW",
            )
        except ClientError as error:
            if _code(error) == "ConditionalCheckFailedException":
                raise KeyNotFound(f"No API key with the id {key_id}.") from error
            raise
        return _record(response["Attributes"])
