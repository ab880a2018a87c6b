"""Webhook ports: the endpoint and delivery records, the HTTP POST, and the dispatcher nudge.

Records live beside the contacts (the same SQLite file; the contacts table on DynamoDB),
because a delivery is written by the contact store's `save`, in the transaction of the
status change it reports (`ContactStore.save(..., deliveries=...)`). Layout on DynamoDB:

* endpoint  pk WEBHOOK#<key id>, sk ENDPOINT: url, events, createdAt, secret (a DELETE
            overwrites it with a tombstone: no role may delete items of the table).
* delivery  pk DELIVERY#<id>, sk DELIVERY: keyId, the payload, deliveryStatus, attempts,
            nextAttemptAt, giveUpAt, the lease. `deliveryKey`/`deliveryOrder` (key id;
            createdAt#id) put it in the WebhookDeliveries index (a key's deliveries, newest
            first); while pending, `dueShard`/`dueAt` put it in the sparse DueDeliveries
            index (due deliveries, soonest first, without a Scan).
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from optin.domain.webhooks import Delivery, DeliveryStatus, Endpoint

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 25


def encode_cursor(binding: str, position: list[str]) -> str:
    """Opaque, URL-safe text for where a listing stopped, bound to what it lists."""
    raw = json.dumps({"q": binding, "after": position}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, binding: str) -> list[str]:
    """The position in a cursor made by `encode_cursor` for `binding`; ValueError else."""
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError):
        data = None
    after = data.get("after") if isinstance(data, dict) else None
    if (
        not isinstance(data, dict)
        or data.get("q") != binding
        or not isinstance(after, list)
        or not all(isinstance(part, str) for part in after)
    ):
        raise ValueError("The cursor is not one this listing returned.")
    return after


@dataclass(frozen=True)
class DeliveryPage:
    deliveries: list[Delivery]
    cursor: str | None


class WebhookStore(Protocol):
    def get_endpoint(self, key_id: str) -> Endpoint | None:
        """The key's endpoint, or None (never set, or deleted)."""
        ...

    def put_endpoint(self, endpoint: Endpoint) -> None:
        """Set (or replace) the key's endpoint."""
        ...

    def delete_endpoint(self, key_id: str, *, now: datetime) -> None:
        """Remove the key's endpoint (its deliveries stay, for the log)."""
        ...

    def add_delivery(self, delivery: Delivery) -> None:
        """Write a new delivery (conditional: its id must be new; ValueError if not)."""
        ...

    def get_delivery(self, delivery_id: str) -> Delivery | None: ...

    def list_deliveries(
        self,
        key_id: str,
        *,
        status: DeliveryStatus | None = None,
        limit: int = DEFAULT_PAGE_SIZE,
        cursor: str | None = None,
    ) -> DeliveryPage:
        """The key's deliveries, newest first (an index query); ValueError for a cursor
        this listing did not return."""
        ...

    def due(self, now: datetime, *, limit: int) -> list[Delivery]:
        """Pending deliveries whose next attempt is at or before `now`, soonest first (an
        index query). Leased ones may be among them: `claim` decides."""
        ...

    def claim(
        self, delivery_id: str, *, token: str, now: datetime, until: datetime
    ) -> Delivery | None:
        """Take the lease on a due, pending delivery (one conditional write): the delivery
        with the lease, or None when it is not due, not pending, or leased by another
        dispatcher whose lease has not run out."""
        ...

    def finish(self, delivery: Delivery, *, token: str) -> bool:
        """Write a delivery after an attempt, only while `token` still holds its lease;
        False when it does not (the lease ran out and another dispatcher took it)."""
        ...

    def requeue(self, delivery: Delivery) -> None:
        """Write a replayed delivery (pending, due now), whoever held it."""
        ...


@dataclass(frozen=True)
class PostResult:
    status_code: int | None  # None: no HTTP answer (refused, timed out, TLS...)
    error: str | None
    duration_ms: int
    permanent: bool = False  # refused before sending (the URL's address): never retried


class WebhookPoster(Protocol):
    def post(self, url: str, body: bytes, headers: dict[str, str]) -> PostResult:
        """POST `body` to `url` once (no retries of its own), with the timeout and address
        rules of the deployment."""
        ...


class DispatchNudge(Protocol):
    def nudge(self) -> None:
        """Ask the dispatcher to run soon (best effort: a failure is logged, the scheduled
        sweep catches up)."""
        ...
