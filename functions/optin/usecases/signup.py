"""The sign-up API's use cases: take a sign-up, resend, and tell a sign-up its status.

A sign-up reserves the number in the store *before* the workflow starts: the contact is
written PENDING (opted out) with the consent evidence in one conditional write, and only
then is the execution started, named after the registration. So two near-simultaneous
sign-ups of one number get one registration (the loser of the write finds the winner's
PENDING contact and answers with its registrationId), and a status read right after the
202 finds the contact. Starting the execution is idempotent (same name, same input), so a
sign-up whose StartExecution failed or never ran is completed by the next try. A PENDING
registration whose execution is over (stopped, failed) is expired with reason
"execution_ended" and the number signed up afresh under a new registration.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from optin.domain import contact as transitions
from optin.domain import messages
from optin.domain.consent import Evidence
from optin.domain.contact import Change, Contact, Status
from optin.domain.errors import (
    ContactNotFound,
    DisclosureOutdated,
    ExecutionAlreadyExists,
    TransitionConflict,
)
from optin.domain.phone import NumberCheck, check_number, mask
from optin.usecases.base import MAX_WRITE_ATTEMPTS, UseCase, log
from optin.usecases.ended import expire_if_execution_over
from optin.usecases.send_caps import check_daily_texts


class PhoneRejected(Exception):
    """The number given to sign-up is not acceptable (carries the NumberCheck)."""

    def __init__(self, check: NumberCheck) -> None:
        super().__init__(check.reason or "The phone number is not acceptable.")
        self.check = check


@dataclass(frozen=True)
class SignupRequest:
    phone_number: object
    first_name: str | None
    disclosure_version: str | None
    ip: str | None
    user_agent: str | None
    page: str | None
    api_client: str | None
    forwarded_for: str | None = None
    # A partner's own evidence (POST /v1/signups): the disclosure the partner showed and when
    # the person agreed. Without it, the disclosure is ours and the capture time is now.
    disclosure_text: str | None = None
    captured_at: datetime | None = None
    source: str | None = None
    # The authenticated partner key id (POST /v1/signups); None for the public form, whose
    # api_client is only a header the caller wrote. It owns the registration (webhooks).
    partner: str | None = None


class SignupKind(StrEnum):
    STARTED = "started"  # number reserved, execution started (202)
    RESENT = "resent"  # PENDING: confirmation text sent again (202)
    IN_PROGRESS = "in_progress"  # PENDING, first text not out yet: nothing to resend (202)
    ALREADY_CONFIRMED = "already_confirmed"  # 200, no text


@dataclass(frozen=True)
class SignupOutcome:
    kind: SignupKind
    status: Status
    registration_id: str | None
    phone_number: str


@dataclass(frozen=True)
class RegistrationStatus:
    registration_id: str
    phone_number: str
    status: Status


def workflow_input(contact: Contact) -> dict[str, Any]:
    """The execution's input, derived from the reserved contact only, so a repeated
    StartExecution sends the very same input (Step Functions' idempotency needs that).
    The evidence is already in the ledger; it stays out of the execution history."""
    return {
        "registrationId": contact.registration_id,
        "phoneNumber": contact.phone_number,
        # Always present (null when not given): the ASL reads $.firstName.
        "firstName": contact.first_name,
    }


class Signups(UseCase):
    def check_number(self, raw: object) -> NumberCheck:
        return check_number(raw, self.settings.allowed_countries)

    def disclosure(self) -> messages.Message:
        return messages.disclosure(self.settings)

    def signup(self, request: SignupRequest) -> SignupOutcome:
        check = self.check_number(request.phone_number)
        if not check.acceptable or not check.e164:
            raise PhoneRejected(check)
        phone_number = check.e164
        disclosure = self.disclosure()
        text, version = disclosure.text, disclosure.version
        if request.disclosure_text is not None:
            # The partner's page, not ours: its words and version are the evidence.
            text, version = request.disclosure_text, request.disclosure_version or ""
        elif request.disclosure_version and request.disclosure_version != disclosure.version:
            raise DisclosureOutdated(
                "The terms shown on the page have changed. Reload the page, read them and "
                "try again."
            )
        now = self.clock()
        evidence = Evidence(
            captured_at=request.captured_at or now,
            ip=request.ip,
            user_agent=request.user_agent,
            page=request.page,
            api_client=request.api_client,
            forwarded_for=request.forwarded_for,
            disclosure_text=text,
            disclosure_version=version,
            received_at=now if request.captured_at else None,
            source=request.source,
        ).as_dict()

        for _ in range(MAX_WRITE_ATTEMPTS):
            current = self.store.get(phone_number)
            if current is not None and current.status == Status.CONFIRMED:
                return SignupOutcome(
                    SignupKind.ALREADY_CONFIRMED,
                    current.status,
                    current.registration_id,
                    phone_number,
                )
            if current is not None and current.status == Status.PENDING:
                outcome = self._pending(current, evidence)
                if outcome is not None:
                    return outcome
                continue  # its execution was over and it is EXPIRED now: start afresh
            if current is not None:
                # A number signed up again after an expiry or a rejection: refused here
                # when its day's texts are spent, before a registration and an execution
                # exist that could only fail (SendConfirmation checks again).
                check_daily_texts(self, current)
            change = transitions.request(
                current,
                phone_number=phone_number,
                registration_id=str(uuid.uuid4()),
                first_name=request.first_name,
                execution_arn=None,  # CreateContact fills it in from the running execution
                evidence=evidence,
                validation=check.as_payload(),
                now=self.clock(),
                api_client=request.partner,
            )
            assert change.after is not None
            if not self.save(change):
                continue  # another sign-up reserved it first: answer with that one
            self._start(change.after)
            log.info(
                "registration started",
                extra={
                    "phone": mask(phone_number),
                    "registrationId": change.after.registration_id,
                },
            )
            return SignupOutcome(
                SignupKind.STARTED, Status.PENDING, change.after.registration_id, phone_number
            )
        raise TransitionConflict("The number kept changing; giving up after several tries.")

    def _start(self, contact: Contact) -> None:
        assert contact.registration_id is not None
        self.workflow.start(contact.registration_id, workflow_input(contact))

    def _pending(self, current: Contact, evidence: dict[str, Any]) -> SignupOutcome | None:
        """A sign-up for a number already PENDING. None when that registration's execution
        turned out to be over: the contact is EXPIRED (execution_ended) and the caller signs
        the number up afresh."""
        phone_number = current.phone_number
        if current.send_count == 0:
            # The first text is not out yet. Starting again is a no-op when the execution
            # runs, and completes a sign-up whose StartExecution failed or never happened.
            try:
                self._start(current)
            except ExecutionAlreadyExists as error:
                # The name is taken by an execution that is over (stopped, failed before
                # its text): nothing will ever text this registration.
                if self._expired_as_over(current, error=type(error).__name__):
                    return None
            return SignupOutcome(
                SignupKind.IN_PROGRESS, current.status, current.registration_id, phone_number
            )
        # A resend only helps while the execution still waits for the reply.
        if current.execution_arn is not None and self._expired_as_over(current, error=None):
            return None
        now = self.clock()
        keys: list[str] = []

        def reserve(latest: Contact | None) -> Change:
            change, key = transitions.reserve_resend(
                latest,
                now=now,
                cooldown_seconds=self.settings.resend_cooldown_seconds,
                max_sends=self.settings.max_confirmation_sends,
                evidence=evidence,
            )
            # After the registration's own limits, whose sentences say more to the person.
            check_daily_texts(self, latest)
            keys.append(key)
            return change

        contact = self.apply(phone_number, reserve).after
        assert contact is not None and contact.registration_id is not None
        registration_id = contact.registration_id
        key = keys[-1]
        message = messages.confirmation(self.settings, contact.first_name)
        message_id = self.text(phone_number, message, key)
        self.record_send(phone_number, registration_id, key, message, message_id)
        return SignupOutcome(SignupKind.RESENT, Status.PENDING, registration_id, phone_number)

    def _expired_as_over(self, current: Contact, *, error: str | None) -> bool:
        change = expire_if_execution_over(self, current, error=error)
        # Unchanged but no longer PENDING (a reply or a STOP landed meanwhile) also means:
        # look at the number again.
        return change is not None and change.status != Status.PENDING

    def status(self, registration_id: str) -> RegistrationStatus:
        """What a sign-up may learn about itself, through its own registrationId only."""
        contact = self.store.find_by_registration(registration_id)
        if contact is None:
            raise ContactNotFound("No sign-up with this registrationId.")
        return RegistrationStatus(registration_id, contact.phone_number, contact.status)
