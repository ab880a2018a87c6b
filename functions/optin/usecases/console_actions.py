"""What a support agent may do to one sign-up from the console: resend the confirmation
text, cancel, expire now, opt the number out, or repair a sign-up whose execution is over.

Every action is written to the consent ledger with who (`by`), why (`why`), `source:
"console"` and a `requestKey`, and every change goes through the store's conditional writes
(`UseCase.apply`), so an action computed from a contact that changed meanwhile (a YES, a
STOP) is recomputed and refused rather than undoing it.

Retries: the request key is derived from the request itself (action, registration, agent,
reason). A retried request finds its own ledger event and answers as the first one did,
finishing whatever the first could not (stopping the execution, the opt-out list, the text),
each of which is idempotent; it never writes a second event or sends a second text. For a
resend that is the case only within the cooldown: later, the same words ask for another text.

The contact is written before the execution is stopped: the store decides the race with a
YES (confirm needs PENDING), and an execution left running by a failed StopExecution ends on
its own without changing the contact (Expire leaves a non-PENDING contact alone).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from optin.domain import contact as transitions
from optin.domain import messages
from optin.domain.consent import ConsentEvent, EventType, ExpiryReason
from optin.domain.contact import Contact, Status
from optin.domain.errors import ContactNotFound, DomainError, RegistrationSuperseded, TaskTokenGone
from optin.domain.phone import mask
from optin.usecases.base import UseCase, log
from optin.usecases.ended import RUNNING, expire_if_execution_over
from optin.usecases.send_caps import check_daily_texts

SOURCE = "console"
MAX_REASON = 500


class Action(StrEnum):
    RESEND = "resend"
    CANCEL = "cancel"
    EXPIRE = "expire"
    OPT_OUT = "opt-out"
    REPAIR = "repair"


# StopExecution's error for each action that stops an execution (seen in its history).
STOP_ERRORS = {
    Action.CANCEL: "AgentCancelled",
    Action.EXPIRE: "AgentExpired",
    Action.OPT_OUT: "AgentOptedOut",
}
# The error the workflow catches on SendConfirmation for an opt-out (it ends in Cancelled).
OPTED_OUT_ERROR = "OptedOut"

# Ledger events that put the contact in its status: a retried request is recognised only
# while its own event is still the last of these (nothing has happened to the number since).
_STATUS_EVENTS = frozenset(
    {
        EventType.REQUESTED,
        EventType.CONFIRMED,
        EventType.EXPIRED,
        EventType.OPTED_OUT,
        EventType.RESUBSCRIBED,
        EventType.REJECTED,
    }
)


class ActionRefused(DomainError):
    """The action cannot be done on this sign-up now; `code` is the API's error code."""

    def __init__(self, code: str, message: str, *, status: int = 409) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


def check_reason(raw: object) -> str:
    """The agent's reason, trimmed: required, 1 to MAX_REASON characters of text."""
    if not isinstance(raw, str) or not raw.strip():
        raise ActionRefused(
            "invalid_reason", "Say why you are doing this (a reason is required).", status=400
        )
    reason = raw.strip()
    if len(reason) > MAX_REASON:
        raise ActionRefused(
            "invalid_reason",
            f"The reason is {len(reason)} characters long; keep it to {MAX_REASON}.",
            status=400,
        )
    return reason


@dataclass(frozen=True)
class AgentRequest:
    action: Action
    registration_id: str
    username: str
    why: str
    # Who acts: "console" (a support agent, `username`) or "api" (a partner, `username` is its
    # API key id: DELETE /v1/signups/{id} opts out through this same code).
    source: str = SOURCE

    @property
    def key(self) -> str:
        """The same for a retry of this request (same action, sign-up, agent and reason)."""
        parts: tuple[str, ...] = (str(self.action), self.registration_id, self.username, self.why)
        if self.source != SOURCE:
            parts = (*parts, self.source)
        return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:32]

    def details(self) -> dict[str, Any]:
        return {
            "by": self.username,
            "why": self.why,
            "source": self.source,
            "action": str(self.action),
            "requestKey": self.key,
        }


class ConsoleActions(UseCase):
    def act(self, request: AgentRequest) -> str:
        """Do `request`; return "done" or "retry" (a retried request, finished if need be).
        Raises ContactNotFound, ActionRefused, ResendCooldown, ResendLimit, and the ports'
        WorkflowUnavailable / SmsError / StoreUnavailable (worth a retry of the request)."""
        contact = self.store.find_by_registration(request.registration_id)
        if contact is None:
            raise ContactNotFound(
                "No sign-up with this registrationId (or its number has signed up again since)."
            )
        events = self.store.events(contact.phone_number)
        # Plain calls rather than a table of methods: the least-privilege check follows
        # calls, and a table would hide what each action reaches.
        outcome = "done"
        if self._retried(contact, events, request):
            outcome = "retry"
        elif request.action == Action.RESEND:
            self._resend(contact, request)
        elif request.action == Action.CANCEL:
            self._end(contact, request, ExpiryReason.AGENT_CANCELLED)
        elif request.action == Action.EXPIRE:
            self._end(contact, request, ExpiryReason.AGENT_EXPIRED)
        elif request.action == Action.OPT_OUT:
            self._opt_out(contact, request)
        else:
            self._repair(contact, request)
        log.info(
            "console action",
            extra={
                "action": str(request.action),
                "outcome": outcome,
                "by": request.username,
                "registrationId": request.registration_id,
                "phone": mask(contact.phone_number),
            },
        )
        return outcome

    # --- retries ---------------------------------------------------------------------------

    def _retried(self, contact: Contact, events: list[ConsentEvent], request: AgentRequest) -> bool:
        mine = next(
            (
                event
                for event in reversed(events)
                if event.registration_id == request.registration_id
                and event.details.get("requestKey") == request.key
            ),
            None,
        )
        if mine is None:
            return False
        if request.action == Action.RESEND:
            return self._retried_resend(contact, mine)
        last = next((event for event in reversed(events) if event.type in _STATUS_EVENTS), None)
        if last is None or last.event_id != mine.event_id:
            return False  # the number moved on since: this is a new request
        if request.action in (Action.CANCEL, Action.EXPIRE):
            self._stop(contact, request)
        elif request.action == Action.OPT_OUT:
            if mine.details.get("previousStatus") == str(Status.PENDING):
                self._stop(contact, request)
            self.sms.opt_out(contact.phone_number)
        return True

    def _retried_resend(self, contact: Contact, mine: ConsentEvent) -> bool:
        send_number = mine.details.get("sendNumber")
        elapsed = (self.clock() - mine.at).total_seconds()
        if (
            mine.type != EventType.RESEND_REQUESTED
            or contact.status != Status.PENDING
            or send_number != contact.send_count
            or elapsed >= self.settings.resend_cooldown_seconds
        ):
            return False
        assert contact.registration_id is not None
        key = transitions.resend_key(contact.registration_id, contact.send_count)
        if contact.last_send_key == key and contact.last_message_id is None:
            # The first try reserved the text and did not record it: send (the claim makes
            # sure it leaves at most once) and record.
            self._send(contact, key)
        return True

    # --- the actions -----------------------------------------------------------------------

    def _resend(self, contact: Contact, request: AgentRequest) -> None:
        _require_pending(contact)
        if contact.send_count == 0:
            raise ActionRefused(
                "not_texted_yet",
                "The first confirmation text has not gone out yet; there is nothing to resend.",
            )
        status = self.workflow.status(contact.execution_arn or request.registration_id)
        if status != RUNNING:
            raise ActionRefused(
                "execution_ended",
                f"This sign-up's execution is over ({status or 'unknown'}): a reply could not "
                "confirm it. Repair the sign-up instead.",
            )
        keys: list[str] = []

        def reserve(latest: Contact | None) -> transitions.Change:
            if latest is None or latest.registration_id != request.registration_id:
                raise _not_pending()
            change, key = transitions.reserve_resend(
                latest,
                now=self.clock(),
                cooldown_seconds=self.settings.resend_cooldown_seconds,
                max_sends=self.settings.max_confirmation_sends,
                evidence={"source": SOURCE, "by": request.username},
                details=request.details(),
            )
            check_daily_texts(self, latest)
            keys.append(key)
            return change

        try:
            reserved = self.apply(contact.phone_number, reserve).after
        except RegistrationSuperseded:
            raise _not_pending() from None
        assert reserved is not None
        self._send(reserved, keys[-1])

    def _send(self, contact: Contact, key: str) -> None:
        assert contact.registration_id is not None
        message = messages.confirmation(self.settings, contact.first_name)
        message_id = self.text(contact.phone_number, message, key)
        self.record_send(contact.phone_number, contact.registration_id, key, message, message_id)

    def _end(self, contact: Contact, request: AgentRequest, reason: ExpiryReason) -> None:
        _require_pending(contact)
        details = {**request.details(), "executionArn": contact.execution_arn}
        change = self.apply(
            contact.phone_number,
            lambda current: transitions.expire(
                current,
                registration_id=request.registration_id,
                now=self.clock(),
                reason=reason,
                details=details,
            ),
        )
        if not change.changed:
            raise _not_pending()  # a reply, a STOP or the window got there first
        self._stop(contact, request)

    def _opt_out(self, contact: Contact, request: AgentRequest) -> None:
        if contact.status == Status.OPTED_OUT:
            raise ActionRefused("already_opted_out", "This number is opted out already.")
        change = self.apply(
            contact.phone_number,
            lambda current: transitions.opt_out(
                current, details=request.details(), now=self.clock()
            ),
        )
        before = change.before
        if not change.changed or before is None:
            raise ActionRefused("already_opted_out", "This number is opted out already.")
        if before.status == Status.PENDING:
            self._end_pending_workflow(before, request)
        # No text to the person: the agent acts on their word (or the company's), and the
        # service's opt-out list makes sure nothing reaches the number any more.
        self.sms.opt_out(contact.phone_number)

    def _end_pending_workflow(self, before: Contact, request: AgentRequest) -> None:
        """End the workflow the way a STOP does, through its task token (SendConfirmation
        catches OptedOut and ends in Cancelled); without a token (the text is not out yet, or
        the task is over), StopExecution."""
        if before.task_token:
            try:
                self.workflow.fail(
                    before.task_token, error=OPTED_OUT_ERROR, cause=_cause(request, "Opted out")
                )
                return
            except TaskTokenGone as error:
                log.info("task token gone, stopping instead", extra={"reason": error.reason})
        self._stop(before, request)

    def _repair(self, contact: Contact, request: AgentRequest) -> None:
        _require_pending(contact)
        change = expire_if_execution_over(self, contact, extra=request.details())
        if change is None:
            raise ActionRefused(
                "still_running",
                "This sign-up's execution is still running: it will end on its own, or cancel "
                "or expire it.",
            )
        if not change.changed:
            raise _not_pending()

    def _stop(self, contact: Contact, request: AgentRequest) -> None:
        verb = {Action.CANCEL: "Cancelled", Action.EXPIRE: "Expired"}.get(
            request.action, "Opted out"
        )
        self.workflow.stop(
            contact.execution_arn or request.registration_id,
            error=STOP_ERRORS.get(request.action, "AgentAction"),
            cause=_cause(request, verb),
        )


def _cause(request: AgentRequest, verb: str) -> str:
    where = "the support console" if request.source == SOURCE else f"the {request.source}"
    return f"{verb} by {request.username} in {where}: {request.why}"


def _not_pending() -> ActionRefused:
    return ActionRefused("not_pending", "This sign-up is no longer waiting for a reply.")


def _require_pending(contact: Contact) -> None:
    if contact.status != Status.PENDING:
        raise ActionRefused(
            "not_pending",
            f"This sign-up is {contact.status}; the action needs one waiting for a reply.",
        )
