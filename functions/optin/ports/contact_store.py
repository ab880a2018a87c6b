"""Contact store port.

Shaped for a single DynamoDB table (pk/sk) as well as SQLite:

* contact:   pk = "CONTACT#<e164>", sk = "CONTACT", with a numeric `version`
* ledger:    pk = "CONTACT#<e164>", sk = "EVENT#<iso time>#<event id>" (append-only)
* inbound:   pk = "INBOUND#<message id>", sk = "INBOUND" (processed-message marker)

`save` is one conditional write: the contact is written only if its stored version is
still `expected_version` (None: no contact yet), together with its new ledger events
(DynamoDB: TransactWriteItems with a ConditionExpression; SQLite: BEGIN IMMEDIATE).
A write that lost a race raises TransitionConflict and writes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from optin.domain.consent import ConsentEvent
from optin.domain.contact import Contact


class ContactStore(Protocol):
    def get(self, phone_number: str) -> Contact | None:
        """The contact for an E.164 number, or None."""
        ...

    def save(
        self,
        contact: Contact,
        *,
        expected_version: int | None,
        events: Sequence[ConsentEvent] = (),
    ) -> None:
        """Write `contact` (its version must be expected_version + 1, or 1 for a new one)
        and append `events`, atomically; raise TransitionConflict if the stored version
        differs from `expected_version`."""
        ...

    def events(self, phone_number: str) -> list[ConsentEvent]:
        """The number's consent ledger, oldest first."""
        ...

    def inbound_processed(self, message_id: str) -> bool:
        """Whether an inbound message id has been handled already."""
        ...

    def mark_inbound_processed(
        self, message_id: str, *, phone_number: str, processed_at: datetime
    ) -> bool:
        """Conditional insert of the processed marker; False if it was there already."""
        ...
