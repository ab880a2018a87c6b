"""Inbound texts (two-way SMS through SNS): YES, STOP, HELP, START and anything else.

Every step is idempotent: SNS delivers at least once, and a message is marked processed
only after everything it causes is done, so a redelivery after a crash finishes the job.
A text from a number that never signed up changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import phonenumbers

from optin.domain import contact as transitions
from optin.domain import messages
from optin.domain.clock import to_iso
from optin.domain.contact import Contact, Status
from optin.domain.errors import SmsRejected, TaskTokenGone, WorkflowUnavailable
from optin.domain.keywords import Intent, classify, normalise
from optin.domain.phone import mask
from optin.usecases.base import UseCase, log

OPTED_OUT_ERROR = "OptedOut"


@dataclass(frozen=True)
class InboundSms:
    origination_number: str
    destination_number: str
    body: str
    inbound_message_id: str
    keyword: str | None = None
    previous_published_message_id: str | None = None
    received_at: datetime | None = None


class InboundTexts(UseCase):
    def handle(self, sms: InboundSms) -> str:
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
            self.reply(phone_number, messages.help_text(self.settings), sms.inbound_message_id)
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
        change = self.apply(
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
        # The confirmation of the STOP goes out before the number joins the service's
        # opt-out list, which would refuse it. Both are idempotent, so a redelivery after a
        # crash does whatever was left.
        self.reply(phone_number, messages.opted_out(self.settings), sms.inbound_message_id)
        self.sms.opt_out(phone_number)
        return "opted_out" if change.changed else "already_opted_out"

    def _inbound_opt_in(
        self, phone_number: str, contact: Contact | None, sms: InboundSms, details: dict[str, Any]
    ) -> str:
        if contact is None:
            return "ignored_unknown_number"
        if contact.status == Status.OPTED_OUT:
            # Off the service's opt-out list first, or it would refuse every text after.
            try:
                self.sms.opt_in(phone_number)
            except SmsRejected as error:
                # AWS takes a number off its list once per 30 days: the number stays opted
                # out everywhere, and no reply can reach it.
                log.warning(
                    "opt-out list refused START",
                    extra={"phone": mask(phone_number), "error": error.code},
                )
                return "resubscribe_refused"
            change = self.apply(
                phone_number,
                lambda current: transitions.resubscribe(current, details=details, now=self.clock()),
            )
            if change.changed:
                self.reply(
                    phone_number, messages.resubscribed(self.settings), sms.inbound_message_id
                )
                return "resubscribed"
            return "ignored"
        if contact.status == Status.EXPIRED:
            self.reply(phone_number, messages.expired(self.settings), sms.inbound_message_id)
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
            self.reply(phone_number, messages.expired(self.settings), sms.inbound_message_id)
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
                self.reply(phone_number, messages.expired(self.settings), sms.inbound_message_id)
                return "expired_reply"
            return "ignored_token_gone"
        return "confirmed"

    def _inbound_other(self, phone_number: str, contact: Contact | None, sms: InboundSms) -> str:
        if contact is None or contact.status != Status.PENDING:
            return "ignored"
        change = self.apply(
            phone_number, lambda current: transitions.mark_clarified(current, now=self.clock())
        )
        if not change.changed:
            return "ignored_already_clarified"
        self.reply(phone_number, messages.clarify(self.settings), sms.inbound_message_id)
        return "clarified"


def _e164(number: str) -> str:
    """Inbound numbers are E.164 already; normalise anyway so lookups match."""
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return number
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
