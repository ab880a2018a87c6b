"""The support console's reads: the sign-ups list and one sign-up's page.

Both answer plain JSON-ready dicts in the shape of the console API (docs/architecture.md).
Phone numbers are masked for viewers everywhere they could appear: the summary, the ledger,
the conversation's bodies, the outcome sentence (it quotes replies) and the execution
history's input and output. Task tokens are hidden from everyone: one answers the wait.

Channel (web/api, from the `requested` event's evidence) and outcome are read from each
contact's ledger, not kept on the contact, so those two filters are applied to the index's
pages: a page with either filter may come back short, with a cursor, after examining
MAX_EXAMINED contacts (an index listing never reads more than that per request).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from optin.domain.clock import Clock, to_iso, utc_now
from optin.domain.consent import ConsentEvent, EventType
from optin.domain.contact import Contact, Status
from optin.domain.errors import ContactNotFound, DomainError
from optin.domain.export import csv_text
from optin.domain.funnel import STAGES, FunnelRange, report
from optin.domain.outcome import OUTCOME_STATUS, Outcome, OutcomeCode, describe, expires_at
from optin.domain.phone import check_number, mask
from optin.ports.contact_store import (
    MAX_PAGE_SIZE,
    ContactPage,
    ContactStore,
    Order,
    SignupQuery,
    decode_cursor,
    encode_cursor,
)
from optin.ports.execution_reader import ExecutionReader
from optin.ports.rate_limiter import RateLimiter

CHANNELS = ("web", "api")
MAX_QUERY_LENGTH = 200
# Contacts whose ledgers one listing request may read while filtering by channel/outcome.
MAX_EXAMINED = 200
# The index page size while filtering by channel or outcome.
FILTER_CHUNK = 25

# E.164 inside structured data (ledger details, execution input and output).
_E164 = re.compile(r"\+[1-9]\d{7,14}(?!\d)")
# What a person may type in a reply: digits with spaces, dots, dashes, brackets.
_TYPED_NUMBER = re.compile(r"(?<![\w+])\+?\d[\d\s().-]{6,}\d(?!\w)")
# Fields holding text as a person typed it (a reply, and its normalised form).
_FREE_TEXT = frozenset({"reply", "normalised", "body"})
_TASK_TOKEN = re.compile(r'("taskToken"\s*:\s*")[^"]*(")')
_REGISTRATION_ID = re.compile(r"[A-Za-z0-9_-]{1,80}")
# Rows one CSV export may hold; past it the export says so on its last line.
EXPORT_CAP = 10_000
# Pages one export may read (a page examines up to MAX_EXAMINED contacts while filtering by
# outcome or channel): what bounds an export's ledger reads when matches are rare.
EXPORT_MAX_PAGES = 250
EXPORT_COLUMNS = (
    "registrationId",
    "phoneNumber",
    "status",
    "outcomeCode",
    "outcome",
    "channel",
    "createdAt",
    "updatedAt",
    "expiresAt",
    "expiredAt",
    "unansweredTextAt",
    "unansweredText",
    "executionArn",
)


class BadRequest(DomainError):
    """A console request the API cannot answer as asked (400)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class ListRequest:
    q: str | None = None
    statuses: tuple[Status, ...] = tuple(Status)
    outcome: OutcomeCode | None = None
    channel: str | None = None
    updated_from: datetime | None = None
    updated_to: datetime | None = None
    limit: int = 25
    cursor: str | None = None
    order: Order = Order.NEWEST


def mask_typed(text: str) -> str:
    """Free text (a reply) with any number in it masked, however it was typed."""

    def one(match: re.Match[str]) -> str:
        digits = re.sub(r"\D", "", match.group(0))
        if len(digits) < 8:
            return match.group(0)
        return mask(("+" if match.group(0).startswith("+") else "") + digits)

    return _TYPED_NUMBER.sub(one, text)


def redact(value: Any, *, numbers: bool) -> Any:
    """`value` with task tokens hidden and, if `numbers`, E.164 numbers masked, in every
    string at any depth (JSON held in a string, like a history event's input, too)."""
    if isinstance(value, str):
        text = _TASK_TOKEN.sub(r"\1(hidden)\2", value)
        return _E164.sub(lambda m: mask(m.group(0)), text) if numbers else text
    if isinstance(value, dict):
        return {key: _redact_field(key, item, numbers=numbers) for key, item in value.items()}
    if isinstance(value, list):
        return [redact(item, numbers=numbers) for item in value]
    return value


def _redact_field(key: str, value: Any, *, numbers: bool) -> Any:
    if key == "taskToken":
        return "(hidden)"
    if numbers and key in _FREE_TEXT and isinstance(value, str):
        # What a person typed may hold a number in any format, not only E.164.
        return mask_typed(redact(value, numbers=True))
    return redact(value, numbers=numbers)


def _requested(contact: Contact, events: Sequence[ConsentEvent]) -> ConsentEvent | None:
    return next(
        (
            event
            for event in reversed(events)
            if event.type == EventType.REQUESTED
            and event.registration_id == contact.registration_id
        ),
        None,
    )


def channel_of(contact: Contact, events: Sequence[ConsentEvent]) -> str:
    """web or api, from the evidence of the current registration's `requested` event
    (Evidence.channel's rule when an older event lacks the field)."""
    event = _requested(contact, events)
    evidence = (event.details.get("evidence") if event else None) or {}
    channel = evidence.get("channel") if isinstance(evidence, dict) else None
    if channel in CHANNELS:
        return str(channel)
    if isinstance(evidence, dict) and evidence.get("apiClient") and not evidence.get("page"):
        return "api"
    return "web"


def conversation(events: Sequence[ConsentEvent]) -> list[dict[str, Any]]:
    """The texts on record: ours with their bodies and ids, replies as received."""
    lines: list[dict[str, Any]] = []
    for event in events:
        details = event.details
        if event.type in (
            EventType.CONFIRMATION_SENT,
            EventType.WELCOME_SENT,
            EventType.REPLY_SENT,
        ):
            lines.append(
                {
                    "direction": "outbound",
                    "at": to_iso(event.at),
                    "body": details.get("text"),
                    "messageId": details.get("messageId"),
                }
            )
        elif "reply" in details and details.get("reply") is not None:
            lines.append(
                {
                    "direction": "inbound",
                    "at": details.get("receivedAt") or to_iso(event.at),
                    "body": details.get("reply"),
                    "messageId": details.get("inboundMessageId"),
                }
            )
    return lines


def expiry_of(
    contact: Contact, events: Sequence[ConsentEvent]
) -> tuple[ConsentEvent | None, ConsentEvent | None]:
    """An EXPIRED sign-up's `expired` event and the last confirmation text it left
    unanswered (that registration's, before the expiry); (None, None) for other statuses."""
    if contact.status != Status.EXPIRED:
        return None, None
    position = next(
        (
            index
            for index in range(len(events) - 1, -1, -1)
            if events[index].type == EventType.EXPIRED
            and events[index].registration_id == contact.registration_id
        ),
        None,
    )
    if position is None:
        return None, None
    text = next(
        (
            event
            for event in reversed(events[:position])
            if event.type == EventType.CONFIRMATION_SENT
            and event.registration_id == contact.registration_id
        ),
        None,
    )
    return events[position], text


def window_from_history(history: Sequence[dict[str, Any]]) -> int | None:
    """The confirmation window this execution waits with: the timeout of its task that
    waits for a token."""
    for event in history:
        details = event.get("taskScheduledEventDetails") or {}
        if str(details.get("resource", "")).endswith(".waitForTaskToken"):
            timeout = details.get("timeoutInSeconds")
            if isinstance(timeout, int):
                return timeout
    return None


@dataclass
class Console:
    store: ContactStore
    reader: ExecutionReader
    clock: Clock = utc_now
    # The template's ConfirmationWindowSeconds (None: unknown, no time left is shown).
    window_seconds: int | None = None
    allowed_countries: tuple[str, ...] = field(default=("US", "CA"))
    # The pumping defences' store: sign-up attempts they blocked, per day and reason.
    limiter: RateLimiter | None = None

    # --- the list ------------------------------------------------------------------------

    def list_signups(self, request: ListRequest, *, viewer: bool) -> dict[str, Any]:
        statuses = request.statuses
        if request.outcome is not None:
            status = OUTCOME_STATUS[request.outcome]
            if status not in statuses:
                raise BadRequest(
                    "conflicting_filters",
                    f"The outcome {request.outcome} only happens to sign-ups in status {status}.",
                )
            statuses = (status,)
        _check_order(request, statuses)
        if request.q is not None and request.q.strip():
            items = [
                self._summary(contact, events, viewer=viewer)
                for contact, events in self._search(request.q.strip())
                if self._matches(contact, events, request, statuses)
            ]
            return {"items": items, "nextCursor": None}
        return self._page(request, statuses, viewer=viewer)

    def _page(
        self, request: ListRequest, statuses: tuple[Status, ...], *, viewer: bool
    ) -> dict[str, Any]:
        try:
            query = SignupQuery(
                statuses=statuses,
                updated_from=request.updated_from,
                updated_to=request.updated_to,
                limit=request.limit,
                order=request.order,
            )
        except ValueError as error:
            raise BadRequest("invalid_parameter", str(error)) from error
        filters = f"{request.outcome or ''}|{request.channel or ''}"
        if request.cursor:
            try:
                wrapped = decode_cursor(request.cursor, query)
            except ValueError as error:
                raise BadRequest(
                    "invalid_cursor", f"{error} Start again from the first page."
                ) from error
            if wrapped.get("f") != filters or not isinstance(wrapped.get("s"), str):
                raise BadRequest(
                    "invalid_cursor",
                    "The cursor belongs to a listing with other filters. Start again from "
                    "the first page.",
                )
            query = replace(query, cursor=wrapped["s"])
        filtering = request.outcome is not None or request.channel is not None
        items: list[dict[str, Any]] = []
        examined = 0
        while True:
            need = request.limit - len(items)
            # Filtering reads bigger index pages than it needs: one match in many would
            # otherwise cost one index query per contact looked at.
            size = max(need, FILTER_CHUNK) if filtering else need
            start = query
            page = self._store_page(replace(start, limit=size))
            found: list[tuple[int, dict[str, Any]]] = []
            for position, contact in enumerate(page.contacts):
                events = self.store.events(contact.phone_number)
                if not filtering or self._matches(contact, events, request, statuses):
                    found.append((position, self._summary(contact, events, viewer=viewer)))
            examined += len(page.contacts)
            if len(found) > need:
                # More matches than the page takes: the next page starts right after the
                # last one taken, a position only the store can name, so ask it for the
                # same page cut there.
                last = found[need - 1][0]
                items.extend(summary for _, summary in found[:need])
                page = self._store_page(replace(start, limit=last + 1))
            else:
                items.extend(summary for _, summary in found)
            if page.cursor is None:
                return {"items": items, "nextCursor": None}
            query = replace(start, cursor=page.cursor)
            if len(items) >= request.limit or examined >= MAX_EXAMINED:
                cursor = encode_cursor({"q": query.fingerprint(), "f": filters, "s": page.cursor})
                return {"items": items, "nextCursor": cursor}

    def _store_page(self, query: SignupQuery) -> ContactPage:
        try:
            return self.store.list_signups(query)
        except ValueError as error:
            raise BadRequest(
                "invalid_cursor", f"{error} Start again from the first page."
            ) from error

    def _matches(
        self,
        contact: Contact,
        events: Sequence[ConsentEvent],
        request: ListRequest,
        statuses: tuple[Status, ...],
    ) -> bool:
        if contact.status not in statuses:
            return False
        if request.updated_from and contact.updated_at < request.updated_from:
            return False
        if request.updated_to and contact.updated_at > request.updated_to:
            return False
        if request.channel and channel_of(contact, events) != request.channel:
            return False
        if request.outcome:
            outcome = describe(
                contact, events, now=self.clock(), window_seconds=self.window_seconds
            )
            return outcome.code == request.outcome
        return True

    def _search(self, q: str) -> list[tuple[Contact, list[ConsentEvent]]]:
        if len(q) > MAX_QUERY_LENGTH:
            raise BadRequest(
                "invalid_query",
                f"Search for a phone number, a registrationId or an execution ARN "
                f"(at most {MAX_QUERY_LENGTH} characters).",
            )
        contact: Contact | None = None
        if q.startswith("arn:"):
            # arn:<partition>:states:<region>:<account>:execution:<machine>:<name>; the
            # execution is named after the registration (usecases/signup.py).
            parts = q.split(":")
            if len(parts) != 8 or parts[2] != "states" or parts[5] != "execution":
                raise BadRequest(
                    "invalid_query",
                    "That ARN is not an execution's (arn:aws:states:…:execution:…:…).",
                )
            contact = self.store.find_by_registration(parts[7])
        else:
            check = check_number(q, ("US", "CA", *self.allowed_countries))
            if check.e164:
                contact = self.store.get(check.e164)
            elif _REGISTRATION_ID.fullmatch(q):
                contact = self.store.find_by_registration(q)
        if contact is None:
            return []
        return [(contact, self.store.events(contact.phone_number))]

    # --- exports and the funnel ----------------------------------------------------------------

    def export_signups(self, request: ListRequest, *, viewer: bool) -> str:
        """The filtered list as CSV, every page up to EXPORT_CAP rows. With an outcome or
        channel filter each page may examine up to MAX_EXAMINED contacts for few matches, so
        an export also stops after EXPORT_MAX_PAGES pages. Either way a last line says so.
        One ledger read per contact examined, as the list does."""
        rows: list[dict[str, Any]] = []
        cursor = request.cursor
        stopped: str | None = None
        for _ in range(EXPORT_MAX_PAGES):
            page = self.list_signups(
                replace(request, limit=MAX_PAGE_SIZE, cursor=cursor), viewer=viewer
            )
            rows.extend(page["items"])
            cursor = page["nextCursor"]
            if len(rows) > EXPORT_CAP or (len(rows) == EXPORT_CAP and cursor):
                stopped = f"# The export stops at {EXPORT_CAP} rows and more sign-ups may match"
                break
            if cursor is None:
                break
        else:
            stopped = (
                f"# The export stops after reading {EXPORT_MAX_PAGES} pages of the list "
                f"({len(rows)} rows found) and more sign-ups may match"
            )
        lines: list[list[Any]] = [_export_row(item) for item in rows[:EXPORT_CAP]]
        if stopped:
            lines.append([f"{stopped}: narrow the filters (status, dates) to export the rest."])
        return csv_text(EXPORT_COLUMNS, lines)

    def funnel(self, span: FunnelRange) -> dict[str, Any]:
        """The daily funnel over `span`: one counter record per day read, never a contact."""
        answer = report(span, self.store.daily_counts(span.first, span.last))
        # Attempts refused before anything was stored (rate limits, CAPTCHA, daily cap,
        # country): not sign-ups, so not in the funnel's days; by reason over the period.
        answer["blocked"] = self.limiter.blocked(span.days()) if self.limiter else {}
        return answer

    def funnel_csv(self, span: FunnelRange) -> str:
        answer = self.funnel(span)
        rows: list[list[Any]] = [[day[key] for key in ("date", *STAGES)] for day in answer["days"]]
        rows.append(["total", *(answer["totals"][stage] for stage in STAGES)])
        return csv_text(("date", *STAGES), rows)

    # --- one sign-up -----------------------------------------------------------------------

    def signup(self, registration_id: str, *, viewer: bool) -> dict[str, Any]:
        if not _REGISTRATION_ID.fullmatch(registration_id):
            raise BadRequest(
                "invalid_registration_id",
                "A registrationId is letters, digits, dashes and underscores (at most 80).",
            )
        contact = self.store.find_by_registration(registration_id)
        if contact is None:
            raise ContactNotFound(
                "No sign-up with this registrationId (or its number has signed up again since)."
            )
        events = self.store.events(contact.phone_number)
        arn = contact.execution_arn or self.reader.execution_arn(registration_id)
        info = self.reader.describe(arn)
        history = self.reader.history(arn) if info else None
        window = (window_from_history(history.events) if history else None) or (self.window_seconds)
        summary = self._summary(contact, events, viewer=viewer, window=window)
        if contact.status == Status.PENDING and info and info.status != "RUNNING":
            # The ledger says it waits, but nothing waits any more: say so, not "h left".
            summary["outcome"]["summary"] = (
                f"Stuck: its execution ended ({info.status}) while the number still waits "
                "for a reply; a YES cannot confirm it. Repair closes it."
            )
        return {
            "signup": summary,
            "contact": self._contact(contact, viewer=viewer),
            "ledger": [redact(event.as_dict(), numbers=viewer) for event in events],
            "conversation": [
                redact(line, numbers=True) if viewer else line for line in conversation(events)
            ],
            "execution": info.as_dict() if info else None,
            "definition": self.reader.definition(),
            "history": redact(history.events, numbers=viewer) if history else [],
            "historyTruncated": bool(history and history.truncated),
        }

    # --- shapes ----------------------------------------------------------------------------

    def _summary(
        self,
        contact: Contact,
        events: Sequence[ConsentEvent],
        *,
        viewer: bool,
        window: int | None = None,
    ) -> dict[str, Any]:
        window = window or self.window_seconds
        outcome: Outcome = describe(contact, events, now=self.clock(), window_seconds=window)
        requested = _requested(contact, events)
        expiry = expires_at(contact, events, window)
        expired, unanswered = expiry_of(contact, events)
        body = unanswered.details.get("text") if unanswered else None
        if viewer and isinstance(body, str):
            body = mask_typed(redact(body, numbers=True))
        return {
            "registrationId": contact.registration_id,
            "phoneNumber": mask(contact.phone_number) if viewer else contact.phone_number,
            "status": str(contact.status),
            "outcome": {
                "code": str(outcome.code),
                "summary": mask_typed(outcome.summary) if viewer else outcome.summary,
            },
            "channel": channel_of(contact, events),
            # The sign-up's own time: the contact's createdAt is the number's first one.
            "createdAt": to_iso(requested.at if requested else contact.created_at),
            "updatedAt": to_iso(contact.updated_at),
            "executionArn": contact.execution_arn,
            "expiresAt": to_iso(expiry) if expiry else None,
            "expiredAt": to_iso(expired.at) if expired else None,
            "unansweredText": ({"at": to_iso(unanswered.at), "body": body} if unanswered else None),
        }

    def _contact(self, contact: Contact, *, viewer: bool) -> dict[str, Any]:
        def iso(moment: datetime | None) -> str | None:
            return to_iso(moment) if moment else None

        # Never the task token: whoever holds it can answer the workflow's wait.
        return {
            "phoneNumber": mask(contact.phone_number) if viewer else contact.phone_number,
            "status": str(contact.status),
            "optedIn": contact.opted_in,
            "registrationId": contact.registration_id,
            "firstName": contact.first_name,
            "executionArn": contact.execution_arn,
            "sendCount": contact.send_count,
            "lastSentAt": iso(contact.last_sent_at),
            "lastMessageId": contact.last_message_id,
            "welcomeMessageId": contact.welcome_message_id,
            "createdAt": iso(contact.created_at),
            "updatedAt": iso(contact.updated_at),
            "version": contact.version,
        }


def _check_order(request: ListRequest, statuses: tuple[Status, ...]) -> None:
    """The expiry order exists for PENDING sign-ups only (the store indexes only those by
    expiry; outcome `waiting` implies PENDING), and not within a range of change times (that
    index is not keyed by them)."""
    if request.order != Order.EXPIRY:
        return
    if set(statuses) != {Status.PENDING}:
        raise BadRequest(
            "unsupported_sort",
            "Only pending sign-ups can be sorted by expiry: add status=PENDING, or leave "
            "out sort to list newest change first.",
        )
    if request.updated_from or request.updated_to:
        raise BadRequest(
            "unsupported_sort",
            "The expiry order cannot be limited to dates of the last change: leave out "
            "from and to, or leave out sort to list newest change first.",
        )


def _export_row(item: dict[str, Any]) -> list[Any]:
    unanswered = item.get("unansweredText") or {}
    return [
        item["registrationId"],
        item["phoneNumber"],
        item["status"],
        item["outcome"]["code"],
        item["outcome"]["summary"],
        item["channel"],
        item["createdAt"],
        item["updatedAt"],
        item["expiresAt"],
        item["expiredAt"],
        unanswered.get("at"),
        unanswered.get("body"),
        item["executionArn"],
    ]
