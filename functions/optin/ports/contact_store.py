"""Contact store port.

Shaped for one DynamoDB table (pk/sk) as well as SQLite:

* contact:  pk = "CONTACT#<e164>", sk = "CONTACT", with a numeric `version`; indexed by
            status and update time (the `ByStatus` index), which serves both listings:
            `list_by_status` and `list_signups` (one status, or several merged); while
            PENDING also by `expiry_key` (the sparse `PendingByExpiry` index), which serves
            `list_signups` sorted by expiry
* ledger:   pk = "CONTACT#<e164>", sk = "EVENT#<contact version>#<index>" (append-only:
            written once, in the same transaction as the contact change it records)
* inbound:  pk = "INBOUND#<message id>", sk = "INBOUND" (processed-message marker)
* send:     pk = "SEND#<dedup key>", sk = "SEND" (a claim taken before a text is sent)
* lookup:   pk = "LOOKUP#<e164>", sk = "LOOKUP" (a carrier lookup's answer, kept until
            `expiresAt`, the table's TTL attribute: a number can be ported to another line)
* registration: pk = "REGISTRATION#<id>", sk = "REGISTRATION" (immutable, written with the
            `requested` event: registration id → number, for `find_by_registration`)
* daily counters: pk = "STATS#DAILY", sk = "DAY#<yyyy-mm-dd>" (the funnel's counters of one
            UTC day, `optin.domain.funnel`: added to in the transaction of every save whose
            events count, so a range of days is one Query of one partition)

`save` is one conditional write: the contact is written only if its stored version is
still `expected_version` (None: no contact yet), together with its new ledger events
(DynamoDB: TransactWriteItems with a ConditionExpression; SQLite: BEGIN IMMEDIATE), and
the daily counters those events move, and the webhook deliveries (ports/webhooks.py) that
report the change to the partner who owns it. A write that lost a race raises
TransitionConflict and writes nothing, counters and deliveries included.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any, Protocol

from optin.domain.clock import to_iso
from optin.domain.consent import ConsentEvent
from optin.domain.contact import Contact, Status
from optin.domain.webhooks import Delivery
from optin.ports.number_lookup import LineInfo

# The expiry key of a PENDING contact whose expiry is unknown (no wait started yet, or a
# workflow that did not give its window): after every ISO time, so those sort last.
UNKNOWN_EXPIRY = "~"


def expiry_key(contact: Contact) -> str:
    """What the expiry order sorts a PENDING contact by (with its number as tie-breaker):
    the fixed-width ISO time of `expires_at`, or UNKNOWN_EXPIRY."""
    return to_iso(contact.expires_at) if contact.expires_at else UNKNOWN_EXPIRY


class Order(StrEnum):
    NEWEST = "newest"  # the last change, newest first (every status)
    EXPIRY = "expiry"  # PENDING only: soonest to expire first, unknown expiries last


@dataclass(frozen=True)
class ContactPage:
    """One page of a listing, newest change first; `cursor` fetches the next (None: end)."""

    contacts: list[Contact]
    cursor: str | None


MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 25


@dataclass(frozen=True)
class SignupQuery:
    """What `list_signups` lists: contacts in any of `statuses`, newest change first, whose
    `updatedAt` lies in [updated_from, updated_to] (both inclusive, either open); or, with
    `order` EXPIRY, the PENDING contacts by (expiry_key, number), soonest first.

    The range is on the time of the last change, not of the sign-up: that is the order the
    store's index keeps, so a range is a key condition and never a filter over a scan.
    `cursor` is opaque and bound to the statuses and range it was made for."""

    statuses: tuple[Status, ...] = tuple(Status)
    updated_from: datetime | None = None
    updated_to: datetime | None = None
    limit: int = DEFAULT_PAGE_SIZE
    cursor: str | None = None
    order: Order = Order.NEWEST

    def __post_init__(self) -> None:
        if not self.statuses:
            raise ValueError("A listing needs at least one status.")
        if self.order == Order.EXPIRY:
            # Only PENDING contacts are indexed by expiry, and not by the time of the last
            # change: a range on it would be a filter over the index, not a key condition.
            if set(self.statuses) != {Status.PENDING}:
                raise ValueError("Only PENDING sign-ups can be sorted by expiry.")
            if self.updated_from or self.updated_to:
                raise ValueError("The expiry order takes no range of change times.")
        if not 1 <= self.limit <= MAX_PAGE_SIZE:
            raise ValueError(f"limit must be 1 to {MAX_PAGE_SIZE}, got {self.limit}.")
        if self.updated_from and self.updated_to and self.updated_from > self.updated_to:
            raise ValueError("The range starts after it ends.")

    @property
    def status_set(self) -> tuple[Status, ...]:
        """The statuses once each, in the enum's order (the cursor's binding)."""
        return tuple(status for status in Status if status in self.statuses)

    def fingerprint(self) -> str:
        """What a cursor must have been made for: statuses and range, not limit."""
        bounds = [
            moment.isoformat() if moment else "" for moment in (self.updated_from, self.updated_to)
        ]
        # Newest-first cursors keep their old form (cursors handed out before still work).
        extra = [str(self.order)] if self.order != Order.NEWEST else []
        return "|".join([",".join(self.status_set), *bounds, *extra])


def encode_cursor(payload: dict[str, Any]) -> str:
    """URL-safe opaque text for a listing position (compact JSON, base64 without padding)."""
    raw = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, query: SignupQuery) -> dict[str, Any]:
    """The payload of a `list_signups` cursor; ValueError unless it was made for `query`."""
    try:
        payload = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError) as error:
        raise ValueError("The cursor is not one this listing returned.") from error
    if not isinstance(payload, dict) or not isinstance(payload.get("q"), str):
        raise ValueError("The cursor is not one this listing returned.")
    if payload["q"] != query.fingerprint():
        raise ValueError("The cursor belongs to a listing with other filters.")
    return payload


@dataclass(frozen=True)
class SendClaim:
    """The answer to claim_send.

    claimed True: this caller took the claim and must send now, then complete or release.
    claimed False: the key was claimed before. `message_id` is the text's id when that
    send completed; None when it is still in flight, or its sender died between the claim
    and the receipt (we cannot know whether that text left, and never send it twice).
    """

    dedup_key: str
    claimed: bool
    message_id: str | None = None


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
        deliveries: Sequence[Delivery] = (),
    ) -> None:
        """Write `contact` (its version must be expected_version + 1, or 1 for a new one)
        and append `events` and add `deliveries` (each id written once), atomically; raise
        TransitionConflict if the stored version differs from `expected_version` or a
        delivery's id exists already."""
        ...

    def events(self, phone_number: str) -> list[ConsentEvent]:
        """The number's consent ledger, oldest first (in the order they were saved)."""
        ...

    def find_by_registration(self, registration_id: str) -> Contact | None:
        """The contact whose current registration is `registration_id`, or None (unknown,
        or the number has since started another registration)."""
        ...

    def list_by_status(
        self, status: Status, *, limit: int = 50, cursor: str | None = None
    ) -> ContactPage:
        """Contacts in `status`, most recently changed first, `limit` at a time (an index
        query, never a scan). `cursor` is opaque: pass back what the last page returned."""
        ...

    def list_signups(self, query: SignupQuery) -> ContactPage:
        """A page of contacts for `query`, most recently changed first, by index queries
        only (several statuses: one query per status, merged; the cursor remembers where
        each status stopped). Order EXPIRY: one query of the PENDING-by-expiry index. A
        page holds `limit` contacts unless the listing ends there (or,
        on DynamoDB, a 1 MB response cut a status's query short); the cursor is None on
        the last page, never on a page before an empty one. A cursor not made for this
        query raises ValueError."""
        ...

    def daily_counts(self, first: date, last: date) -> dict[date, dict[str, int]]:
        """The funnel's counters (`optin.domain.funnel.increments`, summed) of each UTC day
        from `first` to `last` inclusive that has any; one record read per such day."""
        ...

    def inbound_processed(self, message_id: str) -> bool:
        """Whether an inbound message id has been handled already."""
        ...

    def mark_inbound_processed(
        self, message_id: str, *, phone_number: str, processed_at: datetime
    ) -> bool:
        """Conditional insert of the processed marker; False if it was there already."""
        ...

    def claim_send(self, dedup_key: str, *, phone_number: str, now: datetime) -> SendClaim:
        """Take the claim on one text before sending it (a conditional insert). A claim
        that was released may be taken again."""
        ...

    def complete_send(self, dedup_key: str, *, message_id: str, now: datetime) -> None:
        """The claimed text went out: keep its message id on the claim."""
        ...

    def release_send(self, dedup_key: str, *, reason: str, now: datetime) -> None:
        """The claimed text certainly did not go out (the SMS service refused it or was
        unavailable): a later try may claim it again. Never releases a completed claim."""
        ...

    def cached_line_info(self, phone_number: str, *, now: datetime) -> LineInfo | None:
        """The number's last carrier lookup, unless it expired before `now`."""
        ...

    def cache_line_info(self, info: LineInfo, *, now: datetime, expires_at: datetime) -> None:
        """Keep a carrier lookup's answer for its number until `expires_at` (overwrites)."""
        ...
