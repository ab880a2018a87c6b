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
from optin.domain.consent import EventType, ExpiryReason
from optin.domain.contact import Contact, Status
from optin.domain.errors import SmsRejected, TaskTokenGone, WorkflowUnavailable
from optin.domain.keywords import Intent, classify, normalise
from optin.domain.phone import mask
from optin.usecases.base import UseCase, log
from optin.usecases.ended import expire_if_execution_over

OPTED_OUT_ERROR = "OptedOut"

# Expiries that were not the person's silence: a reply then hears the sign-up is closed.
_CLOSED_BY_US = frozenset(
    {
        ExpiryReason.EXECUTION_ENDED,
        ExpiryReason.WORKFLOW_FAILED,
        ExpiryReason.AGENT_CANCELLED,
        ExpiryReason.AGENT_EXPIRED,
    }
)


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
            return self._expired_reply(phone_number, sms)
        if contact.status == Status.PENDING:
            return self._inbound_other(phone_number, contact, sms)
        return "ignored"

    def _inbound_confirm(
        self, phone_number: str, contact: Contact | None, sms: InboundSms, received_at: datetime
    ) -> str:
        if contact is None:
            return "ignored_unknown_number"
        if contact.status == Status.EXPIRED:
            return self._expired_reply(phone_number, sms)
        if contact.status != Status.PENDING:
            return "ignored"
        if not contact.task_token:
            # Normally the text is on its way; but the execution may have died before it.
            closed = self._close_if_execution_over(phone_number, contact, sms, error=None)
            if closed:
                return closed
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
            # The wait is over. Step Functions says TaskTimedOut when the window closed, when
            # an earlier YES already closed the task, and when the execution was stopped, so
            # only the contact and the execution tell them apart. A quick second YES from
            # someone being confirmed must not be told anything.
            log.info("task token gone", extra={"reason": error.reason})
            latest = self.store.get(phone_number)
            if latest is not None and latest.status == Status.EXPIRED:
                return self._expired_reply(phone_number, sms)
            if latest is not None and latest.status == Status.PENDING:
                closed = self._close_if_execution_over(
                    phone_number, latest, sms, error=error.reason
                )
                if closed:
                    return closed
            return "ignored_token_gone"
        return "confirmed"

    def _close_if_execution_over(
        self, phone_number: str, contact: Contact, sms: InboundSms, *, error: str | None
    ) -> str | None:
        """A reply to a PENDING contact whose execution is over: expire it (execution_ended)
        and tell the person once, by the reply's dedup key, that the sign-up is closed.
        None when the execution runs (or never recorded itself: CreateContact has not run,
        and the sign-up may be starting it this very moment)."""
        if contact.execution_arn is None:
            return None
        # The reply is what revealed the end: the ledger keeps it, as it keeps a YES, so the
        # console's conversation shows that the person did answer.
        reply = {
            "reply": sms.body,
            "inboundMessageId": sms.inbound_message_id,
            "receivedAt": to_iso(sms.received_at or self.clock()),
        }
        change = expire_if_execution_over(self, contact, error=error, extra=reply)
        if change is None or change.after is None or change.after.status != Status.EXPIRED:
            return None
        return self._expired_reply(phone_number, sms)

    def _expired_reply(self, phone_number: str, sms: InboundSms) -> str:
        """The answer to a reply from an EXPIRED number, by why it expired: a window that
        passed in silence ("expired"), or a sign-up that ended without the person's doing
        ("no longer open"). Chosen from the ledger, so a redelivery after a crash picks the
        same text under the same dedup key and it goes out at most once."""
        last = next(
            (e for e in reversed(self.store.events(phone_number)) if e.type == EventType.EXPIRED),
            None,
        )
        reason = last.details.get("reason") if last else None
        if reason in _CLOSED_BY_US:
            self.reply(
                phone_number, messages.registration_closed(self.settings), sms.inbound_message_id
            )
            return "closed_reply"
        self.reply(phone_number, messages.expired(self.settings), sms.inbound_message_id)
        return "expired_reply"

    def _inbound_other(self, phone_number: str, contact: Contact | None, sms: InboundSms) -> str:
        if contact is None or contact.status != Status.PENDING:
            return "ignored"
        # "Reply YES" would be no help if nothing waits for it any more.
        closed = self._close_if_execution_over(phone_number, contact, sms, error=None)
        if closed:
            return closed
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
