"""The registration state machine's Lambda steps: validate, create, send, opt in, expire,
and the clean-up after an error no other path handles.

Each step is idempotent for its registration: Step Functions retries a Task, and a retried
step changes nothing and sends nothing twice.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from optin.domain import contact as transitions
from optin.domain import messages
from optin.domain.consent import ExpiryReason
from optin.domain.contact import Change, Contact, Status
from optin.domain.errors import (
    ContactNotFound,
    OptedOut,
    RecipientOptedOut,
    RegistrationSuperseded,
    SmsConfigurationError,
    SmsError,
    SmsRejected,
    Undeliverable,
)
from optin.domain.phone import (
    LOOKUP_COUNTRIES,
    NumberCheck,
    apply_line_lookup,
    check_number,
    mask,
)
from optin.domain.send_limits import DailyCapReached, ledger_reason
from optin.ports.number_lookup import LineInfo
from optin.usecases.base import UseCase, log
from optin.usecases.send_caps import check_daily_texts

# A line can be ported (mobile to landline and back): a lookup is trusted for 30 days.
LOOKUP_CACHE_SECONDS = 30 * 24 * 3600
# Step Functions allows causes up to 32,768 characters; the ledger keeps the first 4,096.
CAUSE_MAX_LENGTH = 4096


class WorkflowSteps(UseCase):
    def check_number(self, raw: object, *, registration_id: str | None = None) -> NumberCheck:
        """ValidateNumber. When the number is refused for a sign-up that reserved it, the
        reserved contact becomes REJECTED, so it never stays PENDING with no text coming."""
        check = check_number(raw, self.settings.allowed_countries)
        if check.acceptable and check.e164 and check.country in LOOKUP_COUNTRIES:
            line = self._line_info(check.e164)
            if line is not None:
                check = apply_line_lookup(check, line.line_type.value, line.carrier)
        if not check.acceptable and registration_id and check.e164:
            reason = check.reason or "The number is not acceptable."
            self.apply(
                check.e164,
                lambda current: transitions.reject(
                    current, registration_id=registration_id, reason=reason, now=self.clock()
                ),
            )
        return check

    def _line_info(self, e164: str) -> LineInfo | None:
        """The carrier lookup for a number, from the store's cache when it has one (each
        lookup is billed). None when lookups are off or the service cannot answer now: the
        number then goes on with what the numbering plan says (fail open, logged)."""
        if self.lookup is None:
            return None
        now = self.clock()
        cached = self.store.cached_line_info(e164, now=now)
        if cached is not None:
            return cached
        try:
            line = self.lookup.lookup(e164)
        except SmsError as error:
            log.error(
                "carrier lookup unavailable, numbering plan only",
                extra={"phone": mask(e164), "error": error.code},
            )
            if isinstance(error, SmsConfigurationError):
                self.on_configuration_error(error)
            return None
        self.store.cache_line_info(
            line, now=now, expires_at=now + timedelta(seconds=LOOKUP_CACHE_SECONDS)
        )
        return line

    def create_contact(
        self,
        *,
        registration_id: str,
        phone_number: str,
        first_name: str | None,
        evidence: dict[str, Any] | None,
        validation: dict[str, Any],
        execution_arn: str | None,
    ) -> Status:
        """Normally the sign-up reserved the contact already and this only records the
        execution. An execution started some other way creates the contact here."""
        now = self.clock()
        change = self.apply(
            phone_number,
            lambda current: transitions.request(
                current,
                phone_number=phone_number,
                registration_id=registration_id,
                first_name=first_name,
                execution_arn=execution_arn,
                evidence=evidence or {},
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
        window_seconds: int | None = None,
    ) -> str:
        now = self.clock()
        keys: list[str] = []

        def attach(current: Contact | None) -> Change:
            change, key = transitions.attach_task_token(
                current,
                registration_id=registration_id,
                task_token=task_token,
                now=now,
                window_seconds=window_seconds,
            )
            keys.append(key)
            if change.after is not None and change.after.last_send_key != (
                current.last_send_key if current else None
            ):
                # This write reserves a new text: the number's day's texts must allow it.
                check_daily_texts(self, current)
            return change

        try:
            # The token is stored before the text goes out, so a fast YES finds it.
            contact = self.apply(phone_number, attach).after
        except DailyCapReached as error:
            # No text, and nothing left to wait for: the registration ends REJECTED with
            # the cap as its reason, and the error ends the execution (CleanUp, Failed).
            reason = ledger_reason(error)
            self.apply(
                phone_number,
                lambda current: transitions.reject(
                    current, registration_id=registration_id, reason=reason, now=now
                ),
            )
            log.warning("confirmation not sent: daily cap", extra={"phone": mask(phone_number)})
            raise
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
            message_id = self.text(phone_number, message, key)
        except RecipientOptedOut as error:
            # The SMS service holds the number on its opt-out list (an earlier STOP).
            refusal = error.message
            self.apply(
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
            self.apply(
                phone_number,
                lambda current: transitions.reject(
                    current, registration_id=registration_id, reason=refusal, now=now
                ),
            )
            raise Undeliverable("The confirmation text was refused for this number.") from error

        self.record_send(phone_number, registration_id, key, message, message_id)
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
        change = self.apply(
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
            message_id = self.text(phone_number, message, transitions.welcome_key(registration_id))
        except SmsRejected as error:
            # The opt-in stands; only the courtesy text could not go out.
            log.warning(
                "welcome not sent", extra={"phone": mask(phone_number), "error": error.code}
            )
            return contact.status
        self.apply(
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
        change = self.apply(
            phone_number,
            lambda current: transitions.expire(
                current, registration_id=registration_id, now=now, reason=ExpiryReason.NO_REPLY
            ),
        )
        if change.after is None:
            raise ContactNotFound("No contact for this number.")
        return change.after.status

    def clean_up(
        self,
        *,
        registration_id: str,
        phone_number: object,
        state: str,
        error: str,
        cause: str,
        execution_arn: str | None,
    ) -> Status | None:
        """The workflow's catch-all: `state` failed with `error` after its retries, and no
        other path handles it. A contact still PENDING on this registration would wait
        forever, so it becomes EXPIRED (still opted out) with the failure on record. A
        contact that moved on (confirmed before OptIn failed, opted out, rejected, taken by
        another registration) is left as it is. Returns the contact's status, None when the
        number has no contact (the sign-up never reserved it)."""
        # The execution's input number; the sign-up passes it in E.164 already, and another
        # caller's raw number is normalised the way ValidateNumber does.
        e164 = check_number(phone_number, self.settings.allowed_countries).e164
        if e164 is None:
            return None
        details = {
            "state": state,
            "error": error,
            # The cause is the failed step's own message (a Lambda error's JSON): kept to
            # a bounded size, it is evidence of what happened, not a log.
            "cause": cause[:CAUSE_MAX_LENGTH],
            "executionArn": execution_arn,
        }
        change = self.apply(
            e164,
            lambda current: transitions.expire(
                current,
                registration_id=registration_id,
                now=self.clock(),
                reason=ExpiryReason.WORKFLOW_FAILED,
                details=details,
            ),
        )
        return change.after.status if change.after else None
