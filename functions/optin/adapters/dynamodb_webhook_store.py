"""DynamoDB webhook store, in the contacts table (layout: ports/webhooks.py).

Delivery items never carry `status` (that would put them in the contacts' ByStatus index)
nor `expiresAt` (the table's TTL): their status is `deliveryStatus`. Every write that
decides something is conditional: a claim is an UpdateItem on "pending, due, and not leased
by anyone whose lease still runs"; the result of an attempt is a PutItem on "the lease is
still mine". A Put replaces the whole item, so a delivery that is no longer pending drops out
of the sparse DueDeliveries index by losing `dueShard`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from optin.adapters.lazy_client import LazyClient, session_client
from optin.domain.clock import from_iso, to_iso
from optin.domain.webhooks import Attempt, Delivery, DeliveryStatus, Endpoint
from optin.ports.webhooks import MAX_PAGE_SIZE, DeliveryPage, decode_cursor, encode_cursor

default_client_factory = session_client("dynamodb")

DELIVERIES_INDEX = "WebhookDeliveries"
DUE_INDEX = "DueDeliveries"
DUE_SHARD = "DUE"
ENDPOINT_SK = "ENDPOINT"
DELIVERY_SK = "DELIVERY"


def endpoint_pk(key_id: str) -> str:
    return f"WEBHOOK#{key_id}"


def delivery_pk(delivery_id: str) -> str:
    return f"DELIVERY#{delivery_id}"


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", "")).rsplit("#", 1)[-1]


def delivery_item(delivery: Delivery) -> dict[str, Any]:
    """The item of a delivery (the contact store writes new ones in its transactions)."""
    created = to_iso(delivery.created_at)
    item: dict[str, Any] = {
        "pk": _s(delivery_pk(delivery.id)),
        "sk": _s(DELIVERY_SK),
        "keyId": _s(delivery.key_id),
        "event": _s(json.dumps(delivery.event, sort_keys=True)),
        "deliveryStatus": _s(str(delivery.status)),
        "createdAt": _s(created),
        "giveUpAt": _s(to_iso(delivery.give_up_at)),
        "attempts": _s(json.dumps([attempt.as_dict() for attempt in delivery.attempts])),
        "deliveryKey": _s(delivery.key_id),
        "deliveryOrder": _s(f"{created}#{delivery.id}"),
    }
    if delivery.next_attempt_at is not None:
        item["nextAttemptAt"] = _s(to_iso(delivery.next_attempt_at))
    if delivery.status == DeliveryStatus.PENDING and delivery.next_attempt_at is not None:
        item["dueShard"] = _s(DUE_SHARD)
        item["dueAt"] = _s(f"{to_iso(delivery.next_attempt_at)}#{delivery.id}")
    if delivery.lease_token is not None and delivery.lease_until is not None:
        item["leaseToken"] = _s(delivery.lease_token)
        item["leaseUntil"] = _s(to_iso(delivery.lease_until))
    return item


def _text(item: dict[str, Any], name: str) -> str | None:
    value = item.get(name)
    return str(value["S"]) if value is not None else None


def _attempt(data: dict[str, Any]) -> Attempt:
    code, error, duration = data.get("statusCode"), data.get("error"), data.get("durationMs")
    return Attempt(
        at=from_iso(str(data["at"])),
        status_code=code if isinstance(code, int) else None,
        error=error if isinstance(error, str) else None,
        duration_ms=duration if isinstance(duration, int) else 0,
    )


def _delivery(item: dict[str, Any]) -> Delivery:
    next_at, lease_until = _text(item, "nextAttemptAt"), _text(item, "leaseUntil")
    return Delivery(
        id=str(item["pk"]["S"]).removeprefix("DELIVERY#"),
        key_id=str(item["keyId"]["S"]),
        event=json.loads(item["event"]["S"]),
        status=DeliveryStatus(item["deliveryStatus"]["S"]),
        created_at=from_iso(item["createdAt"]["S"]),
        next_attempt_at=from_iso(next_at) if next_at else None,
        give_up_at=from_iso(item["giveUpAt"]["S"]),
        attempts=tuple(_attempt(a) for a in json.loads(item["attempts"]["S"])),
        lease_token=_text(item, "leaseToken"),
        lease_until=from_iso(lease_until) if lease_until else None,
    )


class DynamoDbWebhookStore:
    def __init__(
        self, table_name: str, client_factory: Callable[[], Any] = default_client_factory
    ) -> None:
        self._table = table_name
        self._client = LazyClient(client_factory)

    def _get(self, pk: str, sk: str) -> dict[str, Any] | None:
        response = self._client().get_item(
            TableName=self._table, Key={"pk": _s(pk), "sk": _s(sk)}, ConsistentRead=True
        )
        item: dict[str, Any] | None = response.get("Item")
        return item

    # --- endpoints ---------------------------------------------------------------------------

    def get_endpoint(self, key_id: str) -> Endpoint | None:
        item = self._get(endpoint_pk(key_id), ENDPOINT_SK)
        if item is None or "url" not in item:
            return None  # never set, or the tombstone of a DELETE
        return Endpoint(
            key_id=key_id,
            url=item["url"]["S"],
            events=tuple(json.loads(item["events"]["S"])),
            created_at=from_iso(item["createdAt"]["S"]),
            secret=item["secret"]["S"],
        )

    def put_endpoint(self, endpoint: Endpoint) -> None:
        self._client().put_item(
            TableName=self._table,
            Item={
                "pk": _s(endpoint_pk(endpoint.key_id)),
                "sk": _s(ENDPOINT_SK),
                "url": _s(endpoint.url),
                "events": _s(json.dumps(list(endpoint.events))),
                "createdAt": _s(to_iso(endpoint.created_at)),
                # Encrypted at rest by the table's SSE (docs/security.md); needed in clear to sign.
                "secret": _s(endpoint.secret),
            },
        )

    def delete_endpoint(self, key_id: str, *, now: datetime) -> None:
        # A tombstone, not a DeleteItem: no role may delete from the contacts table.
        self._client().put_item(
            TableName=self._table,
            Item={
                "pk": _s(endpoint_pk(key_id)),
                "sk": _s(ENDPOINT_SK),
                "deletedAt": _s(to_iso(now)),
            },
        )

    # --- deliveries --------------------------------------------------------------------------

    def add_delivery(self, delivery: Delivery) -> None:
        try:
            self._client().put_item(
                TableName=self._table,
                Item=delivery_item(delivery),
                ConditionExpression="attribute_not_exists(pk)",
            )
        except ClientError as error:
            if _code(error) == "ConditionalCheckFailedException":
                raise ValueError(f"Delivery {delivery.id} exists already.") from error
            raise

    def get_delivery(self, delivery_id: str) -> Delivery | None:
        item = self._get(delivery_pk(delivery_id), DELIVERY_SK)
        return _delivery(item) if item else None

    def list_deliveries(
        self,
        key_id: str,
        *,
        status: DeliveryStatus | None = None,
        limit: int = 25,
        cursor: str | None = None,
    ) -> DeliveryPage:
        if not 1 <= limit <= MAX_PAGE_SIZE:
            raise ValueError(f"limit must be 1 to {MAX_PAGE_SIZE}.")
        binding = f"deliveries|{status or ''}"
        request: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": DELIVERIES_INDEX,
            "KeyConditionExpression": "deliveryKey = :key",
            "ExpressionAttributeValues": {":key": _s(key_id)},
            "ScanIndexForward": False,
        }
        if status is not None:
            # A filter within one partner's partition of the index, never over the table.
            request["FilterExpression"] = "deliveryStatus = :status"
            request["ExpressionAttributeValues"][":status"] = _s(str(status))
        start: dict[str, Any] | None = None
        if cursor:
            position = decode_cursor(cursor, binding)
            if len(position) != 2:
                raise ValueError("The cursor is not one this listing returned.")
            order, pk = position
            start = {
                "deliveryKey": _s(key_id),
                "deliveryOrder": _s(order),
                "pk": _s(pk),
                "sk": _s(DELIVERY_SK),
            }
        found: list[dict[str, Any]] = []
        while len(found) <= limit:
            page_request = dict(request, Limit=limit + 1 - len(found))
            if start:
                page_request["ExclusiveStartKey"] = start
            response = self._client().query(**page_request)
            found.extend(response.get("Items", []))
            start = response.get("LastEvaluatedKey")
            if not start:
                break
        page = found[:limit]
        next_cursor = None
        if len(found) > limit or (start and page):
            last = page[-1]
            next_cursor = encode_cursor(binding, [last["deliveryOrder"]["S"], last["pk"]["S"]])
        return DeliveryPage([_delivery(item) for item in page], next_cursor)

    def due(self, now: datetime, *, limit: int) -> list[Delivery]:
        response = self._client().query(
            TableName=self._table,
            IndexName=DUE_INDEX,
            KeyConditionExpression="dueShard = :due AND dueAt <= :now",
            # "#" sorts after every digit of the ISO time: everything due at `now` included.
            ExpressionAttributeValues={":due": _s(DUE_SHARD), ":now": _s(f"{to_iso(now)}#~")},
            Limit=limit,
        )
        return [_delivery(item) for item in response.get("Items", [])]

    def claim(
        self, delivery_id: str, *, token: str, now: datetime, until: datetime
    ) -> Delivery | None:
        try:
            response = self._client().update_item(
                TableName=self._table,
                Key={"pk": _s(delivery_pk(delivery_id)), "sk": _s(DELIVERY_SK)},
                UpdateExpression="SET leaseToken = :token, leaseUntil = :until",
                ConditionExpression=(
                    "deliveryStatus = :pending AND nextAttemptAt <= :now "
                    "AND (attribute_not_exists(leaseUntil) OR leaseUntil <= :now)"
                ),
                ExpressionAttributeValues={
                    ":token": _s(token),
                    ":until": _s(to_iso(until)),
                    ":pending": _s(str(DeliveryStatus.PENDING)),
                    ":now": _s(to_iso(now)),
                },
                ReturnValues="ALL_NEW",
            )
        except ClientError as error:
            if _code(error) == "ConditionalCheckFailedException":
                return None
            raise
        return _delivery(response["Attributes"])

    def finish(self, delivery: Delivery, *, token: str) -> bool:
        try:
            self._client().put_item(
                TableName=self._table,
                Item=delivery_item(delivery),
                ConditionExpression="leaseToken = :token",
                ExpressionAttributeValues={":token": _s(token)},
            )
        except ClientError as error:
            if _code(error) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def requeue(self, delivery: Delivery) -> None:
        item = delivery_item(delivery)
        item.pop("leaseToken", None)
        item.pop("leaseUntil", None)
        self._client().put_item(
            TableName=self._table, Item=item, ConditionExpression="attribute_exists(pk)"
        )
