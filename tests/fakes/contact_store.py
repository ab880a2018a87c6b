"""In-memory contact store: the unit-test double, and CONTACT_STORE=memory locally.

Same semantics as the SQLite and DynamoDB stores (conditional writes, append-only
ledger), behind one lock so several threads may share it.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from optin.domain.clock import to_iso
from optin.domain.consent import ConsentEvent
from optin.domain.contact import Contact, Status
from optin.domain.errors import TransitionConflict
from optin.domain.funnel import increments
from optin.domain.webhooks import Delivery
from optin.ports.contact_store import (
    ContactPage,
    Order,
    SendClaim,
    SignupQuery,
    decode_cursor,
    encode_cursor,
    expiry_key,
)
from optin.ports.number_lookup import LineInfo
from tests.fakes.webhook_store import MemoryWebhookStore


@dataclass
class _Claim:
    phone_number: str
    claimed_at: datetime
    message_id: str | None = None
    released: bool = False


class MemoryContactStore:
    def __init__(self) -> None:
        # Re-entrant, and shared with the webhook records: a save adds its deliveries under it.
        self._lock = threading.RLock()
        self.webhooks = MemoryWebhookStore(self._lock)
        self._contacts: dict[str, Contact] = {}
        self._events: dict[str, list[ConsentEvent]] = {}
        self._inbound: dict[str, tuple[str, datetime]] = {}
        self._claims: dict[str, _Claim] = {}
        self._lookups: dict[str, tuple[LineInfo, datetime]] = {}
        self._daily: dict[date, dict[str, int]] = {}

    def get(self, phone_number: str) -> Contact | None:
        with self._lock:
            return self._contacts.get(phone_number)

    def save(
        self,
        contact: Contact,
        *,
        expected_version: int | None,
        events: Sequence[ConsentEvent] = (),
        deliveries: Sequence[Delivery] = (),
    ) -> None:
        with self._lock:
            stored = self._contacts.get(contact.phone_number)
            stored_version = stored.version if stored else None
            if stored_version != expected_version:
                raise TransitionConflict(
                    f"Contact version is {stored_version}, expected {expected_version}."
                )
            if self.webhooks.exists([d.id for d in deliveries]):
                raise TransitionConflict("A delivery of this save exists already.")
            self.webhooks.insert(deliveries)
            self._contacts[contact.phone_number] = contact
            self._events.setdefault(contact.phone_number, []).extend(events)
            for day, counts in increments(contact, events).items():
                stored = self._daily.setdefault(day, {})
                for name, n in counts.items():
                    stored[name] = stored.get(name, 0) + n

    def daily_counts(self, first: date, last: date) -> dict[date, dict[str, int]]:
        with self._lock:
            return {day: dict(c) for day, c in self._daily.items() if first <= day <= last}

    def events(self, phone_number: str) -> list[ConsentEvent]:
        with self._lock:
            return list(self._events.get(phone_number, []))

    def inbound_processed(self, message_id: str) -> bool:
        with self._lock:
            return message_id in self._inbound

    def mark_inbound_processed(
        self, message_id: str, *, phone_number: str, processed_at: datetime
    ) -> bool:
        with self._lock:
            if message_id in self._inbound:
                return False
            self._inbound[message_id] = (phone_number, processed_at)
            return True

    def find_by_registration(self, registration_id: str) -> Contact | None:
        with self._lock:
            return next(
                (c for c in self._contacts.values() if c.registration_id == registration_id),
                None,
            )

    def list_by_status(
        self, status: Status, *, limit: int = 50, cursor: str | None = None
    ) -> ContactPage:
        with self._lock:
            matching = sorted(
                (c for c in self._contacts.values() if c.status == status),
                key=lambda c: (c.updated_at, c.phone_number),
                reverse=True,
            )
        start = int(cursor) if cursor else 0
        page = matching[start : start + limit]
        more = start + limit < len(matching)
        return ContactPage(page, str(start + limit) if more else None)

    def list_signups(self, query: SignupQuery) -> ContactPage:
        if query.order == Order.EXPIRY:
            return self._by_expiry(query)

        # The ISO text sorts as the stores' indexes sort (fixed width, microseconds).
        def key(contact: Contact) -> tuple[str, str]:
            return (to_iso(contact.updated_at), contact.phone_number)

        after: tuple[str, str] | None = None
        if query.cursor:
            position = decode_cursor(query.cursor, query).get("after")
            if not isinstance(position, list) or len(position) != 2:
                raise ValueError("The cursor is not one this listing returned.")
            after = (str(position[0]), str(position[1]))
        with self._lock:
            matching = sorted(
                (
                    c
                    for c in self._contacts.values()
                    if c.status in query.statuses
                    and (query.updated_from is None or c.updated_at >= query.updated_from)
                    and (query.updated_to is None or c.updated_at <= query.updated_to)
                    and (after is None or key(c) < after)
                ),
                key=key,
                reverse=True,
            )
        page = matching[: query.limit]
        if len(matching) <= query.limit:
            return ContactPage(page, None)
        return ContactPage(
            page, encode_cursor({"q": query.fingerprint(), "after": list(key(page[-1]))})
        )

    def _by_expiry(self, query: SignupQuery) -> ContactPage:
        def key(contact: Contact) -> tuple[str, str]:
            return (expiry_key(contact), contact.phone_number)

        after: tuple[str, str] | None = None
        if query.cursor:
            position = decode_cursor(query.cursor, query).get("after")
            if not isinstance(position, list) or len(position) != 2:
                raise ValueError("The cursor is not one this listing returned.")
            after = (str(position[0]), str(position[1]))
        with self._lock:
            matching = sorted(
                (
                    c
                    for c in self._contacts.values()
                    if c.status == Status.PENDING and (after is None or key(c) > after)
                ),
                key=key,
            )
        page = matching[: query.limit]
        if len(matching) <= query.limit:
            return ContactPage(page, None)
        return ContactPage(
            page, encode_cursor({"q": query.fingerprint(), "after": list(key(page[-1]))})
        )

    def claim_send(self, dedup_key: str, *, phone_number: str, now: datetime) -> SendClaim:
        with self._lock:
            existing = self._claims.get(dedup_key)
            if existing is not None and not existing.released:
                return SendClaim(dedup_key, claimed=False, message_id=existing.message_id)
            self._claims[dedup_key] = _Claim(phone_number, now)
            return SendClaim(dedup_key, claimed=True)

    def complete_send(self, dedup_key: str, *, message_id: str, now: datetime) -> None:
        with self._lock:
            claim = self._claims.get(dedup_key)
            if claim is not None and not claim.released:
                claim.message_id = message_id

    def release_send(self, dedup_key: str, *, reason: str, now: datetime) -> None:
        with self._lock:
            claim = self._claims.get(dedup_key)
            if claim is not None and claim.message_id is None:
                claim.released = True

    def cached_line_info(self, phone_number: str, *, now: datetime) -> LineInfo | None:
        with self._lock:
            found = self._lookups.get(phone_number)
        if found is None or found[1] <= now:
            return None
        return found[0]

    def cache_line_info(self, info: LineInfo, *, now: datetime, expires_at: datetime) -> None:
        with self._lock:
            self._lookups[info.phone_number] = (info, expires_at)
