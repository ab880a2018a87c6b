"""What every use case shares: the ports, the clock, and the two disciplines that keep the
system correct under retries and races.

* Every state change goes through `apply`: read the contact, compute the transition (pure,
  in optin.domain.contact), write it conditionally on the version read; if another writer
  got there first (TransitionConflict), read again and recompute. The recomputation sees
  the winner's state, so a YES that loses to a STOP turns into a no-op instead of undoing it.
* Every text goes through `text`: its dedup key is claimed in the store before the SMS
  service is called, and the message id is kept on the claim afterwards. A retried Lambda
  that finds the claim does not send again. End User Messaging does not deduplicate
  (`Context` is only echoed in events), so this claim is what makes "never twice" true on
  AWS. The one window left: a crash (or a lost answer, a read timeout) after the claim and
  before the receipt. Then nobody knows whether the text left, and it is not sent again
  (we err on the side of silence; the person can ask for the text again by signing up
  again, which uses a new key).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from optin.domain import contact as transitions
from optin.domain import messages
from optin.domain.clock import Clock, utc_now
from optin.domain.consent import EventType
from optin.domain.contact import Change, Contact
from optin.domain.errors import (
    SmsConfigurationError,
    SmsError,
    SmsOutcomeUnknown,
    SmsRejected,
    TransitionConflict,
)
from optin.domain.phone import mask
from optin.domain.settings import Settings
from optin.ports.contact_store import ContactStore
from optin.ports.number_lookup import NumberLookup
from optin.ports.sms_sender import SmsSender
from optin.ports.workflow import Workflow

# Plain stdlib logging: handlers configure Powertools' Logger on the "sms-optin" service
# logger; this child propagates to it.
log = logging.getLogger("sms-optin.usecases")

MAX_WRITE_ATTEMPTS = 5

# Recorded instead of a message id when an earlier try claimed the text and died before
# the SMS service answered: the text may or may not have left, and it is not sent again.
UNCONFIRMED_MESSAGE_ID = "unconfirmed"


@dataclass
class UseCase:
    settings: Settings
    store: ContactStore
    sms: SmsSender
    workflow: Workflow
    clock: Clock = utc_now
    # End User Messaging CarrierLookup, when the CarrierLookup parameter switches it on.
    lookup: NumberLookup | None = None
    # Told of an account-level refusal a use case works around (the operator's alarm).
    on_configuration_error: Callable[[SmsConfigurationError], None] = lambda _error: None

    def apply(self, phone_number: str, transition: Callable[[Contact | None], Change]) -> Change:
        for _ in range(MAX_WRITE_ATTEMPTS):
            current = self.store.get(phone_number)
            change = transition(current)
            if not change.changed or self.save(change):
                return change
            log.info("write conflict, recomputing", extra={"phone": mask(phone_number)})
        raise TransitionConflict("The contact kept changing; giving up after several tries.")

    def save(self, change: Change) -> bool:
        """Write a change conditionally on the version it was computed from; False when
        another writer got there first (nothing written)."""
        assert change.after is not None
        try:
            self.store.save(
                change.after,
                expected_version=change.before.version if change.before else None,
                events=change.events,
            )
        except TransitionConflict:
            return False
        return True

    def text(self, to: str, message: messages.Message, dedup_key: str) -> str:
        """Send one text at most once per dedup key; return its message id."""
        claim = self.store.claim_send(dedup_key, phone_number=to, now=self.clock())
        if not claim.claimed:
            log.info(
                "text already claimed, not sent again",
                extra={"phone": mask(to), "kind": message.kind, "messageId": claim.message_id},
            )
            return claim.message_id or UNCONFIRMED_MESSAGE_ID
        try:
            message_id = self.sms.send(to, message.text, dedup_key=dedup_key)
        except SmsOutcomeUnknown:
            # The text may have left: the claim stays, and no retry sends it again.
            raise
        except SmsError as error:
            # The service answered with a refusal, or no request went out: nothing left,
            # so a retry may send.
            self.store.release_send(dedup_key, reason=error.code, now=self.clock())
            raise
        self.store.complete_send(dedup_key, message_id=message_id, now=self.clock())
        # Message kinds, never bodies or numbers in clear, at INFO.
        log.info(
            "text sent",
            extra={"phone": mask(to), "kind": message.kind, "messageId": message_id},
        )
        return message_id

    def reply(self, to: str, message: messages.Message, inbound_message_id: str) -> str | None:
        """Replies are courtesy texts: a refusal (e.g. the number is on the SMS service's
        opt-out list after STOP) must not undo the state change already made."""
        try:
            message_id = self.text(to, message, transitions.reply_key(inbound_message_id))
        except SmsRejected as error:
            log.warning("reply not sent", extra={"phone": mask(to), "error": error.code})
            return None
        self._record_reply(to, message, inbound_message_id, message_id)
        return message_id

    def _record_reply(
        self, to: str, message: messages.Message, inbound_message_id: str, message_id: str
    ) -> None:
        """The answer goes on the number's record (the console's conversation shows it), once:
        a redelivered inbound text finds its answer there already."""

        def transition(current: Contact | None) -> Change:
            answered = any(
                event.type == EventType.REPLY_SENT
                and event.details.get("inReplyTo") == inbound_message_id
                for event in (self.store.events(to) if current is not None else ())
            )
            if answered:
                return Change(before=current, after=current)
            return transitions.record_reply(
                current,
                message=message,
                message_id=message_id,
                in_reply_to=inbound_message_id,
                now=self.clock(),
            )

        self.apply(to, transition)

    def record_send(
        self,
        phone_number: str,
        registration_id: str,
        dedup_key: str,
        message: messages.Message,
        message_id: str,
    ) -> None:
        """A confirmation text went out: count it and put it, word for word, in the ledger."""
        self.apply(
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
