"""Webhooks to partners: which status changes become deliveries, what is POSTed, when a failed
delivery is tried again, and which URLs may receive them. Pure: no clock, no I/O, no random
source of its own (callers pass the jitter and the secret bytes' source is `secrets`).

A delivery is created in the same store transaction as the status change it reports
(ports/contact_store.py `save`), with the ledger event's id as its id, so it exists exactly
when the change does. It is created only for a sign-up a partner owns (`Contact.api_client`)
whose partner has an endpoint subscribed to that event type at that moment: a partner with no
endpoint gets no delivery records, and registering an endpoint later sends nothing for past
changes (docs/partner-api.md says so).
"""

from __future__ import annotations

import base64
import ipaddress
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from optin.domain.clock import to_iso
from optin.domain.consent import ConsentEvent, EventType
from optin.domain.contact import Contact, Status
from optin.domain.errors import DomainError

CONFIRMED = "signup.confirmed"
EXPIRED = "signup.expired"
OPTED_OUT = "signup.opted_out"
REJECTED = "signup.rejected"
TEST = "webhook.test"
# What an endpoint may subscribe to (webhook.test is always sent: the partner asked for it).
EVENT_TYPES: tuple[str, ...] = (CONFIRMED, EXPIRED, OPTED_OUT, REJECTED)

_LEDGER_TYPES = {
    EventType.CONFIRMED: CONFIRMED,
    EventType.EXPIRED: EXPIRED,
    EventType.OPTED_OUT: OPTED_OUT,
    EventType.REJECTED: REJECTED,
}
# A STOP after an expiry or a rejection changes nothing the partner was told it could rely on.
_OPT_OUT_FROM = {str(Status.PENDING), str(Status.CONFIRMED)}

SECRET_PREFIX = "whsec_"
MAX_URL_LENGTH = 2048
TIMEOUT_SECONDS = 5.0
RETRY_BASE = timedelta(seconds=30)
RETRY_CAP = timedelta(hours=1)
RETRY_WINDOW = timedelta(hours=72)
# A claim outlives one attempt (5 s timeout, DNS, the write): a second dispatcher may take
# the delivery only once the first one is surely done with it or dead.
LEASE = timedelta(seconds=60)


class WebhookError(DomainError):
    """A request about webhooks the API refuses (400 unless `status` says otherwise)."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


@dataclass(frozen=True)
class Endpoint:
    key_id: str
    url: str
    events: tuple[str, ...]
    created_at: datetime
    secret: str

    def view(self, *, with_secret: bool = False) -> dict[str, Any]:
        view: dict[str, Any] = {
            "url": self.url,
            "events": list(self.events),
            "createdAt": to_iso(self.created_at),
        }
        if with_secret:
            view["secret"] = self.secret
        return view


@dataclass(frozen=True)
class Attempt:
    at: datetime
    status_code: int | None
    error: str | None
    duration_ms: int

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300

    def as_dict(self) -> dict[str, Any]:
        return {
            "at": to_iso(self.at),
            "statusCode": self.status_code,
            "error": self.error,
            "durationMs": self.duration_ms,
        }


@dataclass(frozen=True)
class Delivery:
    id: str
    key_id: str
    event: dict[str, Any]  # the payload POSTed, exactly
    status: DeliveryStatus
    created_at: datetime
    next_attempt_at: datetime | None  # set while PENDING
    give_up_at: datetime  # RETRY_WINDOW after creation (or after the last replay)
    attempts: tuple[Attempt, ...] = ()
    # The dispatcher holding it (conditional write), until when.
    lease_token: str | None = None
    lease_until: datetime | None = None

    def view(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "event": self.event,
            "status": str(self.status),
            "attempts": [attempt.as_dict() for attempt in self.attempts],
            "nextAttemptAt": to_iso(self.next_attempt_at) if self.next_attempt_at else None,
            "createdAt": to_iso(self.created_at),
        }


def new_secret() -> str:
    raw = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")
    return SECRET_PREFIX + raw


def payload(event_id: str, event_type: str, at: datetime, data: dict[str, Any]) -> dict[str, Any]:
    return {"id": event_id, "type": event_type, "createdAt": to_iso(at), "data": data}


def _reason(event: ConsentEvent) -> str | None:
    details = event.details
    for name in ("reason", "why", "reply"):
        value = details.get(name)
        if isinstance(value, str) and value:
            return value
    return None


def event_payload(contact: Contact, event: ConsentEvent) -> dict[str, Any] | None:
    """The webhook payload a ledger event becomes, or None (not one partners hear about)."""
    event_type = _LEDGER_TYPES.get(event.type)
    if event_type is None or event.registration_id is None:
        return None
    if event_type == OPTED_OUT and event.details.get("previousStatus") not in _OPT_OUT_FROM:
        return None
    status = {
        CONFIRMED: Status.CONFIRMED,
        EXPIRED: Status.EXPIRED,
        OPTED_OUT: Status.OPTED_OUT,
        REJECTED: Status.REJECTED,
    }[event_type]
    data = {
        "signupId": event.registration_id,
        "status": str(status),
        "phoneNumber": contact.phone_number,
        "reason": None if event_type == CONFIRMED else _reason(event),
    }
    return payload(event.event_id, event_type, event.at, data)


def new_delivery(key_id: str, event: dict[str, Any], now: datetime) -> Delivery:
    return Delivery(
        id=str(event["id"]),
        key_id=key_id,
        event=event,
        status=DeliveryStatus.PENDING,
        created_at=now,
        next_attempt_at=now,
        give_up_at=now + RETRY_WINDOW,
    )


def deliveries_for(
    contact: Contact, events: Sequence[ConsentEvent], endpoint: Endpoint | None, now: datetime
) -> list[Delivery]:
    """The deliveries a save of `contact` with `events` writes in its transaction."""
    owner = contact.api_client
    if owner is None or endpoint is None or endpoint.key_id != owner:
        return []
    made = []
    for event in events:
        body = event_payload(contact, event)
        if body is not None and body["type"] in endpoint.events:
            made.append(new_delivery(owner, body, now))
    return made


def relevant(contact: Contact, events: Sequence[ConsentEvent]) -> bool:
    """Whether a save could produce a delivery at all (so the store need not look up the
    endpoint for the many saves that cannot)."""
    return contact.api_client is not None and any(
        event_payload(contact, event) is not None for event in events
    )


def retry_delay(
    attempt_number: int,
    jitter: float,
    *,
    base: timedelta = RETRY_BASE,
    cap: timedelta = RETRY_CAP,
) -> timedelta:
    """How long after failed attempt number `attempt_number` (1 = the first) to try again:
    base doubled per attempt, capped; `jitter` in [0, 1) takes up to a fifth off so retries
    of many deliveries that failed together spread out instead of arriving together."""
    if attempt_number < 1:
        raise ValueError("Attempts are numbered from 1.")
    if not 0 <= jitter < 1:
        raise ValueError("jitter is in [0, 1).")
    # Doubling past the cap is pointless; the exponent is bounded so it never overflows.
    delay = min(cap, base * (1 << min(attempt_number - 1, 32)))
    return delay * (1 - 0.2 * jitter)


def after_attempt(
    delivery: Delivery,
    attempt: Attempt,
    *,
    jitter: float,
    base: timedelta = RETRY_BASE,
    cap: timedelta = RETRY_CAP,
    permanent: bool = False,
) -> Delivery:
    """The delivery once `attempt` is logged: delivered on a 2xx; failed when the error is
    permanent or the next try would fall past its window; otherwise pending, next try later.
    The lease is dropped either way."""
    attempts = (*delivery.attempts, attempt)
    done = replace(delivery, attempts=attempts, lease_token=None, lease_until=None)
    if attempt.succeeded:
        return replace(done, status=DeliveryStatus.DELIVERED, next_attempt_at=None)
    next_at = attempt.at + retry_delay(len(attempts), jitter, base=base, cap=cap)
    if permanent or next_at > delivery.give_up_at:
        return replace(done, status=DeliveryStatus.FAILED, next_attempt_at=None)
    return replace(done, status=DeliveryStatus.PENDING, next_attempt_at=next_at)


def replayed(delivery: Delivery, now: datetime) -> Delivery:
    """Queued again now, with a fresh retry window; its attempts so far stay in the log."""
    return replace(
        delivery,
        status=DeliveryStatus.PENDING,
        next_attempt_at=now,
        give_up_at=now + RETRY_WINDOW,
    )


# --- which URLs may receive webhooks --------------------------------------------------------


def check_url(url: object, *, allow_private: bool) -> str:
    """The URL, if its form is acceptable; WebhookError otherwise. Where its host name points
    is checked when each delivery is sent (DNS may change): `refused_address`."""
    if not isinstance(url, str) or not url.strip():
        raise WebhookError("invalid_url", "url is an absolute https:// URL.")
    url = url.strip()
    if len(url) > MAX_URL_LENGTH:
        raise WebhookError("invalid_url", f"url is longer than {MAX_URL_LENGTH} characters.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise WebhookError("invalid_url", "url is not a valid URL.") from None
    if parts.scheme not in ("https", "http"):
        raise WebhookError("invalid_url", "url is an absolute https:// URL.")
    if parts.scheme == "http" and not allow_private:
        raise WebhookError("https_required", "Webhook URLs must use https://.")
    if not parts.hostname or parts.username is not None or parts.password is not None:
        raise WebhookError("invalid_url", "url needs a host name and no user name or password.")
    if parts.fragment:
        raise WebhookError("invalid_url", "url may not have a #fragment.")
    if port == 0:
        raise WebhookError("invalid_url", "url's port is not valid.")
    try:
        literal = ipaddress.ip_address(parts.hostname)
    except ValueError:
        literal = None
    if literal is not None and not allow_private:
        reason = refused_address(literal)
        if reason:
            raise WebhookError("private_address", f"url points to {reason}; use a public host.")
    if not allow_private and parts.hostname.lower().rstrip(".") in ("localhost",):
        raise WebhookError("private_address", "url points to this machine; use a public host.")
    return url


IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def refused_address(address: IpAddress) -> str | None:
    """Why a webhook may not be sent to `address` (None: it may): anything that is not a
    public, routable address, which includes the cloud metadata endpoints (169.254.169.254
    is link-local, fd00:ec2::254 unique-local)."""
    mapped = getattr(address, "ipv4_mapped", None)
    if mapped is not None:
        address = mapped
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address (this includes the cloud metadata service)"
    if address.is_private:
        return "a private address"
    if address.is_multicast or address.is_unspecified or address.is_reserved:
        return "a reserved address"
    if not address.is_global:
        return "an address that is not publicly routable"
    return None
