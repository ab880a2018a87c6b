"""Use cases: what each Lambda does, written against the ports only (no boto3 here).

Every state change goes through `_apply`: read the contact, compute the transition (pure,
in optin.domain.contact), write it conditionally on the version read; if another writer
got there first (TransitionConflict), read again and recompute. The recomputation sees the
winner's state, so e.g. a YES that loses to a STOP turns into a no-op instead of undoing it.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import phonenumbers

from optin.domain import contact as transitions
from optin.domain import messages
from optin.domain.clock import Clock, to_iso, utc_now
from optin.domain.consent import ConsentEvent, Evidence
from optin.domain.contact import Change, Contact, Status
from optin.domain.errors import (
    ContactNotFound,
    DisclosureOutdated,
    OptedOut,
    RecipientOptedOut,
    RegistrationSuperseded,
    SmsRejected,
    TaskTokenGone,
    TransitionConflict,
    Undeliverable,
    WorkflowUnavailable,
)
from optin.domain.keywords import Intent, classify, normalise
from optin.domain.phone import NumberCheck, check_number, mask
from optin.domain.settings import Settings
from optin.ports.contact_store import ContactStore
from optin.ports.sms_sender import SmsSender
from optin.ports.workflow import Workflow

# Plain stdlib logging: handlers configure Powertools' Logger on the "sms-optin" service
# logger; this child propagates to it.
log = logging.getLogger("sms-optin.service")

MAX_WRITE_ATTEMPTS = 5
OPTED_OUT_ERROR = "OptedOut"


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


class SignupKind(StrEnum):
    STARTED = "started"  # new execution started (202)
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
class InboundSms:
    origination_number: str
    destination_number: str
    body: str
    inbound_message_id: str
    keyword: str | None = None
    previous_published_message_id: str | None = None
    received_at: datetime | None = None


@dataclass
class Registrations:
    settings: Settings
    store: ContactStore
    sms: SmsSender
    workflow: Workflow
    clock: Clock = utc_now

    # -- plumbing ---------------------------------------------------------------------

    def _apply(self, phone_number: str, transition: Callable[[Contact | None], Change]) -> Change:
        for _ in range(MAX_WRITE_ATTEMPTS):
            current = self.store.get(phone_number)
            change = transition(current)
            if not change.changed:
                return change
            assert change.after is not None
            try:
                self.store.save(
                    change.after,
                    expected_version=current.version if current else None,
                    events=change.events,
                )
            except TransitionConflict:
                log.info("write conflict, recomputing", extra={"phone": mask(phone_number)})
                continue
            return change
        raise TransitionConflict("The contact kept changing; giving up after several tries.")

    def _text(self, to: str, message: messages.Message, dedup_key: str) -> str:
        message_id = self.sms.send(to, message.text, dedup_key=dedup_key)
        # Message kinds, never bodies or numbers in clear, at INFO.
        log.info(
            "text sent",
            extra={"phone": mask(to), "kind": message.kind, "messageId": message_id},
        )
        return message_id

    def _record_send(
        self,
        phone_number: str,
        registration_id: str,
        dedup_key: str,
        message: messages.Message,
        message_id: str,
    ) -> None:
        """A confirmation text went out: count it and put it, word for word, in the ledger."""
        self._apply(
            phone_number,
            lambda current: transitions.record_send(
                current,
                registration_id=registration_id,
                dedup_key=dedup_key,
                message=message,
                message_id=message_id,
                now=self.clock(),
            ),
        )

    def _reply(self, to: str, message: messages.Message, inbound_message_id: str) -> str | None:
        """Replies are courtesy texts: a refusal (e.g. the number is on the SMS service's
        opt-out list after STOP) must not undo the state change already made."""
        try:
            return self._text(to, message, transitions.reply_key(inbound_message_id))
        except SmsRejected as error:
            log.warning("reply not sent", extra={"phone": mask(to), "error": error.code})
            return None

    # -- number check -------------------------------------------------------------

    def check_number(self, raw: object) -> NumberCheck:
        return check_number(raw, self.settings.allowed_countries)

    # -- workflow steps -------------------------------------------------------------

    def create_contact(
        self,
        *,
        registration_id: str,
        phone_number: str,
        first_name: str | None,
        evidence: dict[str, Any],
        validation: dict[str, Any],
        execution_arn: str | None,
    ) -> Status:
        now = self.clock()
        change = self._apply(
            phone_number,
            lambda current: transitions.request(
                current,
                phone_number=phone_number,
                registration_id=registration_id,
                first_name=first_name,
                execution_arn=execution_arn,
                evidence=evidence,
                validation=validation,
                now=now,
            ),
        )
        assert change.after is not None
        return change.after.status

    def send_confirmation(
        self,
        *,
        task_token: str,
        registration_id: str,
        phone_number: str,
        first_name: str | None,
    ) -> str:
        now = self.clock()
        keys: list[str] = []

        def attach(current: Contact | None) -> Change:
            change, key = transitions.attach_task_token(
                current, registration_id=registration_id, task_token=task_token, now=now
            )
            keys.append(key)
            return change

        # The token is stored before the text goes out, so a fast YES finds it.
        contact = self._apply(phone_number, attach).after
        key = keys[-1]
        assert contact is not None
        if contact.last_send_key == key and contact.last_message_id:
            return contact.last_message_id  # an earlier try sent and recorded it

        # A STOP may have landed between the write above and now: check once more.
        latest = self.store.get(phone_number)
        if latest is not None and latest.registration_id == registration_id:
            if latest.status == Status.OPTED_OUT:
                raise OptedOut("The number opted out before the confirmation text went out.")
            if latest.status != Status.PENDING:
                raise RegistrationSuperseded(f"The registration is {latest.status}.")

        message = messages.confirmation(self.settings, first_name or contact.first_name)
        try:
            message_id = self._text(phone_number, message, key)
        except RecipientOptedOut as error:
            # The SMS service holds the number on its opt-out list (an earlier STOP).
            refusal = error.message
            self._apply(
                phone_number,
                lambda current: transitions.opt_out(
                    current,
                    details={"source": "sms-opt-out-list", "error": refusal},
                    now=self.clock(),
                ),
            )
            raise OptedOut("The number is on the SMS opt-out list.") from error
        except SmsRejected as error:
            refusal = error.message
            self._apply(
                phone_number,
                lambda current: transitions.reject(
                    current, registration_id=registration_id, reason=refusal, now=now
                ),
            )
            raise Undeliverable("The confirmation text was refused for this number.") from error

        self._record_send(phone_number, registration_id, key, message, message_id)
        return message_id

    def opt_in(
        self,
        *,
        registration_id: str,
        phone_number: str,
        first_name: str | None,
        reply: dict[str, Any],
    ) -> Status:
        now = self.clock()
        change = self._apply(
            phone_number,
            lambda current: transitions.confirm(
                current, registration_id=registration_id, reply=reply, now=now
            ),
        )
        contact = change.after
        if contact is None:
            raise ContactNotFound("No contact for this number.")
        if contact.status != Status.CONFIRMED or contact.registration_id != registration_id:
            # STOP (or another sign-up) won the race: respect it, no welcome text.
            return contact.status
        if contact.welcome_message_id:
            return contact.status
        message = messages.welcome(self.settings, first_name or contact.first_name)
        try:
            message_id = self._text(phone_number, message, transitions.welcome_key(registration_id))
        except SmsRejected as error:
            # The opt-in stands; only the courtesy text could not go out.
            log.warning(
                "welcome not sent", extra={"phone": mask(phone_number), "error": error.code}
            )
            return contact.status
        self._apply(
            phone_number,
            lambda current: transitions.record_welcome(
                current,
                registration_id=registration_id,
                message=message,
                message_id=message_id,
                now=self.clock(),
            ),
        )
        return contact.status

    def expire(self, *, registration_id: str, phone_number: str) -> Status:
        now = self.clock()
        change = self._apply(
            phone_number,
            lambda current: transitions.expire(current, registration_id=registration_id, now=now),
        )
        if change.after is None:
            raise ContactNotFound("No contact for this number.")
        return change.after.status

    # -- sign-up API --------------------------------------------------------------------

    def disclosure(self) -> messages.Message:
        return messages.disclosure(self.settings)

    def signup(self, request: SignupRequest) -> SignupOutcome:
        check = self.check_number(request.phone_number)
        if not check.acceptable or not check.e164:
            raise PhoneRejected(check)
        phone_number = check.e164
        disclosure = self.disclosure()
        if request.disclosure_version and request.disclosure_version != disclosure.version:
            raise DisclosureOutdated(
                "The terms shown on the page have changed. Reload the page, read them and "
                "try again."
            )
        now = self.clock()
        evidence = Evidence(
            captured_at=now,
            ip=request.ip,
            user_agent=request.user_agent,
            page=request.page,
            api_client=request.api_client,
            disclosure_text=disclosure.text,
            disclosure_version=disclosure.version,
        ).as_dict()

        current = self.store.get(phone_number)
        if current is not None and current.status == Status.CONFIRMED:
            return SignupOutcome(
                SignupKind.ALREADY_CONFIRMED, current.status, current.registration_id, phone_number
            )
        if current is not None and current.status == Status.PENDING:
            return self._resend(current, evidence)

        registration_id = str(uuid.uuid4())
        self.workflow.start(
            registration_id,
            {
                "registrationId": registration_id,
                "phoneNumber": phone_number,
                # Always present (null when not given): the ASL reads $.firstName.
                "firstName": request.first_name,
                "evidence": evidence,
            },
        )
        log.info(
            "registration started",
            extra={"phone": mask(phone_number), "registrationId": registration_id},
        )
        return SignupOutcome(SignupKind.STARTED, Status.PENDING, registration_id, phone_number)

    def _resend(self, current: Contact, evidence: dict[str, Any]) -> SignupOutcome:
        phone_number = current.phone_number
        if current.send_count == 0:
            # The workflow has not sent its first text yet; it is about to.
            return SignupOutcome(
                SignupKind.IN_PROGRESS, current.status, current.registration_id, phone_number
            )
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
            keys.append(key)
            return change

        contact = self._apply(phone_number, reserve).after
        assert contact is not None and contact.registration_id is not None
        registration_id = contact.registration_id
        key = keys[-1]
        message = messages.confirmation(self.settings, contact.first_name)
        message_id = self._text(phone_number, message, key)
        self._record_send(phone_number, registration_id, key, message, message_id)
        return SignupOutcome(SignupKind.RESENT, Status.PENDING, registration_id, phone_number)

    # -- support API --------------------------------------------------------------------

    def contact_with_events(self, phone_number: str) -> tuple[Contact, list[ConsentEvent]]:
        contact = self.store.get(phone_number)
        if contact is None:
            raise ContactNotFound("No contact with this phone number.")
        return contact, self.store.events(phone_number)

    # -- inbound texts ------------------------------------------------------------------

    def handle_inbound(self, sms: InboundSms) -> str:
        """Act on one inbound text; return what was done (for logs and metrics)."""
        if self.store.inbound_processed(sms.inbound_message_id):
            return "duplicate"
        phone_number = _e164(sms.origination_number)
        received_at = sms.received_at or self.clock()
        intent = classify(sms.body, self.settings.confirm_keywords)
        contact = self.store.get(phone_number)
        details = {
            "reply": sms.body,
            "normalised": normalise(sms.body),
            "inboundMessageId": sms.inbound_message_id,
            "receivedAt": to_iso(received_at),
            "destinationNumber": sms.destination_number,
        }
        if intent == Intent.OPT_OUT:
            action = self._inbound_opt_out(phone_number, contact, sms, details)
        elif intent == Intent.HELP:
            self._reply(phone_number, messages.help_text(self.settings), sms.inbound_message_id)
            action = "help"
        elif intent == Intent.OPT_IN:
            action = self._inbound_opt_in(phone_number, contact, sms, details)
        elif intent == Intent.CONFIRM:
            action = self._inbound_confirm(phone_number, contact, sms, received_at)
        else:
            action = self._inbound_other(phone_number, contact, sms)
        # Marked only once everything above is done: if we crash half way, the redelivery
        # runs again, and every step above is idempotent.
        self.store.mark_inbound_processed(
            sms.inbound_message_id, phone_number=phone_number, processed_at=self.clock()
        )
        return action

    def _inbound_opt_out(
        self, phone_number: str, contact: Contact | None, sms: InboundSms, details: dict[str, Any]
    ) -> str:
        if contact is None:
            return "ignored_unknown_number"
        change = self._apply(
            phone_number,
            lambda current: transitions.opt_out(
                current, details={**details, "source": "reply"}, now=self.clock()
            ),
        )
        before = change.before
        if (
            change.changed
            and before is not None
            and before.status == Status.PENDING
            and before.task_token
        ):
            try:
                self.workflow.fail(
                    before.task_token,
                    error=OPTED_OUT_ERROR,
                    cause="The person replied with an opt-out keyword before confirming.",
                )
            except TaskTokenGone as error:
                log.info("workflow already past its wait", extra={"reason": error.reason})
            except WorkflowUnavailable as error:
                # The contact is opted out regardless; the workflow will time out and
                # Expire will leave the OPTED_OUT contact alone.
                log.error("could not end the workflow", extra={"error": error.message})
        self._reply(phone_number, messages.opted_out(self.settings), sms.inbound_message_id)
        return "opted_out" if change.changed else "already_opted_out"

    def _inbound_opt_in(
        self, phone_number: str, contact: Contact | None, sms: InboundSms, details: dict[str, Any]
    ) -> str:
        if contact is None:
            return "ignored_unknown_number"
        if contact.status == Status.OPTED_OUT:
            change = self._apply(
                phone_number,
                lambda current: transitions.resubscribe(current, details=details, now=self.clock()),
            )
            if change.changed:
                self._reply(
                    phone_number, messages.resubscribed(self.settings), sms.inbound_message_id
                )
                return "resubscribed"
            return "ignored"
        if contact.status == Status.EXPIRED:
            self._reply(phone_number, messages.expired(self.settings), sms.inbound_message_id)
            return "expired_reply"
        if contact.status == Status.PENDING:
            return self._inbound_other(phone_number, contact, sms)
        return "ignored"

    def _inbound_confirm(
        self, phone_number: str, contact: Contact | None, sms: InboundSms, received_at: datetime
    ) -> str:
        if contact is None:
            return "ignored_unknown_number"
        if contact.status == Status.EXPIRED:
            self._reply(phone_number, messages.expired(self.settings), sms.inbound_message_id)
            return "expired_reply"
        if contact.status != Status.PENDING:
            return "ignored"
        if not contact.task_token:
            log.warning(
                "YES before the confirmation text went out", extra={"phone": mask(phone_number)}
            )
            return "ignored_no_token"
        try:
            self.workflow.succeed(
                contact.task_token,
                {
                    "reply": sms.body,
                    "inboundMessageId": sms.inbound_message_id,
                    "receivedAt": to_iso(received_at),
                },
            )
        except TaskTokenGone as error:
            # The wait is over. Step Functions says TaskTimedOut both when the window closed
            # and when an earlier YES already closed the task, so only the contact tells them
            # apart. A YES in the milliseconds between the timeout and Expire gets no answer;
            # a quick second YES from someone just confirmed must not be told "expired".
            latest = self.store.get(phone_number)
            log.info("task token gone", extra={"reason": error.reason})
            if latest is not None and latest.status == Status.EXPIRED:
                self._reply(phone_number, messages.expired(self.settings), sms.inbound_message_id)
                return "expired_reply"
            return "ignored_token_gone"
        return "confirmed"

    def _inbound_other(self, phone_number: str, contact: Contact | None, sms: InboundSms) -> str:
        if contact is None or contact.status != Status.PENDING:
            return "ignored"
        change = self._apply(
            phone_number, lambda current: transitions.mark_clarified(current, now=self.clock())
        )
        if not change.changed:
            return "ignored_already_clarified"
        self._reply(phone_number, messages.clarify(self.settings), sms.inbound_message_id)
        return "clarified"


def _e164(number: str) -> str:
    """Inbound numbers are E.164 already; normalise anyway so lookups match."""
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return number
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
