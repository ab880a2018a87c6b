"""Contacts brought in from the AWS tutorial's Amazon Pinpoint project (`optin import-pinpoint`):
an admin operation that writes through the ContactStore port and sends no text.

Each SMS endpoint becomes a contact: one whose OptOut is NONE (and EndpointStatus ACTIVE)
CONFIRMED and opted in, one whose OptOut is ALL OPTED_OUT. Its ledger gets one `imported`
event carrying Pinpoint's own evidence (the endpoint id, the OptInTimestamp and Source
attributes, the endpoint's dates), so the proof of consent travels with the number.

Idempotent: the registration id is derived from the endpoint id, and an endpoint whose last
import gave the same status changes nothing. A number that already has a contact from
anywhere else (a sign-up made here) is left alone: our own record is the newer evidence.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from optin.domain.clock import Clock, from_iso, to_iso, utc_now
from optin.domain.consent import ConsentEvent, EventType
from optin.domain.contact import Contact, Status
from optin.domain.errors import TransitionConflict
from optin.domain.phone import check_number
from optin.ports.contact_store import ContactStore

# Registration ids of imported contacts: uuid5 of the endpoint id in this namespace.
_NAMESPACE = uuid.UUID("6f0e3c8e-4d1b-5a7e-9c52-0b6f1d2a9e41")
SYSTEM = "pinpoint"
MAX_FIRST_NAME = 50


class Result(StrEnum):
    CONFIRMED = "confirmed"  # a new CONFIRMED contact (or an imported one changed to it)
    OPTED_OUT = "opted_out"  # a new OPTED_OUT contact (or an imported one changed to it)
    UNCHANGED = "unchanged"  # imported before with this status
    EXISTS = "exists"  # the number has a contact that did not come from this endpoint
    INVALID = "invalid"  # not an SMS endpoint with a usable number and opt-out state


@dataclass(frozen=True)
class Endpoint:
    """What the import reads from one Pinpoint endpoint (EndpointResponse's fields)."""

    endpoint_id: str
    channel_type: str
    address: str
    opt_out: str
    endpoint_status: str | None = None
    opt_in_timestamp: str | None = None
    source: str | None = None
    first_name: str | None = None
    creation_date: str | None = None
    effective_date: str | None = None

    @classmethod
    def from_json(cls, raw: Any) -> Endpoint:
        if not isinstance(raw, dict):
            raise ValueError("an endpoint is a JSON object")
        attributes = raw.get("Attributes") or {}
        user = raw.get("User") or {}
        user_attributes = user.get("UserAttributes") or {} if isinstance(user, dict) else {}

        def first(mapping: Any, name: str) -> str | None:
            # Pinpoint keeps every attribute as a list of strings.
            values = mapping.get(name) if isinstance(mapping, dict) else None
            if isinstance(values, list) and values and isinstance(values[0], str):
                return values[0]
            return values if isinstance(values, str) else None

        def text(name: str) -> str:
            value = raw.get(name)
            return value if isinstance(value, str) else ""

        return cls(
            endpoint_id=text("Id"),
            channel_type=text("ChannelType"),
            address=text("Address"),
            opt_out=text("OptOut"),
            endpoint_status=text("EndpointStatus") or None,
            opt_in_timestamp=first(attributes, "OptInTimestamp"),
            source=first(attributes, "Source"),
            first_name=first(user_attributes, "FirstName"),
            creation_date=text("CreationDate") or None,
            effective_date=text("EffectiveDate") or None,
        )


@dataclass(frozen=True)
class Outcome:
    endpoint_id: str
    result: Result
    phone_number: str | None = None
    reason: str | None = None  # why INVALID or EXISTS, one sentence
    code: str | None = None  # machine-readable reason


def registration_id(endpoint_id: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"{SYSTEM}:{endpoint_id}"))


def _invalid(endpoint: Endpoint, code: str, reason: str) -> Outcome:
    return Outcome(endpoint.endpoint_id, Result.INVALID, None, reason, code)


@dataclass
class PinpointImport:
    store: ContactStore
    allowed_countries: tuple[str, ...] = ("US", "CA")
    clock: Clock = utc_now

    def check(self, endpoint: Endpoint) -> Outcome | Status:
        """The status the endpoint gives its number, or why it cannot be imported."""
        if not endpoint.endpoint_id:
            return _invalid(endpoint, "missing_id", "The endpoint has no Id.")
        if endpoint.channel_type != "SMS":
            return _invalid(
                endpoint,
                "not_sms",
                f"ChannelType is {endpoint.channel_type or 'missing'}, not SMS.",
            )
        number = check_number(endpoint.address, self.allowed_countries)
        if not number.acceptable or not number.e164:
            return _invalid(
                endpoint,
                number.code or "invalid_phone_number",
                number.reason or "The Address is not a phone number we can text.",
            )
        if endpoint.opt_out == "ALL":
            return Status.OPTED_OUT
        if endpoint.opt_out != "NONE":
            return _invalid(endpoint, "invalid_opt_out", "OptOut is neither ALL nor NONE.")
        if endpoint.endpoint_status not in (None, "ACTIVE"):
            return _invalid(
                endpoint, "inactive", f"EndpointStatus is {endpoint.endpoint_status}, not ACTIVE."
            )
        if endpoint.opt_in_timestamp is not None:
            try:
                from_iso(endpoint.opt_in_timestamp)
            except ValueError:
                return _invalid(
                    endpoint, "invalid_opt_in_timestamp", "OptInTimestamp is not an ISO 8601 time."
                )
        return Status.CONFIRMED

    def run(self, endpoint: Endpoint) -> Outcome:
        checked = self.check(endpoint)
        if isinstance(checked, Outcome):
            return checked
        status = checked
        phone = check_number(endpoint.address, self.allowed_countries).e164
        assert phone is not None
        for _ in range(3):
            try:
                return self._write(endpoint, phone, status)
            except TransitionConflict:
                continue  # the number changed under us: read it again
        raise TransitionConflict("The number kept changing while it was imported.")

    def _write(self, endpoint: Endpoint, phone: str, status: Status) -> Outcome:
        registration = registration_id(endpoint.endpoint_id)
        current = self.store.get(phone)
        if current is not None and current.registration_id != registration:
            return Outcome(
                endpoint.endpoint_id,
                Result.EXISTS,
                phone,
                "The number already has a sign-up here; it was left as it is.",
                "already_a_contact",
            )
        if current is not None and current.status == status:
            return Outcome(endpoint.endpoint_id, Result.UNCHANGED, phone)
        now = self.clock()
        first_name = (endpoint.first_name or "").strip()[:MAX_FIRST_NAME] or None
        contact = Contact(
            phone_number=phone,
            status=status,
            opted_in=status == Status.CONFIRMED,
            registration_id=registration,
            created_at=current.created_at if current else now,
            updated_at=now,
            first_name=current.first_name if current else first_name,
            version=(current.version if current else 0) + 1,
        )
        event = ConsentEvent(
            EventType.IMPORTED,
            now,
            registration,
            {
                "status": str(status),
                "from": SYSTEM,
                "evidence": {
                    "system": SYSTEM,
                    "endpointId": endpoint.endpoint_id,
                    "optOut": endpoint.opt_out,
                    "endpointStatus": endpoint.endpoint_status,
                    "optInTimestamp": endpoint.opt_in_timestamp,
                    "source": endpoint.source,
                    "creationDate": endpoint.creation_date,
                    "effectiveDate": endpoint.effective_date,
                },
                "importedAt": to_iso(now),
            },
        )
        self.store.save(
            contact, expected_version=current.version if current else None, events=[event]
        )
        result = Result.CONFIRMED if status == Status.CONFIRMED else Result.OPTED_OUT
        return Outcome(endpoint.endpoint_id, result, phone)
