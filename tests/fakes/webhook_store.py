"""In-memory webhook store (ports/webhooks.py): endpoints and deliveries behind one lock.

MemoryContactStore owns one (`store.webhooks`) and adds a save's deliveries to it in the
same critical section as the contact, as the real stores do in one transaction."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from optin.domain.clock import to_iso
from optin.domain.webhooks import Delivery, DeliveryStatus, Endpoint
from optin.ports.webhooks import MAX_PAGE_SIZE, DeliveryPage


class MemoryWebhookStore:
    def __init__(self, lock: threading.RLock | None = None) -> None:
        self.lock = lock or threading.RLock()
        self._endpoints: dict[str, Endpoint] = {}
        self._deliveries: dict[str, Delivery] = {}

    def get_endpoint(self, key_id: str) -> Endpoint | None:
        with self.lock:
            return self._endpoints.get(key_id)

    def put_endpoint(self, endpoint: Endpoint) -> None:
        with self.lock:
            self._endpoints[endpoint.key_id] = endpoint

    def delete_endpoint(self, key_id: str, *, now: datetime) -> None:
        with self.lock:
            self._endpoints.pop(key_id, None)

    def exists(self, ids: Sequence[str]) -> bool:
        with self.lock:
            return any(i in self._deliveries for i in ids)

    def insert(self, deliveries: Sequence[Delivery]) -> None:
        with self.lock:
            for delivery in deliveries:
                self._deliveries[delivery.id] = delivery

    def add_delivery(self, delivery: Delivery) -> None:
        with self.lock:
            if delivery.id in self._deliveries:
                raise ValueError(f"Delivery {delivery.id} exists already.")
            self._deliveries[delivery.id] = delivery

    def get_delivery(self, delivery_id: str) -> Delivery | None:
        with self.lock:
            return self._deliveries.get(delivery_id)

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
        with self.lock:
            mine = sorted(
                (
                    d
                    for d in self._deliveries.values()
                    if d.key_id == key_id and (status is None or d.status == status)
                ),
                key=lambda d: (to_iso(d.created_at), d.id),
                reverse=True,
            )
        if cursor is not None:
            if not cursor.isdigit():
                raise ValueError("The cursor is not one this listing returned.")
            start = int(cursor)
        else:
            start = 0
        page = mine[start : start + limit]
        more = start + limit < len(mine)
        return DeliveryPage(page, str(start + limit) if more else None)

    def due(self, now: datetime, *, limit: int) -> list[Delivery]:
        with self.lock:
            due = [
                d
                for d in self._deliveries.values()
                if d.status == DeliveryStatus.PENDING
                and d.next_attempt_at is not None
                and d.next_attempt_at <= now
            ]
        due.sort(key=lambda d: (d.next_attempt_at or now, d.id))
        return due[:limit]

    def claim(
        self, delivery_id: str, *, token: str, now: datetime, until: datetime
    ) -> Delivery | None:
        with self.lock:
            current = self._deliveries.get(delivery_id)
            if (
                current is None
                or current.status != DeliveryStatus.PENDING
                or current.next_attempt_at is None
                or current.next_attempt_at > now
                or (current.lease_until is not None and current.lease_until > now)
            ):
                return None
            claimed = replace(current, lease_token=token, lease_until=until)
            self._deliveries[delivery_id] = claimed
            return claimed

    def finish(self, delivery: Delivery, *, token: str) -> bool:
        with self.lock:
            current = self._deliveries.get(delivery.id)
            if current is None or current.lease_token != token:
                return False
            self._deliveries[delivery.id] = delivery
            return True

    def requeue(self, delivery: Delivery) -> None:
        with self.lock:
            self._deliveries[delivery.id] = replace(delivery, lease_token=None, lease_until=None)
