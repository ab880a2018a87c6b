"""The consent ledger: append-only events per phone number, and sign-up evidence."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from optin.domain.clock import from_iso, to_iso


class EventType(StrEnum):
    REQUESTED = "requested"  # sign-up received, contact PENDING (evidence attached)
    RESEND_REQUESTED = "resend_requested"  # signed up again while PENDING (evidence)
    CONFIRMATION_SENT = "confirmation_sent"  # the exact text, its version, message id
    CONFIRMED = "confirmed"  # raw reply + inbound message id
    WELCOME_SENT = "welcome_sent"
    EXPIRED = "expired"  # the registration closed unconfirmed; details.reason says why
    OPTED_OUT = "opted_out"  # raw reply + inbound message id (or the SMS service's list)
    RESUBSCRIBED = "resubscribed"  # START / UNSTOP from an opted-out number
    REJECTED = "rejected"  # confirmation text permanently refused
    REPLY_SENT = "reply_sent"  # our answer to an inbound text: its exact text and message id
    # Brought in from another system's records (`optin import-pinpoint`): details.status is
    # the status it gave the contact, details.evidence that system's own record of consent.
    IMPORTED = "imported"


class ExpiryReason(StrEnum):
    """Why an `expired` event closed a registration (its `details.reason`). The console
    turns these into words, so each value, and the details that come with it, is a contract:

    * ``no_reply``: the confirmation window passed in silence (the workflow's Expire step).
      Details: ``sendCount``, ``lastSentAt``.
    * ``workflow_failed``: the workflow's catch-all clean-up after an error no other path
      handles (retries exhausted, an unexpected error). Details: ``error`` and ``cause`` (as
      Step Functions caught them) and ``state`` (the state that failed), ``executionArn``.
    * ``execution_ended``: something found the contact PENDING while its execution no longer
      runs (stopped, timed out, failed outside any catch): a reply whose task token was
      refused, or a new sign-up whose StartExecution found the old execution closed.
      Details: ``executionStatus`` (DescribeExecution's status when it answered, else the
      name of the error that gave the end away), ``error`` (that error's name),
      ``executionArn``. A repair from the console adds ``by``, ``why``, ``source``.
    * ``agent_cancelled`` / ``agent_expired``: a support agent cancelled the sign-up or
      expired it now from the console (its execution is stopped). Details: ``by`` (the
      agent's username), ``why`` (their reason), ``source`` ("console"), ``requestKey``
      (what makes a retried request recognisable), ``executionArn``.
    """

    NO_REPLY = "no_reply"
    WORKFLOW_FAILED = "workflow_failed"
    EXECUTION_ENDED = "execution_ended"
    AGENT_CANCELLED = "agent_cancelled"
    AGENT_EXPIRED = "agent_expired"


@dataclass(frozen=True)
class ConsentEvent:
    type: EventType
    at: datetime
    registration_id: str | None
    details: dict[str, Any] = field(default_factory=dict)
    event_id: str = field(default_factory=lambda: uuid.uuid4().hex)

    def as_dict(self) -> dict[str, Any]:
        return {
            "eventId": self.event_id,
            "type": str(self.type),
            "at": to_iso(self.at),
            "registrationId": self.registration_id,
            "details": self.details,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ConsentEvent:
        return cls(
            type=EventType(data["type"]),
            at=from_iso(data["at"]),
            registration_id=data.get("registrationId"),
            details=dict(data.get("details") or {}),
            event_id=data["eventId"],
        )


@dataclass(frozen=True)
class Evidence:
    """Who asked, when and from where, and exactly which disclosure they were shown."""

    captured_at: datetime
    ip: str | None
    user_agent: str | None
    page: str | None
    api_client: str | None
    disclosure_text: str
    disclosure_version: str
    forwarded_for: str | None = None  # X-Forwarded-For as received (CDN and proxies)
    # When we received it, when that is not captured_at (a partner's evidence, captured on
    # its page before it called us).
    received_at: datetime | None = None
    source: str | None = None  # a partner's own label for where it collected the consent

    @property
    def channel(self) -> str:
        # A partner's evidence (received_at set) came by the API even when it names a page.
        partner = self.received_at is not None
        return "api" if self.api_client and (partner or not self.page) else "web"

    def as_dict(self) -> dict[str, Any]:
        return {
            "capturedAt": to_iso(self.captured_at),
            "channel": self.channel,
            "ip": self.ip,
            "forwardedFor": self.forwarded_for,
            "userAgent": self.user_agent,
            "page": self.page,
            "apiClient": self.api_client,
            "disclosure": {"text": self.disclosure_text, "version": self.disclosure_version},
        } | (
            {"receivedAt": to_iso(self.received_at), "source": self.source}
            if self.received_at
            else {}
        )
