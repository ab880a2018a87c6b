"""Webhooks: the partner's endpoint, the delivery log and replay, the dispatcher, and the
contact-store wrapper that puts a status change's deliveries in its save.

The outbox: `OutboxContactStore` wraps the contact store wiring builds for every function.
Its `save` works out the deliveries a change produces (domain/webhooks.py: only for a
registration a partner owns, only if that partner's endpoint subscribes to the event) and
hands them to the store's own `save`, which writes them in the same transaction as the
contact and its ledger event. After a save that wrote any, it nudges the dispatcher (an
asynchronous Invoke); the dispatcher's one-minute schedule finds whatever a nudge missed.

The dispatcher claims each due delivery with a lease (a conditional write), so a nudge and
the sweep never send one attempt twice at once; it POSTs once, logs the attempt in the
delivery, and schedules the next one with backoff until the delivery's 72-hour window ends.
"""

from __future__ import annotations

import json
import logging
import random
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from optin.domain import webhook_signature, webhooks
from optin.domain.clock import Clock, utc_now
from optin.domain.consent import ConsentEvent
from optin.domain.contact import Contact, Status
from optin.domain.webhooks import (
    Attempt,
    Delivery,
    DeliveryStatus,
    Endpoint,
    WebhookError,
)
from optin.ports.contact_store import ContactPage, ContactStore, SendClaim, SignupQuery
from optin.ports.number_lookup import LineInfo
from optin.ports.webhooks import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    DispatchNudge,
    WebhookPoster,
    WebhookStore,
)

log = logging.getLogger("sms-optin.usecases.webhooks")

# One sweep attempts at most this many deliveries (each takes at most the POST timeout).
SWEEP_LIMIT = 25
_FIELDS = {"url", "events"}
_NO_WEBHOOK = "No webhook is registered for this API key; PUT /v1/webhook first."
_NO_DELIVERY = "No delivery with this id was made for this API key."


# --- the outbox ------------------------------------------------------------------------------


@dataclass
class OutboxContactStore:
    """A ContactStore whose saves add their webhook deliveries, then nudge the dispatcher."""

    inner: ContactStore
    webhooks: WebhookStore
    nudger: DispatchNudge | None = None
    clock: Clock = utc_now

    def save(
        self,
        contact: Contact,
        *,
        expected_version: int | None,
        events: Sequence[ConsentEvent] = (),
        deliveries: Sequence[Delivery] = (),
    ) -> None:
        made = list(deliveries)
        if contact.api_client is not None and webhooks.relevant(contact, events):
            endpoint = self.webhooks.get_endpoint(contact.api_client)
            made += webhooks.deliveries_for(contact, events, endpoint, self.clock())
        self.inner.save(contact, expected_version=expected_version, events=events, deliveries=made)
        if made and self.nudger is not None:
            nudge(self.nudger)

    # Everything else is the wrapped store's.
    def get(self, phone_number: str) -> Contact | None:
        return self.inner.get(phone_number)

    def events(self, phone_number: str) -> list[ConsentEvent]:
        return self.inner.events(phone_number)

    def find_by_registration(self, registration_id: str) -> Contact | None:
        return self.inner.find_by_registration(registration_id)

    def list_by_status(
        self, status: Status, *, limit: int = 50, cursor: str | None = None
    ) -> ContactPage:
        return self.inner.list_by_status(status, limit=limit, cursor=cursor)

    def list_signups(self, query: SignupQuery) -> ContactPage:
        return self.inner.list_signups(query)

    def daily_counts(self, first: date, last: date) -> dict[date, dict[str, int]]:
        return self.inner.daily_counts(first, last)

    def inbound_processed(self, message_id: str) -> bool:
        return self.inner.inbound_processed(message_id)

    def mark_inbound_processed(
        self, message_id: str, *, phone_number: str, processed_at: datetime
    ) -> bool:
        return self.inner.mark_inbound_processed(
            message_id, phone_number=phone_number, processed_at=processed_at
        )

    def claim_send(self, dedup_key: str, *, phone_number: str, now: datetime) -> SendClaim:
        return self.inner.claim_send(dedup_key, phone_number=phone_number, now=now)

    def complete_send(self, dedup_key: str, *, message_id: str, now: datetime) -> None:
        self.inner.complete_send(dedup_key, message_id=message_id, now=now)

    def release_send(self, dedup_key: str, *, reason: str, now: datetime) -> None:
        self.inner.release_send(dedup_key, reason=reason, now=now)

    def cached_line_info(self, phone_number: str, *, now: datetime) -> LineInfo | None:
        return self.inner.cached_line_info(phone_number, now=now)

    def cache_line_info(self, info: LineInfo, *, now: datetime, expires_at: datetime) -> None:
        self.inner.cache_line_info(info, now=now, expires_at=expires_at)


def nudge(nudger: DispatchNudge) -> None:
    """Best effort: the delivery is stored already, and the scheduled sweep sends it."""
    try:
        nudger.nudge()
    except Exception as error:  # any failure here only delays a delivery
        log.warning("webhook dispatcher nudge failed", extra={"error": type(error).__name__})


# --- the partner's requests and the dispatcher ------------------------------------------------


@dataclass
class Webhooks:
    store: WebhookStore
    poster: WebhookPoster | None = None
    nudger: DispatchNudge | None = None
    clock: Clock = utc_now
    # WebhookAllowPrivateTargets: http:// and private, loopback, link-local hosts allowed.
    allow_private: bool = False
    retry_base: timedelta = webhooks.RETRY_BASE
    jitter: Callable[[], float] = field(default=random.random)

    # --- the endpoint --------------------------------------------------------------------------

    def set_endpoint(self, key_id: str, body: dict[str, Any], *, rotate: bool) -> dict[str, Any]:
        extra = sorted(set(body) - _FIELDS)
        if extra:
            raise WebhookError(
                "unknown_field", f"The body has fields this API does not take: {extra}."
            )
        url = webhooks.check_url(body.get("url"), allow_private=self.allow_private)
        events = _events(body.get("events", list(webhooks.EVENT_TYPES)))
        current = self.store.get_endpoint(key_id)
        fresh = current is None or rotate
        endpoint = Endpoint(
            key_id=key_id,
            url=url,
            events=events,
            created_at=current.created_at if current else self.clock(),
            secret=webhooks.new_secret() if fresh or current is None else current.secret,
        )
        self.store.put_endpoint(endpoint)
        log.info("webhook endpoint set", extra={"rotated": fresh, "events": list(events)})
        return endpoint.view(with_secret=fresh)

    def endpoint(self, key_id: str) -> dict[str, Any]:
        return self._endpoint(key_id).view()

    def _endpoint(self, key_id: str) -> Endpoint:
        endpoint = self.store.get_endpoint(key_id)
        if endpoint is None:
            raise WebhookError("no_webhook", _NO_WEBHOOK, 404)
        return endpoint

    def delete_endpoint(self, key_id: str) -> None:
        self.store.delete_endpoint(key_id, now=self.clock())

    # --- deliveries --------------------------------------------------------------------------

    def send_test(self, key_id: str) -> str:
        self._endpoint(key_id)
        now = self.clock()
        # About no sign-up: an empty `data` (the OpenAPI document's WebhookEvent allows it).
        body = webhooks.payload(uuid.uuid4().hex, webhooks.TEST, now, {})
        delivery = webhooks.new_delivery(key_id, body, now)
        self.store.add_delivery(delivery)
        self._nudge()
        return delivery.id

    def deliveries(
        self,
        key_id: str,
        *,
        status: str | None,
        limit: str | None,
        cursor: str | None,
    ) -> dict[str, Any]:
        wanted = None
        if status is not None:
            try:
                wanted = DeliveryStatus(status)
            except ValueError:
                raise WebhookError(
                    "invalid_status", "status is one of pending, delivered, failed."
                ) from None
        size = DEFAULT_PAGE_SIZE
        if limit is not None:
            if not limit.isdigit() or not 1 <= int(limit) <= MAX_PAGE_SIZE:
                raise WebhookError(
                    "invalid_limit", f"limit is a whole number, 1 to {MAX_PAGE_SIZE}."
                )
            size = int(limit)
        try:
            page = self.store.list_deliveries(key_id, status=wanted, limit=size, cursor=cursor)
        except ValueError:
            raise WebhookError(
                "invalid_cursor", "cursor is not one this listing returned."
            ) from None
        return {
            "deliveries": [delivery.view() for delivery in page.deliveries],
            "nextCursor": page.cursor,
        }

    def _mine(self, key_id: str, delivery_id: str) -> Delivery:
        delivery = self.store.get_delivery(delivery_id) if len(delivery_id) <= 64 else None
        if delivery is None or delivery.key_id != key_id:
            # Another key's delivery answers as an unknown one does: nothing to probe.
            raise WebhookError("not_found", _NO_DELIVERY, 404)
        return delivery

    def delivery(self, key_id: str, delivery_id: str) -> dict[str, Any]:
        return self._mine(key_id, delivery_id).view()

    def replay(self, key_id: str, delivery_id: str) -> dict[str, Any]:
        again = webhooks.replayed(self._mine(key_id, delivery_id), self.clock())
        self.store.requeue(again)
        log.info("webhook delivery replayed", extra={"deliveryId": delivery_id})
        self._nudge()
        return again.view()

    def _nudge(self) -> None:
        if self.nudger is not None:
            nudge(self.nudger)

    # --- the dispatcher ------------------------------------------------------------------------

    def dispatch(self, limit: int = SWEEP_LIMIT) -> dict[str, int]:
        """Attempt every due delivery (up to `limit`) once; counts of what happened."""
        counts = {"attempted": 0, "delivered": 0, "retrying": 0, "failed": 0, "skipped": 0}
        for due in self.store.due(self.clock(), limit=limit):
            outcome = self.attempt(due.id)
            counts[outcome] += 1
            if outcome != "skipped":
                counts["attempted"] += 1
        return counts

    def attempt(self, delivery_id: str) -> str:
        if self.poster is None:
            raise RuntimeError("The dispatcher needs a webhook poster.")
        now = self.clock()
        token = uuid.uuid4().hex
        claimed = self.store.claim(delivery_id, token=token, now=now, until=now + webhooks.LEASE)
        if claimed is None:
            return "skipped"  # not due any more, or another dispatcher holds it
        endpoint = self.store.get_endpoint(claimed.key_id)
        body = json.dumps(claimed.event, separators=(",", ":")).encode()
        permanent = False
        if endpoint is None:
            attempt = Attempt(now, None, "No webhook endpoint is registered any more.", 0)
            permanent = True
        else:
            try:
                url = webhooks.check_url(endpoint.url, allow_private=self.allow_private)
            except WebhookError as error:
                attempt = Attempt(now, None, f"Refused: {error.message}", 0)
                permanent = True
            else:
                headers = {
                    "Content-Type": "application/json",
                    webhook_signature.EVENT_ID_HEADER: str(claimed.event["id"]),
                    webhook_signature.HEADER: webhook_signature.sign(
                        endpoint.secret, int(now.timestamp()), body
                    ),
                    "User-Agent": "sms-optin-webhooks/1",
                }
                result = self.poster.post(url, body, headers)
                attempt = Attempt(now, result.status_code, result.error, result.duration_ms)
                permanent = result.permanent
        after = webhooks.after_attempt(
            claimed,
            attempt,
            jitter=self.jitter(),
            base=self.retry_base,
            cap=max(webhooks.RETRY_CAP, self.retry_base),
            permanent=permanent,
        )
        if not self.store.finish(after, token=token):
            # Our lease ran out and another dispatcher took the delivery: its write stands.
            log.warning("webhook lease lost", extra={"deliveryId": delivery_id})
            return "skipped"
        log.info(
            "webhook attempt",
            extra={
                "deliveryId": delivery_id,
                "statusCode": attempt.status_code,
                "error": attempt.error,
                "durationMs": attempt.duration_ms,
                "outcome": str(after.status),
            },
        )
        if after.status == DeliveryStatus.DELIVERED:
            return "delivered"
        return "failed" if after.status == DeliveryStatus.FAILED else "retrying"


def _events(raw: object) -> tuple[str, ...]:
    if not isinstance(raw, list) or not raw or not all(isinstance(e, str) for e in raw):
        raise WebhookError(
            "invalid_events", f"events is a non-empty list of: {', '.join(webhooks.EVENT_TYPES)}."
        )
    unknown = sorted(set(raw) - set(webhooks.EVENT_TYPES))
    if unknown:
        raise WebhookError(
            "unknown_event_type",
            f"Unknown event types {unknown}; choose from {', '.join(webhooks.EVENT_TYPES)}.",
        )
    # In the documented order, each once.
    return tuple(event for event in webhooks.EVENT_TYPES if event in raw)
