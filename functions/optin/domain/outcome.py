"""A sign-up's outcome in words, from its contact and its consent ledger (pure).

Support staff read one sentence ("Confirmed by reply 'yes!' 2 min after the text") instead
of the ledger's JSON; the code next to it is what the console filters on. Every outcome
belongs to exactly one contact status (OUTCOME_STATUS), so a filter by outcome is a
listing of that status whose ledgers are then read.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from optin.domain.consent import ConsentEvent, EventType
from optin.domain.contact import Contact, Status

# A reply is shown as received but never at any length: the sentence is a summary.
MAX_QUOTED_REPLY = 40
# An agent's reason (up to 500 characters) is cut as well; the ledger keeps it whole.
MAX_REASON = 120


class OutcomeCode(StrEnum):
    WAITING = "waiting"  # PENDING: the text is out (or about to be), no answer yet
    CONFIRMED = "confirmed"  # YES to the confirmation text
    RESUBSCRIBED = "resubscribed"  # START / UNSTOP after opting out
    EXPIRED_NO_REPLY = "expired_no_reply"  # the window passed
    EXPIRED_WORKFLOW_FAILED = "expired_workflow_failed"  # the catch-all cleanup
    EXPIRED_EXECUTION_ENDED = "expired_execution_ended"  # a repair found it not RUNNING
    EXPIRED_OTHER = "expired_other"  # a reason this code does not know (newer writers)
    AGENT_CANCELLED = "agent_cancelled"  # EXPIRED: an agent cancelled it in the console
    AGENT_EXPIRED = "agent_expired"  # EXPIRED: an agent expired it now in the console
    CANCELLED = "cancelled"  # opted out while PENDING (STOP, or the SMS opt-out list)
    OPTED_OUT = "opted_out"  # opted out after confirming (or after the sign-up ended)
    REJECTED = "rejected"  # the number or the confirmation text was refused


OUTCOME_STATUS: dict[OutcomeCode, Status] = {
    OutcomeCode.WAITING: Status.PENDING,
    OutcomeCode.CONFIRMED: Status.CONFIRMED,
    OutcomeCode.RESUBSCRIBED: Status.CONFIRMED,
    OutcomeCode.EXPIRED_NO_REPLY: Status.EXPIRED,
    OutcomeCode.EXPIRED_WORKFLOW_FAILED: Status.EXPIRED,
    OutcomeCode.EXPIRED_EXECUTION_ENDED: Status.EXPIRED,
    OutcomeCode.EXPIRED_OTHER: Status.EXPIRED,
    OutcomeCode.AGENT_CANCELLED: Status.EXPIRED,
    OutcomeCode.AGENT_EXPIRED: Status.EXPIRED,
    OutcomeCode.CANCELLED: Status.OPTED_OUT,
    OutcomeCode.OPTED_OUT: Status.OPTED_OUT,
    OutcomeCode.REJECTED: Status.REJECTED,
}

# The ledger event that puts a contact in each status.
_STATUS_EVENTS: dict[Status, frozenset[EventType]] = {
    Status.PENDING: frozenset({EventType.REQUESTED}),
    Status.CONFIRMED: frozenset({EventType.CONFIRMED, EventType.RESUBSCRIBED}),
    Status.EXPIRED: frozenset({EventType.EXPIRED}),
    Status.OPTED_OUT: frozenset({EventType.OPTED_OUT}),
    Status.REJECTED: frozenset({EventType.REJECTED}),
}

_FALLBACK = {
    Status.PENDING: (OutcomeCode.WAITING, "Waiting for a reply"),
    Status.CONFIRMED: (OutcomeCode.CONFIRMED, "Confirmed"),
    Status.EXPIRED: (OutcomeCode.EXPIRED_NO_REPLY, "Expired"),
    Status.OPTED_OUT: (OutcomeCode.OPTED_OUT, "Opted out"),
    Status.REJECTED: (OutcomeCode.REJECTED, "Rejected"),
}


@dataclass(frozen=True)
class Outcome:
    code: OutcomeCode
    summary: str

    def as_dict(self) -> dict[str, str]:
        return {"code": str(self.code), "summary": self.summary}


def duration(delta: timedelta) -> str:
    """A span as a person says it: "40 s", "2 min", "24 h", "3 days"."""
    seconds = max(0, round(delta.total_seconds()))
    if seconds < 60:
        return f"{seconds} s"
    # Each unit is rounded before choosing the next, so 59.9 min reads "1 h", not "60 min".
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours = round(seconds / 3600)
    if hours < 48:
        return f"{hours} h"
    return f"{round(seconds / 86400)} days"


def quoted(reply: object) -> str:
    """A reply as received, in quotes, cut to MAX_QUOTED_REPLY characters."""
    text = re.sub(r"\s+", " ", str(reply if reply is not None else "")).strip()
    if len(text) > MAX_QUOTED_REPLY:
        text = text[: MAX_QUOTED_REPLY - 1].rstrip() + "…"
    return f"'{text}'"


def _said(details: dict[str, Any]) -> str:
    """How an opt-out reply reads in a sentence: a bare keyword as is (STOP), anything
    else quoted as received."""
    reply = details.get("reply")
    if isinstance(reply, str) and re.fullmatch(r"[A-Z]{2,12}", reply.strip()):
        return reply.strip()
    return f"reply {quoted(reply)}"


def _last(events: Sequence[ConsentEvent], types: frozenset[EventType]) -> ConsentEvent | None:
    return next((event for event in reversed(events) if event.type in types), None)


def _sends(events: Sequence[ConsentEvent], registration_id: str | None) -> list[ConsentEvent]:
    return [
        event
        for event in events
        if event.type == EventType.CONFIRMATION_SENT and event.registration_id == registration_id
    ]


def first_text_at(contact: Contact, events: Sequence[ConsentEvent]) -> datetime | None:
    """When the current registration's first confirmation text went out (its wait's
    timer started just before), or None if none has yet."""
    sends = _sends(events, contact.registration_id)
    return sends[0].at if sends else None


def expires_at(
    contact: Contact, events: Sequence[ConsentEvent], window_seconds: int | None
) -> datetime | None:
    """When a PENDING sign-up expires (None otherwise, or when unknown): the contact's
    stored `expires_at`, set when its wait started. Resends do not move it. A contact saved
    before that field existed has none: its first text + `window_seconds` stands in."""
    if contact.status != Status.PENDING:
        return None
    if contact.expires_at is not None:
        return contact.expires_at
    if window_seconds is None:
        return None
    sent = first_text_at(contact, events)
    return sent + timedelta(seconds=window_seconds) if sent else None


def describe(
    contact: Contact,
    events: Sequence[ConsentEvent],
    *,
    now: datetime,
    window_seconds: int | None = None,
) -> Outcome:
    """The outcome of the contact's current status, from the ledger event that put it
    there. `window_seconds` is the confirmation window (for the time left while PENDING,
    and for an expiry whose texts are not in the ledger)."""
    event = _last(events, _STATUS_EVENTS[contact.status])
    if event is None:
        code, summary = _FALLBACK[contact.status]
        return Outcome(code, summary)
    if contact.status == Status.PENDING:
        return _waiting(contact, events, now, window_seconds)
    if contact.status == Status.CONFIRMED:
        return _confirmed(event, events)
    if contact.status == Status.EXPIRED:
        return _expired(event, events, window_seconds)
    if contact.status == Status.OPTED_OUT:
        return _opted_out(event, events)
    return _rejected(event)


def _waiting(
    contact: Contact, events: Sequence[ConsentEvent], now: datetime, window: int | None
) -> Outcome:
    sent = first_text_at(contact, events)
    if sent is None:
        return Outcome(OutcomeCode.WAITING, "Waiting for the confirmation text to go out")
    expiry = expires_at(contact, events, window)
    if expiry is None:
        return Outcome(
            OutcomeCode.WAITING, f"Waiting for a reply: texted {duration(now - sent)} ago"
        )
    left = expiry - now
    if left.total_seconds() <= 0:
        return Outcome(
            OutcomeCode.WAITING,
            f"Waiting for a reply: the window closed {duration(-left)} ago and it has not "
            "expired yet",
        )
    return Outcome(OutcomeCode.WAITING, f"Waiting for a reply: {duration(left)} left")


def _confirmed(event: ConsentEvent, events: Sequence[ConsentEvent]) -> Outcome:
    reply = event.details.get("reply")
    if event.type == EventType.RESUBSCRIBED:
        return Outcome(OutcomeCode.RESUBSCRIBED, f"Resubscribed by reply {quoted(reply)}")
    before = [send for send in _sends(events, event.registration_id) if send.at <= event.at]
    summary = f"Confirmed by reply {quoted(reply)}" if reply is not None else "Confirmed"
    if before:
        summary += f" {duration(event.at - before[-1].at)} after the text"
    return Outcome(OutcomeCode.CONFIRMED, summary)


def _expired(event: ConsentEvent, events: Sequence[ConsentEvent], window: int | None) -> Outcome:
    details = event.details
    # Events written before reasons were recorded all came from the window passing.
    reason = details.get("reason") or "no_reply"
    if reason == "workflow_failed":
        error = details.get("error") or "an error"
        state = details.get("state")
        where = f" at {state}" if state else ""
        return Outcome(
            OutcomeCode.EXPIRED_WORKFLOW_FAILED, f"Expired: the workflow failed{where} ({error})"
        )
    if reason == "execution_ended":
        status = details.get("executionStatus") or "not running"
        return Outcome(
            OutcomeCode.EXPIRED_EXECUTION_ENDED, f"Expired: its execution ended ({status})"
        )
    if reason in _BY_AGENT:
        code, verb = _BY_AGENT[reason]
        return Outcome(code, f"{verb} by {_agent(details)}")
    if reason != "no_reply":
        # Said as recorded rather than mistaken for a window that passed.
        return Outcome(OutcomeCode.EXPIRED_OTHER, f"Expired: {str(reason).replace('_', ' ')}")
    sends = _sends(events, event.registration_id)
    waited: timedelta | None = None
    if sends and sends[0].at <= event.at:
        waited = event.at - sends[0].at
    elif window is not None:
        waited = timedelta(seconds=window)
    summary = "Expired: no reply" + (f" in {duration(waited)}" if waited is not None else "")
    count = int(details.get("sendCount") or len(sends) or 0)
    if count > 1:
        summary += f" ({count} texts sent)"
    return Outcome(OutcomeCode.EXPIRED_NO_REPLY, summary)


_BY_AGENT = {
    "agent_cancelled": (OutcomeCode.AGENT_CANCELLED, "Cancelled"),
    "agent_expired": (OutcomeCode.AGENT_EXPIRED, "Expired"),
}


def _agent(details: dict[str, Any]) -> str:
    """The agent and their reason, "<user>: <why>", from a console action's ledger details."""
    why = re.sub(r"\s+", " ", str(details.get("why") or "")).strip()
    if len(why) > MAX_REASON:
        why = why[: MAX_REASON - 1].rstrip() + "…"
    by = str(details.get("by") or "an agent")
    return f"{by}: {why}" if why else by


def _opted_out(event: ConsentEvent, events: Sequence[ConsentEvent]) -> Outcome:
    details = event.details
    previous = details.get("previousStatus")
    if details.get("source") == "console":
        if previous == str(Status.PENDING):
            return Outcome(OutcomeCode.CANCELLED, f"Opted out while pending by {_agent(details)}")
        return Outcome(OutcomeCode.OPTED_OUT, f"Opted out by {_agent(details)}")
    if details.get("source") == "sms-opt-out-list":
        how = "on the SMS service's opt-out list"
        if previous == str(Status.PENDING):
            return Outcome(OutcomeCode.CANCELLED, f"Cancelled while pending: {how}")
        by = f": {how},"
    elif "reply" in details:
        if previous == str(Status.PENDING):
            return Outcome(OutcomeCode.CANCELLED, f"Cancelled: {_said(details)} while pending")
        by = f" by {_said(details)}"
    else:
        # Another path (a support agent, say): name it and its reason.
        reason = details.get("reason")
        how = str(details.get("source") or "request") + (f" {quoted(reason)}" if reason else "")
        if previous == str(Status.PENDING):
            return Outcome(OutcomeCode.CANCELLED, f"Cancelled while pending: {how}")
        by = f": {how},"
    if previous == str(Status.CONFIRMED):
        confirmed = _last(
            [e for e in events if e.at <= event.at],
            frozenset({EventType.CONFIRMED, EventType.RESUBSCRIBED}),
        )
        when = f"{duration(event.at - confirmed.at)} after confirming" if confirmed else ""
        return Outcome(OutcomeCode.OPTED_OUT, f"Opted out{by} {when or 'after confirming'}")
    ended = f"after the sign-up {str(previous).lower().replace('_', ' ')}" if previous else ""
    return Outcome(OutcomeCode.OPTED_OUT, f"Opted out{by} {ended}".rstrip(" ,"))


def _rejected(event: ConsentEvent) -> Outcome:
    reason = str(event.details.get("reason") or "")
    lowered = reason.lower()
    if "landline" in lowered:
        short = "landline"
    elif "not in service" in lowered:
        short = "not in service"
    elif reason:
        # Reasons are sentences ("That is a toll-free number, which…") or SMS error codes.
        short = re.split(r"(?<=[.!?])\s", reason, maxsplit=1)[0].rstrip(".")
        if len(short) > 80:
            short = short[:79].rstrip() + "…"
    else:
        return Outcome(OutcomeCode.REJECTED, "Rejected")
    return Outcome(OutcomeCode.REJECTED, f"Rejected: {short}")
