"""DynamoDB rate limiter, in the contacts table (CONTACTS_TABLE), in partitions of its own:

- `RATE#<scope>#<hash>#<window seconds>`, sort key the window's start (epoch seconds):
  `hits`, and `expiresAt` (TTL) at the window's end;
- `CHALLENGE#<sha256 of the challenge>`, sort key `USED`: a solved CAPTCHA challenge, TTL at
  its expiry;
- `BLOCKED#DAILY`, sort key the day (YYYY-MM-DD): one number attribute per reason.

A check-and-count is one TransactWriteItems of conditional `ADD hits :one` updates (`hits <
maximum`), so all counters move together or none does; the cancellation reasons say which
one was full. The roles may write only these partitions (template.yaml, LeadingKeys).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from optin.adapters.lazy_client import LazyClient, session_client
from optin.domain.errors import StoreUnavailable
from optin.domain.rate_limits import Counter

default_client_factory = session_client("dynamodb")

RATE_PREFIX = "RATE#"
CHALLENGE_PREFIX = "CHALLENGE#"
BLOCKED_PK = "BLOCKED#DAILY"


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", "")).rsplit("#", 1)[-1]


class DynamoDbRateLimiter:
    def __init__(
        self, table_name: str, client_factory: Callable[[], Any] = default_client_factory
    ) -> None:
        self._table = table_name
        self._client = LazyClient(client_factory)

    def hit(self, counters: Sequence[Counter], now: datetime) -> Counter | None:
        items = [
            {
                "Update": {
                    "TableName": self._table,
                    "Key": {
                        "pk": {"S": RATE_PREFIX + counter.key},
                        "sk": {"S": str(counter.window_start)},
                    },
                    "UpdateExpression": "ADD hits :one SET expiresAt = :end",
                    "ConditionExpression": "attribute_not_exists(hits) OR hits < :max",
                    "ExpressionAttributeValues": {
                        ":one": {"N": "1"},
                        ":end": {"N": str(counter.window_end)},
                        ":max": {"N": str(counter.limit.maximum)},
                    },
                }
            }
            for counter in counters
        ]
        try:
            self._client().transact_write_items(TransactItems=items)
        except ClientError as error:
            if _code(error) != "TransactionCanceledException":
                raise StoreUnavailable(f"rate limiter: {_code(error)}") from error
            reasons = error.response.get("CancellationReasons") or []
            for counter, reason in zip(counters, reasons, strict=False):
                if reason.get("Code") == "ConditionalCheckFailed":
                    return counter
            # Cancelled for another reason (a conflicting transaction): busy, not full.
            raise StoreUnavailable("rate limiter: transaction cancelled") from error
        except BotoCoreError as error:
            raise StoreUnavailable(f"rate limiter: {type(error).__name__}") from error
        return None

    def use_once(self, token: str, expires_at: datetime, now: datetime) -> bool:
        digest = hashlib.sha256(token.encode()).hexdigest()
        try:
            self._client().put_item(
                TableName=self._table,
                Item={
                    "pk": {"S": CHALLENGE_PREFIX + digest},
                    "sk": {"S": "USED"},
                    "expiresAt": {"N": str(int(expires_at.timestamp()))},
                },
                # TTL deletes late (up to days): an expired record is free to reuse.
                ConditionExpression="attribute_not_exists(pk) OR expiresAt <= :now",
                ExpressionAttributeValues={":now": {"N": str(int(now.timestamp()))}},
            )
        except ClientError as error:
            if _code(error) == "ConditionalCheckFailedException":
                return False
            raise StoreUnavailable(f"rate limiter: {_code(error)}") from error
        except BotoCoreError as error:
            raise StoreUnavailable(f"rate limiter: {type(error).__name__}") from error
        return True

    def count_blocked(self, reason: str, day: date) -> None:
        try:
            self._client().update_item(
                TableName=self._table,
                Key={"pk": {"S": BLOCKED_PK}, "sk": {"S": day.isoformat()}},
                UpdateExpression="ADD #reason :one",
                ExpressionAttributeNames={"#reason": reason},
                ExpressionAttributeValues={":one": {"N": "1"}},
            )
        except ClientError as error:
            raise StoreUnavailable(f"rate limiter: {_code(error)}") from error
        except BotoCoreError as error:
            raise StoreUnavailable(f"rate limiter: {type(error).__name__}") from error

    def blocked(self, days: Sequence[date]) -> dict[str, int]:
        totals: dict[str, int] = {}
        for day in days:
            try:
                item = (
                    self._client()
                    .get_item(
                        TableName=self._table,
                        Key={"pk": {"S": BLOCKED_PK}, "sk": {"S": day.isoformat()}},
                    )
                    .get("Item")
                )
            except ClientError as error:
                raise StoreUnavailable(f"rate limiter: {_code(error)}") from error
            except BotoCoreError as error:
                raise StoreUnavailable(f"rate limiter: {type(error).__name__}") from error
            for name, value in (item or {}).items():
                if name not in ("pk", "sk") and "N" in value:
                    totals[name] = totals.get(name, 0) + int(value["N"])
        return dict(sorted(totals.items()))
