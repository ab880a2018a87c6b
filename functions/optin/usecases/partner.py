"""The partner API's use cases (POST/GET/DELETE /v1/signups): a partner is the API key id it
authenticates with, and sees only the sign-ups it created.

"Created" is read from the consent ledger: the `requested` event that starts a registration
carries the evidence, whose `apiClient` is the key id. No second index of ownership can
disagree with the evidence. A sign-up another key (or the public form) created answers 404,
as an unknown id does, so a partner cannot learn which numbers others signed up.

Opting out reuses the console's opt-out (ConsoleActions with source "api"), so the ledger,
the workflow's end and the opt-out list are handled by one piece of code, retries included.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from optin.domain import api_keys
from optin.domain.api_keys import ApiKey, NewKey
from optin.domain.clock import Clock, to_iso, utc_now
from optin.domain.consent import ConsentEvent, EventType
from optin.domain.contact import Contact, Status
from optin.domain.errors import ContactNotFound, DomainError
from optin.ports.api_keys import ApiKeyStore
from optin.ports.contact_store import ContactStore
from optin.usecases.console_actions import Action, AgentRequest, ConsoleActions
from optin.usecases.signup import SignupOutcome, SignupRequest, Signups

SOURCE = "api"

# The status a registration that is no longer the number's current one ended in.
_ENDING = {
    EventType.REQUESTED: Status.PENDING,
    EventType.CONFIRMED: Status.CONFIRMED,
    EventType.EXPIRED: Status.EXPIRED,
    EventType.OPTED_OUT: Status.OPTED_OUT,
    EventType.REJECTED: Status.REJECTED,
}


class KeyRefused(DomainError):
    """No usable API key: the API answers 403 (as API Gateway does for a missing key)."""

    code = "invalid_api_key"


@dataclass(frozen=True)
class PartnerSignup:
    phone_number: str
    first_name: str | None
    source: str | None
    disclosure_text: str
    disclosure_version: str
    captured_at: datetime
    ip: str | None
    user_agent: str | None
    page: str | None


def owner(events: list[ConsentEvent], registration_id: str) -> str | None:
    """The API key id that created the registration (None: the form, or unknown)."""
    for event in events:
        if event.type == EventType.REQUESTED and event.registration_id == registration_id:
            evidence = event.details.get("evidence") or {}
            client = evidence.get("apiClient") if isinstance(evidence, dict) else None
            return client if isinstance(client, str) else None
    return None


def _event_view(event: ConsentEvent, key_id: str) -> dict[str, Any]:
    view = event.as_dict()
    evidence = event.details.get("evidence")
    if isinstance(evidence, dict) and evidence.get("apiClient") not in (key_id, None):
        # Another partner's evidence on this registration (it signed the number up again
        # while pending) is that partner's, not this one's to read.
        view["details"] = {k: v for k, v in event.details.items() if k != "evidence"}
    return view


@dataclass
class Partners:
    keys: ApiKeyStore
    store: ContactStore
    signups: Signups
    actions: ConsoleActions
    clock: Clock = utc_now

    # --- keys ------------------------------------------------------------------------------

    def create_key(self, name: str) -> NewKey:
        made = api_keys.new_key(name, self.clock())
        self.keys.add(made.record)
        return made

    def authenticate(self, presented: str | None) -> ApiKey:
        key_id = api_keys.key_id_of(presented or "")
        record = self.keys.get(key_id) if key_id else None
        if record is None or presented is None or not api_keys.matches(record, presented):
            # One answer for missing, malformed, unknown and revoked: nothing to probe.
            raise KeyRefused("Send a valid, unrevoked API key in the x-api-key header.")
        return record

    # --- sign-ups --------------------------------------------------------------------------

    def sign_up(self, key_id: str, request: PartnerSignup) -> SignupOutcome:
        return self.signups.signup(
            SignupRequest(
                phone_number=request.phone_number,
                first_name=request.first_name,
                disclosure_version=request.disclosure_version,
                ip=request.ip,
                user_agent=request.user_agent,
                page=request.page,
                api_client=key_id,
                disclosure_text=request.disclosure_text,
                captured_at=request.captured_at,
                source=request.source,
                partner=key_id,
            )
        )

    def view(self, key_id: str, registration_id: str) -> dict[str, Any]:
        contact = self.store.find_by_registration(registration_id)
        events = self.store.events(contact.phone_number) if contact else []
        if contact is None or owner(events, registration_id) != key_id:
            raise ContactNotFound("No sign-up with this id was created with this API key.")
        return self._view(contact, events, registration_id, key_id)

    def find(self, key_id: str, raw_phone: object) -> list[dict[str, Any]]:
        check = self.signups.check_number(raw_phone)
        if not check.e164:
            return []
        contact = self.store.get(check.e164)
        if contact is None:
            return []
        events = self.store.events(contact.phone_number)
        mine = []
        for event in events:
            registration = event.registration_id
            if (
                event.type == EventType.REQUESTED
                and registration is not None
                and registration not in mine
                and owner(events, registration) == key_id
            ):
                mine.append(registration)
        # Newest first: the number's current sign-up before its past ones.
        return [self._view(contact, events, r, key_id) for r in reversed(mine)]

    def opt_out(self, key_id: str, registration_id: str, reason: str) -> dict[str, Any]:
        self.view(key_id, registration_id)  # 404 unless this key created it
        self.actions.act(
            AgentRequest(Action.OPT_OUT, registration_id, key_id, reason, source=SOURCE)
        )
        return self.view(key_id, registration_id)

    def _view(
        self, contact: Contact, events: list[ConsentEvent], registration_id: str, key_id: str
    ) -> dict[str, Any]:
        own = [event for event in events if event.registration_id == registration_id]
        if contact.registration_id == registration_id:
            status = contact.status
        else:
            ending = [event for event in own if event.type in _ENDING]
            status = _ENDING[ending[-1].type] if ending else Status.PENDING
        return {
            "id": registration_id,
            "status": str(status),
            "phoneNumber": contact.phone_number,
            "createdAt": to_iso(own[0].at) if own else None,
            "updatedAt": to_iso(own[-1].at) if own else None,
            "ledger": [_event_view(event, key_id) for event in own],
        }
