"""A contact (one per E.164 number) and the transitions between its statuses.

Transitions are pure functions from the current contact (or None) to a `Change`: the new
contact and the consent events to append. The store writes a Change conditionally on the
version it was computed from, so a transition computed from stale data never lands (it
raises TransitionConflict and the service recomputes from fresh data).

Every transition is idempotent for its own registration: Lambda and SNS retry, and a
retried step must change nothing and record nothing twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from optin.domain.clock import to_iso
from optin.domain.consent import ConsentEvent, EventType, ExpiryReason
from optin.domain.errors import (
    AlreadyRegistered,
    ContactNotFound,
    OptedOut,
    RegistrationSuperseded,
)
from optin.domain.messages import Message
from optin.domain.resend import check_resend


class Status(StrEnum):
    PENDING = "PENDING"
    CONFIRMED = "CONFIRMED"
    EXPIRED = "EXPIRED"
    OPTED_OUT = "OPTED_OUT"
    REJECTED = "REJECTED"


# A new sign-up may start over from these; PENDING and CONFIRMED block it.
RESTARTABLE = frozenset({Status.EXPIRED, Status.OPTED_OUT, Status.REJECTED})


def confirmation_key(registration_id: str) -> str:
    return f"{registration_id}:confirmation"


def resend_key(registration_id: str, send_number: int) -> str:
    return f"{registration_id}:resend:{send_number}"


def welcome_key(registration_id: str) -> str:
    return f"{registration_id}:welcome"


def reply_key(inbound_message_id: str) -> str:
    return f"reply:{inbound_message_id}"


@dataclass(frozen=True)
class Contact:
    phone_number: str
    status: Status
    opted_in: bool
    registration_id: str | None
    created_at: datetime
    updated_at: datetime
    first_name: str | None = None
    execution_arn: str | None = None
    task_token: str | None = None
    send_count: int = 0
    last_sent_at: datetime | None = None
    last_send_key: str | None = None
    last_message_id: str | None = None
    welcome_message_id: str | None = None
    clarified_registration: str | None = None
    # When the wait for a reply ends (the workflow's wait times out), while PENDING only: set
    # when a task token starts a wait, None before that, when the window was not given, and
    # once the contact leaves PENDING. The stores index PENDING contacts by it.
    expires_at: datetime | None = None
    # The API key id of the partner whose registration this is (None: the public form). Set
    # when a registration starts, kept through its workflow, replaced by the next one: it is
    # who hears about the registration's end by webhook (domain/webhooks.py).
    api_client: str | None = None
    # Optimistic concurrency: 0 means "not stored yet"; each stored change adds one.
    version: int = 0


@dataclass(frozen=True)
class Change:
    """Result of a transition. `changed` False means: nothing to write."""

    before: Contact | None
    after: Contact | None
    events: tuple[ConsentEvent, ...] = field(default_factory=tuple)

    @property
    def changed(self) -> bool:
        return self.after is not self.before

    @property
    def status(self) -> Status | None:
        return self.after.status if self.after else None


def _unchanged(contact: Contact | None) -> Change:
    return Change(before=contact, after=contact)


def _evolve(contact: Contact, now: datetime, **changes: Any) -> Contact:
    after = replace(contact, updated_at=now, version=contact.version + 1, **changes)
    if after.status != Status.PENDING and after.expires_at is not None:
        # Only a PENDING contact is waiting: whatever ended the wait ends its expiry too.
        after = replace(after, expires_at=None)
    return after


def _belongs(contact: Contact | None, registration_id: str) -> bool:
    return contact is not None and contact.registration_id == registration_id


def request(
    current: Contact | None,
    *,
    phone_number: str,
    registration_id: str,
    first_name: str | None,
    execution_arn: str | None,
    evidence: dict[str, Any],
    validation: dict[str, Any],
    now: datetime,
    api_client: str | None = None,
) -> Change:
    """Sign-up accepted by the workflow: the number becomes PENDING and stays opted out.
    `api_client`: the authenticated partner key id that started it (never a self-asserted
    header), None for the public form."""
    if _belongs(current, registration_id):
        # Reserved by the sign-up, or a retry of this very step. Never reset the status: a
        # STOP may have come since. Only the execution, unknown at reservation, is added.
        assert current is not None
        if execution_arn and current.execution_arn is None:
            return Change(before=current, after=_evolve(current, now, execution_arn=execution_arn))
        return _unchanged(current)
    if current is not None and current.status not in RESTARTABLE:
        if current.status == Status.CONFIRMED:
            raise AlreadyRegistered("This number is already subscribed.")
        raise AlreadyRegistered("Another sign-up for this number is waiting for confirmation.")
    fresh = Contact(
        phone_number=phone_number,
        status=Status.PENDING,
        opted_in=False,
        registration_id=registration_id,
        first_name=first_name,
        execution_arn=execution_arn,
        api_client=api_client,
        created_at=current.created_at if current else now,
        updated_at=now,
        version=(current.version if current else 0) + 1,
    )
    event = ConsentEvent(
        EventType.REQUESTED,
        now,
        registration_id,
        {
            "evidence": evidence,
            "validation": validation,
            "executionArn": execution_arn,
            "previousStatus": str(current.status) if current else None,
        },
    )
    return Change(before=current, after=fresh, events=(event,))


def _require_pending(current: Contact | None, registration_id: str) -> Contact:
    if current is None:
        raise ContactNotFound("No contact for this number.")
    if not _belongs(current, registration_id):
        raise RegistrationSuperseded("The contact now belongs to another registration.")
    if current.status == Status.OPTED_OUT:
        raise OptedOut("The number opted out before the confirmation text went out.")
    if current.status != Status.PENDING:
        raise RegistrationSuperseded(f"The registration is {current.status}, not PENDING.")
    return current


def attach_task_token(
    current: Contact | None,
    *,
    registration_id: str,
    task_token: str,
    now: datetime,
    window_seconds: int | None = None,
) -> tuple[Change, str]:
    """Store the workflow's task token and reserve the first confirmation send.

    Returns the change and the dedup key for the send. A retried step (new token, same
    registration) keeps the send count: the dedup key makes the SMS service return the
    first message instead of sending another. Each token is one wait with its own timeout
    (Step Functions times every attempt of a Task afresh), so a new token sets `expires_at`
    to now + `window_seconds` (None when the workflow did not say its window).
    """
    contact = _require_pending(current, registration_id)
    key = confirmation_key(registration_id)
    changes: dict[str, Any] = {"task_token": task_token}
    if contact.task_token != task_token:
        changes["expires_at"] = (
            now + timedelta(seconds=window_seconds) if window_seconds is not None else None
        )
    if contact.last_send_key != key:
        changes.update(
            send_count=contact.send_count + 1,
            last_sent_at=now,
            last_send_key=key,
            last_message_id=None,
        )
    if contact.task_token == task_token and "send_count" not in changes:
        return _unchanged(contact), key
    return Change(before=contact, after=_evolve(contact, now, **changes)), key


def reserve_resend(
    current: Contact | None,
    *,
    now: datetime,
    cooldown_seconds: int,
    max_sends: int,
    evidence: dict[str, Any],
    details: dict[str, Any] | None = None,
) -> tuple[Change, str]:
    """A PENDING number signed up again, or an agent asked to resend: reserve one more
    confirmation send (or refuse). `details` go on the ledger event beside the evidence
    (an agent's `by`, `why`, `source`)."""
    if current is None or current.status != Status.PENDING or not current.registration_id:
        raise RegistrationSuperseded("The number has no pending registration.")
    check_resend(
        send_count=current.send_count,
        last_sent_at=current.last_sent_at,
        now=now,
        cooldown_seconds=cooldown_seconds,
        max_sends=max_sends,
    )
    send_number = current.send_count + 1
    key = resend_key(current.registration_id, send_number)
    after = _evolve(
        current,
        now,
        send_count=send_number,
        last_sent_at=now,
        last_send_key=key,
        last_message_id=None,
    )
    event = ConsentEvent(
        EventType.RESEND_REQUESTED,
        now,
        current.registration_id,
        {**(details or {}), "evidence": evidence, "sendNumber": send_number},
    )
    return Change(before=current, after=after, events=(event,)), key


def record_send(
    current: Contact | None,
    *,
    registration_id: str,
    dedup_key: str,
    message: Message,
    message_id: str,
    now: datetime,
) -> Change:
    """The confirmation text went out: remember its id and put its exact text on record."""
    if not _belongs(current, registration_id):
        return _unchanged(current)
    assert current is not None
    if current.last_send_key == dedup_key and current.last_message_id is not None:
        return _unchanged(current)  # already recorded by an earlier try
    after = _evolve(current, now, last_message_id=message_id)
    event = ConsentEvent(
        EventType.CONFIRMATION_SENT,
        now,
        registration_id,
        {
            "messageId": message_id,
            "dedupKey": dedup_key,
            "sendNumber": current.send_count,
            **message.as_evidence(),
        },
    )
    return Change(before=current, after=after, events=(event,))


def record_reply(
    current: Contact | None,
    *,
    message: Message,
    message_id: str,
    in_reply_to: str,
    now: datetime,
) -> Change:
    """Our answer to an inbound text went out: put it on the number's record word for word,
    beside the reply it answers (a number with no contact has no record to put it on)."""
    if current is None:
        return _unchanged(current)
    event = ConsentEvent(
        EventType.REPLY_SENT,
        now,
        current.registration_id,
        {"messageId": message_id, "inReplyTo": in_reply_to, **message.as_evidence()},
    )
    return Change(before=current, after=_evolve(current, now), events=(event,))


def confirm(
    current: Contact | None,
    *,
    registration_id: str,
    reply: dict[str, Any],
    now: datetime,
) -> Change:
    """YES came back for this registration: opt the number in. STOP that won a race
    (contact no longer PENDING) is respected: nothing changes."""
    if not _belongs(current, registration_id) or current is None:
        return _unchanged(current)
    if current.status != Status.PENDING:
        return _unchanged(current)
    after = _evolve(current, now, status=Status.CONFIRMED, opted_in=True, task_token=None)
    event = ConsentEvent(
        EventType.CONFIRMED,
        now,
        registration_id,
        {
            "reply": reply.get("reply"),
            "inboundMessageId": reply.get("inboundMessageId"),
            "receivedAt": reply.get("receivedAt"),
            "originationNumber": current.phone_number,
        },
    )
    return Change(before=current, after=after, events=(event,))


def record_welcome(
    current: Contact | None,
    *,
    registration_id: str,
    message: Message,
    message_id: str,
    now: datetime,
) -> Change:
    if not _belongs(current, registration_id) or current is None or current.welcome_message_id:
        return _unchanged(current)
    after = _evolve(current, now, welcome_message_id=message_id)
    event = ConsentEvent(
        EventType.WELCOME_SENT,
        now,
        registration_id,
        {
            "messageId": message_id,
            "dedupKey": welcome_key(registration_id),
            **message.as_evidence(),
        },
    )
    return Change(before=current, after=after, events=(event,))


def expire(
    current: Contact | None,
    *,
    registration_id: str,
    now: datetime,
    reason: ExpiryReason = ExpiryReason.NO_REPLY,
    details: dict[str, Any] | None = None,
) -> Change:
    """The registration closed unconfirmed (see ExpiryReason for why it can): PENDING
    becomes EXPIRED and stays opted out. A contact that moved on (CONFIRMED, OPTED_OUT,
    REJECTED, or another registration) is left as it is."""
    if not _belongs(current, registration_id) or current is None:
        return _unchanged(current)
    if current.status != Status.PENDING:
        return _unchanged(current)
    after = _evolve(current, now, status=Status.EXPIRED, opted_in=False, task_token=None)
    event = ConsentEvent(
        EventType.EXPIRED,
        now,
        registration_id,
        {
            # What it cost: how many texts went unanswered, the last one when.
            "sendCount": current.send_count,
            "lastSentAt": _iso(current.last_sent_at),
            **(details or {}),
            "reason": str(reason),
        },
    )
    return Change(before=current, after=after, events=(event,))


def opt_out(current: Contact | None, *, details: dict[str, Any], now: datetime) -> Change:
    """STOP: opted out from any status, at once. The caller ends a pending workflow with
    the task token of `change.before`."""
    if current is None or current.status == Status.OPTED_OUT:
        return _unchanged(current)
    after = _evolve(current, now, status=Status.OPTED_OUT, opted_in=False, task_token=None)
    event = ConsentEvent(
        EventType.OPTED_OUT,
        now,
        current.registration_id,
        {**details, "previousStatus": str(current.status)},
    )
    return Change(before=current, after=after, events=(event,))


def resubscribe(current: Contact | None, *, details: dict[str, Any], now: datetime) -> Change:
    """START / UNSTOP from a number that opted out: the texted keyword is itself consent
    from the handset, so the number is opted in again."""
    if current is None or current.status != Status.OPTED_OUT:
        return _unchanged(current)
    after = _evolve(current, now, status=Status.CONFIRMED, opted_in=True, task_token=None)
    event = ConsentEvent(EventType.RESUBSCRIBED, now, current.registration_id, dict(details))
    return Change(before=current, after=after, events=(event,))


def mark_clarified(current: Contact | None, *, now: datetime) -> Change:
    """Remember that this registration got its one clarifying reply."""
    if current is None or current.status != Status.PENDING:
        return _unchanged(current)
    if current.clarified_registration == current.registration_id:
        return _unchanged(current)
    return Change(
        before=current,
        after=_evolve(current, now, clarified_registration=current.registration_id),
    )


def reject(current: Contact | None, *, registration_id: str, reason: str, now: datetime) -> Change:
    """The SMS service permanently refused the confirmation text for this number."""
    if not _belongs(current, registration_id) or current is None:
        return _unchanged(current)
    if current.status != Status.PENDING:
        return _unchanged(current)
    after = _evolve(current, now, status=Status.REJECTED, opted_in=False, task_token=None)
    event = ConsentEvent(EventType.REJECTED, now, registration_id, {"reason": reason})
    return Change(before=current, after=after, events=(event,))


def _iso(moment: datetime | None) -> str | None:
    return to_iso(moment) if moment else None
