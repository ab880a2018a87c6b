"""In-memory contact store: the unit-test double, and CONTACT_STORE=memory locally.

Same semantics as the SQLite and DynamoDB stores (conditional writes, append-only
ledger), behind one lock so several threads may share it.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import datetime

from optin.domain.consent import ConsentEvent
from optin.domain.contact import Contact
from optin.domain.errors import TransitionConflict


class MemoryContactStore:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._contacts: dict[str, Contact] = {}
        self._events: dict[str, list[ConsentEvent]] = {}
        self._inbound: dict[str, tuple[str, datetime]] = {}

    def get(self, phone_number: str) -> Contact | None:
        with self._lock:
            return self._contacts.get(phone_number)

    def save(
        self,
        contact: Contact,
        *,
        expected_version: int | None,
        events: Sequence[ConsentEvent] = (),
    ) -> None:
        with self._lock:
            stored = self._contacts.get(contact.phone_number)
            stored_version = stored.version if stored else None
            if stored_version != expected_version:
                raise TransitionConflict(
                    f"Contact version is {stored_version}, expected {expected_version}."
                )
            self._contacts[contact.phone_number] = contact
            self._events.setdefault(contact.phone_number, []).extend(events)

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
