"""Console API answers in the shared contract's shapes, for the console's browser tests.

The console API is built elsewhere; these tests serve its answers with Playwright's
`page.route()`. The execution histories are built event by event in the shapes the local
engine's GetExecutionHistory returns (ids, previousEventId, `...EventDetails` with JSON-string
input/output), for this project's state machine (statemachine/registration.asl.json), with
ISO-8601 timestamps as the contract says. Phone numbers are masked as a viewer sees them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

from playwright.sync_api import Page, Route

REPO = Path(__file__).resolve().parents[2]
DEFINITION: dict[str, Any] = json.loads(
    (REPO / "statemachine" / "registration.asl.json").read_text(encoding="utf-8")
)
STATE_NAMES = list(DEFINITION["States"])
ACCOUNT = "123456789012"
STATE_MACHINE = "RegistrationStateMachine"
DISCLOSURE = (
    "By checking this box, I agree to receive recurring automated text messages from Acme "
    "Alerts at the number provided. Consent is not a condition of purchase. Up to 4 msgs/month. "
    "Msg & data rates may apply. Reply HELP for help, STOP to cancel. "
    "Terms: https://example.com/sms-terms"
)
CONFIRMATION_TEXT = (
    "Acme Alerts: Reply YES to confirm texts. Up to 4 msgs/month. Msg & data rates may apply. "
    "HELP for help, STOP to cancel. Terms: https://example.com/sms-terms"
)
WELCOME_TEXT = (
    "You're subscribed to Acme Alerts. Hi Ada! Up to 4 msgs/month. Msg & data rates may apply. "
    "Reply STOP to cancel, HELP for help."
)
USER_AGENT = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0 Safari/537.36"
)
BASE = datetime(2026, 11, 26, 14, 0, 0, tzinfo=UTC)


def iso(t: datetime) -> str:
    return t.isoformat()


def execution_arn(registration_id: str) -> str:
    return f"arn:aws:states:us-east-1:{ACCOUNT}:execution:{STATE_MACHINE}:{registration_id}"


def lambda_arn(name: str) -> str:
    return f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{name}"


class History:
    """GetExecutionHistory events for one execution, appended in order."""

    def __init__(self, registration_id: str, masked_phone: str, start: datetime) -> None:
        self.registration_id = registration_id
        self.phone = masked_phone
        self.t = start
        self.events: list[dict[str, Any]] = []
        self.data: dict[str, Any] = {
            "registrationId": registration_id,
            "phoneNumber": masked_phone,
            "firstName": "Ada",
        }

    def add(self, type_: str, details_key: str | None, details: dict[str, Any], ms: int) -> None:
        self.t += timedelta(milliseconds=ms)
        event: dict[str, Any] = {
            "timestamp": iso(self.t),
            "type": type_,
            "id": len(self.events) + 1,
            "previousEventId": len(self.events),
        }
        if details_key:
            event[details_key] = details
        self.events.append(event)

    def started(self) -> History:
        self.add(
            "ExecutionStarted",
            "executionStartedEventDetails",
            {
                "input": json.dumps(self.data),
                "inputDetails": {"truncated": False},
                "roleArn": f"arn:aws:iam::{ACCOUNT}:role/RegistrationStateMachineRole",
            },
            0,
        )
        return self

    def enter(self, name: str, ms: int = 1) -> None:
        kind = DEFINITION["States"][name]["Type"]
        self.add(
            f"{kind}StateEntered",
            "stateEnteredEventDetails",
            {"name": name, "input": json.dumps(self.data), "inputDetails": {"truncated": False}},
            ms,
        )

    def exit(self, name: str, ms: int = 1) -> None:
        kind = DEFINITION["States"][name]["Type"]
        self.add(
            f"{kind}StateExited",
            "stateExitedEventDetails",
            {"name": name, "output": json.dumps(self.data), "outputDetails": {"truncated": False}},
            ms,
        )

    def simple(self, name: str, update: dict[str, Any] | None = None) -> History:
        self.enter(name)
        self.data.update(update or {})
        self.exit(name)
        return self

    def task(
        self,
        name: str,
        function: str,
        outcome: str = "succeeded",
        payload: dict[str, Any] | None = None,
        failures: tuple[tuple[str, str], ...] = (),
        wait: bool = False,
        result: dict[str, Any] | None = None,
        ms: int = 400,
    ) -> History:
        """A Task state: failed attempts that were retried, then the outcome: succeeded,
        failed:<Error>:<cause> (then caught, exited), timedout (caught), waiting (open) or
        uncaught:<Error>:<cause> (left open for ExecutionFailed)."""
        resource = "invoke.waitForTaskToken" if wait else "invoke"
        base = {"resourceType": "lambda", "resource": resource}
        self.enter(name)

        def attempt() -> None:
            params = {"FunctionName": lambda_arn(function), "Payload": dict(self.data)}
            if wait:
                params["Payload"]["taskToken"] = "AQBeyJlIjogImFybjphd3M6c3RhdGVz"
            self.add(
                "TaskScheduled",
                "taskScheduledEventDetails",
                {**base, "region": "us-east-1", "parameters": json.dumps(params)},
                1,
            )
            self.add("TaskStarted", "taskStartedEventDetails", dict(base), 1)

        for error, cause in failures:
            attempt()
            self.add(
                "TaskFailed", "taskFailedEventDetails", {**base, "error": error, "cause": cause}, ms
            )
        attempt()
        if wait:
            submitted = {"ExecutedVersion": "$LATEST", "Payload": payload or {}}
            self.add(
                "TaskSubmitted",
                "taskSubmittedEventDetails",
                {**base, "output": json.dumps(submitted), "outputDetails": {"truncated": False}},
                ms,
            )
        if outcome == "waiting":
            return self
        if outcome == "succeeded":
            output = result if wait else {"ExecutedVersion": "$LATEST", "Payload": payload or {}}
            self.add(
                "TaskSucceeded",
                "taskSucceededEventDetails",
                {**base, "output": json.dumps(output), "outputDetails": {"truncated": False}},
                ms,
            )
            self.exit(name)
        elif outcome == "timedout":
            self.add(
                "TaskTimedOut",
                "taskTimedOutEventDetails",
                {**base, "error": "States.Timeout", "cause": ""},
                ms,
            )
            self.data["error"] = {"Error": "States.Timeout", "Cause": ""}
            self.exit(name)
        elif outcome.startswith(("failed:", "uncaught:")):
            kind, error, cause = outcome.split(":", 2)
            self.add(
                "TaskFailed", "taskFailedEventDetails", {**base, "error": error, "cause": cause}, ms
            )
            if kind == "failed":
                self.data["error"] = {"Error": error, "Cause": cause}
                self.exit(name)
        return self

    def succeed_state(self, name: str) -> History:
        return self.simple(name)

    def fail_state(self, name: str, error: str, cause: str) -> History:
        self.enter(name)
        self.add(
            "ExecutionFailed", "executionFailedEventDetails", {"error": error, "cause": cause}, 1
        )
        return self

    def succeeded(self) -> History:
        self.add(
            "ExecutionSucceeded",
            "executionSucceededEventDetails",
            {"output": json.dumps(self.data), "outputDetails": {"truncated": False}},
            1,
        )
        return self

    def through_send(self, validate_failures: tuple[tuple[str, str], ...] = ()) -> History:
        """ExecutionStarted … SendConfirmation's text submitted, waiting for the reply."""
        self.started()
        self.simple("LoadSettings", {"settings": {"confirmationWindowSeconds": 86400}})
        validation = {
            "acceptable": True,
            "e164": self.phone,
            "reason": None,
            "country": "US",
            "lineType": "MOBILE",
        }
        self.task("ValidateNumber", "ValidateNumberFunction", "succeeded", validation,
                  failures=validate_failures)  # fmt: skip
        self.data["validation"] = {"acceptable": True, "e164": self.phone, "reason": None}
        self.simple("Acceptable?")
        self.task("CreateContact", "CreateContactFunction", "succeeded", {"status": "PENDING"})
        self.data["contact"] = {"status": "PENDING"}
        self.task(
            "SendConfirmation",
            "SendConfirmationFunction",
            "waiting",
            {"messageId": f"msg-{self.registration_id[:8]}-1"},
            wait=True,
            ms=700,
        )
        return self


@dataclass
class Signup:
    """One sign-up as the console API describes it."""

    registration_id: str
    phone: str  # as a viewer sees it (masked)
    status: str
    outcome_code: str
    outcome: str
    channel: str
    created: datetime
    updated: datetime
    execution_status: str
    history: list[dict[str, Any]]
    ledger: list[dict[str, Any]]
    conversation: list[dict[str, Any]]
    expires: datetime | None = None
    stop: datetime | None = None
    expired_at: datetime | None = None
    unanswered: dict[str, Any] | None = None

    def summary(self) -> dict[str, Any]:
        return {
            "registrationId": self.registration_id,
            "phoneNumber": self.phone,
            "status": self.status,
            "outcome": {"code": self.outcome_code, "summary": self.outcome},
            "channel": self.channel,
            "createdAt": iso(self.created),
            "updatedAt": iso(self.updated),
            "executionArn": execution_arn(self.registration_id),
            "expiresAt": iso(self.expires) if self.expires else None,
            "expiredAt": iso(self.expired_at) if self.expired_at else None,
            "unansweredText": self.unanswered,
        }

    def detail(self) -> dict[str, Any]:
        return {
            "signup": self.summary(),
            "contact": {
                "phoneNumber": self.phone,
                "status": self.status,
                "optedIn": self.status == "CONFIRMED",
                "firstName": "Ada",
                "sendCount": 1,
            },
            "ledger": self.ledger,
            "conversation": self.conversation,
            "execution": {
                "executionArn": execution_arn(self.registration_id),
                "status": self.execution_status,
                "startDate": iso(self.created),
                "stopDate": iso(self.stop) if self.stop else None,
            },
            "definition": DEFINITION,
            "history": self.history,
        }


def requested(registration_id: str, at: datetime, channel: str = "web") -> dict[str, Any]:
    return {
        "eventId": f"ev-{registration_id[:8]}-req",
        "type": "requested",
        "at": iso(at),
        "registrationId": registration_id,
        "details": {
            "evidence": {
                "apiClient": "partner-42" if channel == "api" else None,
                "capturedAt": iso(at),
                "channel": channel,
                "disclosure": {"text": DISCLOSURE, "version": "2026-11-01"},
                "forwardedFor": None,
                "ip": "203.0.113.24",
                "page": "https://signup.example.com/" if channel == "web" else None,
                "userAgent": USER_AGENT,
            },
            "validation": {"acceptable": True, "country": "US", "lineType": "MOBILE"},
        },
    }


def sent(registration_id: str, at: datetime, kind: str, text: str) -> dict[str, Any]:
    return {
        "eventId": f"ev-{registration_id[:8]}-{kind}",
        "type": f"{kind}_sent",
        "at": iso(at),
        "registrationId": registration_id,
        "details": {
            "kind": kind,
            "messageId": f"msg-{registration_id[:8]}-{kind}",
            "text": text,
            "version": "2026-11-01",
        },
    }


def reply_event(registration_id: str, at: datetime, type_: str, body: str) -> dict[str, Any]:
    return {
        "eventId": f"ev-{registration_id[:8]}-{type_}",
        "type": type_,
        "at": iso(at),
        "registrationId": registration_id,
        "details": {
            "inboundMessageId": f"in-{registration_id[:8]}",
            "receivedAt": iso(at),
            "reply": body,
        },
    }


def message(direction: str, at: datetime, body: str, message_id: str) -> dict[str, Any]:
    return {"direction": direction, "at": iso(at), "body": body, "messageId": message_id}


def confirmed_signup() -> Signup:
    rid = "c296ab09-c2c7-4399-ad8f-2caf1f5d324e"
    phone = "+1206***0131"
    created = BASE
    h = History(rid, phone, created).through_send(
        validate_failures=(("Lambda.Unknown", "The function timed out once."),)
    )
    h.t += timedelta(minutes=2)
    reply = {"reply": "yes!", "inboundMessageId": "in-c296ab09", "receivedAt": iso(h.t)}
    h.add(
        "TaskSucceeded",
        "taskSucceededEventDetails",
        {
            "resourceType": "lambda",
            "resource": "invoke.waitForTaskToken",
            "output": json.dumps(reply),
            "outputDetails": {"truncated": False},
        },
        1,
    )
    h.exit("SendConfirmation")
    h.task("OptIn", "OptInFunction", "succeeded", {"status": "CONFIRMED"})
    h.succeed_state("Confirmed").succeeded()
    sent_at = created + timedelta(seconds=2)
    replied = h.t - timedelta(seconds=1)
    return Signup(
        rid,
        phone,
        "CONFIRMED",
        "confirmed",
        "Confirmed by reply 'yes!' 2 min after the text",
        "web",
        created,
        h.t,
        "SUCCEEDED",
        h.events,
        [
            requested(rid, created),
            sent(rid, sent_at, "confirmation", CONFIRMATION_TEXT),
            reply_event(rid, replied, "confirmed", "yes!"),
            sent(rid, h.t, "welcome", WELCOME_TEXT),
        ],
        [
            message("outbound", sent_at, CONFIRMATION_TEXT, "msg-c296ab09-confirmation"),
            message("inbound", replied, "yes!", "in-c296ab09"),
            message("outbound", h.t, WELCOME_TEXT, "msg-c296ab09-welcome"),
        ],
        stop=h.t,
    )


def pending_signup() -> Signup:
    rid = "3a5e7c1d-0f2b-4c8e-9d6a-71b0e4f2a9c3"
    phone = "+1206***0134"
    created = BASE + timedelta(hours=3)
    h = History(rid, phone, created).through_send()
    sent_at = created + timedelta(seconds=2)
    return Signup(
        rid,
        phone,
        "PENDING",
        "waiting",
        "Waiting for a reply: 23 h left",
        "api",
        created,
        sent_at,
        "RUNNING",
        h.events,
        [requested(rid, created, "api"), sent(rid, sent_at, "confirmation", CONFIRMATION_TEXT)],
        [message("outbound", sent_at, CONFIRMATION_TEXT, "msg-3a5e7c1d-confirmation")],
        expires=created + timedelta(hours=24),
    )


def pending_then_confirmed(pending: Signup) -> Signup:
    """The same sign-up after its YES arrived: the waiting history carried on to the end."""
    h = History(pending.registration_id, pending.phone, pending.created)
    h.events = json.loads(json.dumps(pending.history))
    h.t = datetime.fromisoformat(h.events[-1]["timestamp"]) + timedelta(minutes=5)
    h.data.update(
        {
            "settings": {"confirmationWindowSeconds": 86400},
            "validation": {"acceptable": True, "e164": pending.phone, "reason": None},
            "contact": {"status": "PENDING"},
        }
    )
    reply = {"reply": "Y", "inboundMessageId": "in-3a5e7c1d", "receivedAt": iso(h.t)}
    h.add(
        "TaskSucceeded",
        "taskSucceededEventDetails",
        {
            "resourceType": "lambda",
            "resource": "invoke.waitForTaskToken",
            "output": json.dumps(reply),
            "outputDetails": {"truncated": False},
        },
        1,
    )
    h.exit("SendConfirmation")
    h.task("OptIn", "OptInFunction", "succeeded", {"status": "CONFIRMED"})
    h.succeed_state("Confirmed").succeeded()
    replied = h.t - timedelta(seconds=1)
    return Signup(
        pending.registration_id,
        pending.phone,
        "CONFIRMED",
        "confirmed",
        "Confirmed by reply 'Y' 5 min after the text",
        pending.channel,
        pending.created,
        h.t,
        "SUCCEEDED",
        h.events,
        [
            *pending.ledger,
            reply_event(pending.registration_id, replied, "confirmed", "Y"),
            sent(pending.registration_id, h.t, "welcome", WELCOME_TEXT),
        ],
        [
            *pending.conversation,
            message("inbound", replied, "Y", "in-3a5e7c1d"),
            message("outbound", h.t, WELCOME_TEXT, "msg-3a5e7c1d-welcome"),
        ],
        stop=h.t,
    )


def expired_signup() -> Signup:
    rid = "67083695-075a-4f3a-acf6-70a35cbae2c3"
    phone = "+1206***0133"
    created = BASE - timedelta(days=2)
    h = History(rid, phone, created).through_send()
    h.t += timedelta(hours=24)
    h.add(
        "TaskTimedOut",
        "taskTimedOutEventDetails",
        {
            "resourceType": "lambda",
            "resource": "invoke.waitForTaskToken",
            "error": "States.Timeout",
            "cause": "",
        },
        1,
    )
    h.data["error"] = {"Error": "States.Timeout", "Cause": ""}
    h.exit("SendConfirmation")
    h.task("Expire", "ExpireFunction", "succeeded", {"status": "EXPIRED"})
    h.succeed_state("Expired").succeeded()
    sent_at = created + timedelta(seconds=2)
    expired_event = {
        "eventId": "ev-67083695-exp",
        "type": "expired",
        "at": iso(h.t),
        "registrationId": rid,
        "details": {"reason": "no_reply", "lastSentAt": iso(sent_at), "sendCount": 1},
    }
    return Signup(
        rid,
        phone,
        "EXPIRED",
        "expired_no_reply",
        "Expired: no reply in 24 h",
        "web",
        created,
        h.t,
        "SUCCEEDED",
        h.events,
        [
            requested(rid, created),
            sent(rid, sent_at, "confirmation", CONFIRMATION_TEXT),
            expired_event,
        ],
        [message("outbound", sent_at, CONFIRMATION_TEXT, "msg-67083695-confirmation")],
        stop=h.t,
        expired_at=h.t,
        unanswered={"at": iso(sent_at), "body": CONFIRMATION_TEXT},
    )


def stopped_signup() -> Signup:
    rid = "3ff229ea-7bb4-4e40-8676-81f8c560b15b"
    phone = "+1206***0132"
    created = BASE - timedelta(hours=5)
    h = History(rid, phone, created).through_send()
    h.t += timedelta(minutes=7)
    h.add(
        "TaskFailed",
        "taskFailedEventDetails",
        {
            "resourceType": "lambda",
            "resource": "invoke.waitForTaskToken",
            "error": "OptedOut",
            "cause": "The number replied STOP while the sign-up was pending.",
        },
        1,
    )
    h.data["error"] = {"Error": "OptedOut", "Cause": "STOP"}
    h.exit("SendConfirmation")
    h.succeed_state("Cancelled").succeeded()
    sent_at = created + timedelta(seconds=2)
    stopped = h.t - timedelta(seconds=1)
    opted_out = reply_event(rid, stopped, "opted_out", "STOP")
    opted_out["details"].update({"source": "reply", "previousStatus": "PENDING"})
    return Signup(
        rid,
        phone,
        "OPTED_OUT",
        "cancelled",
        "Cancelled: STOP while pending",
        "web",
        created,
        h.t,
        "SUCCEEDED",
        h.events,
        [requested(rid, created), sent(rid, sent_at, "confirmation", CONFIRMATION_TEXT), opted_out],
        [
            message("outbound", sent_at, CONFIRMATION_TEXT, "msg-3ff229ea-confirmation"),
            message("inbound", stopped, "STOP", "in-3ff229ea"),
        ],
        stop=h.t,
    )


def rejected_signup() -> Signup:
    rid = "9e15fab1-dd0b-4998-8c6c-d3fb881083b9"
    phone = "+1202***0100"
    created = BASE - timedelta(hours=1)
    h = History(rid, phone, created).started()
    h.simple("LoadSettings", {"settings": {"confirmationWindowSeconds": 86400}})
    validation = {
        "acceptable": False,
        "e164": phone,
        "reason": "landline",
        "lineType": "FIXED_LINE",
    }
    h.task("ValidateNumber", "ValidateNumberFunction", "succeeded", validation)
    h.data["validation"] = {"acceptable": False, "e164": phone, "reason": "landline"}
    h.simple("Acceptable?")
    h.fail_state("Rejected", "NumberRejected", "landline")
    return Signup(
        rid,
        phone,
        "REJECTED",
        "rejected",
        "Rejected: landline",
        "web",
        created,
        h.t,
        "FAILED",
        h.events,
        [requested(rid, created)],
        [],
        stop=h.t,
    )


def all_signups() -> list[Signup]:
    return [
        pending_signup(),
        confirmed_signup(),
        rejected_signup(),
        stopped_signup(),
        expired_signup(),
    ]


@dataclass
class FakeConsoleApi:
    """Serves /console/api/** for one page: the session, the list (in pages), the details.

    `session` None answers 401; `signin_error` is what a POST /session answers instead of
    signing in; `list_error` what GET /signups answers. Every request is recorded.
    """

    session: dict[str, str] | None = None
    password: str = "correct horse battery staple"
    details: dict[str, dict[str, Any]] = field(default_factory=dict)
    pages: list[list[dict[str, Any]]] = field(default_factory=list)
    list_error: tuple[int, dict[str, Any]] | None = None
    # POST signups/{id}/{action}: what each action answers (status, body, headers); an
    # action with no answer here is a 404.
    actions: dict[str, tuple[int, Any, dict[str, str]]] = field(default_factory=dict)
    # GET funnel: a function of (from, to) to (status, body).
    funnel: Any = None
    requests: list[tuple[str, str, dict[str, list[str]], str | None]] = field(default_factory=list)

    def list_queries(self) -> list[dict[str, list[str]]]:
        return [q for method, path, q, _ in self.requests if method == "GET" and path == "signups"]

    def detail_requests(self) -> int:
        return sum(1 for m, p, _, _ in self.requests if m == "GET" and p.startswith("signups/"))

    @staticmethod
    def reply(route: Route, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        route.fulfill(
            status=status,
            content_type="application/json",
            body=json.dumps(body),
            headers=headers or {},
        )

    def error(self, route: Route, status: int, code: str, message: str) -> None:
        self.reply(route, status, {"error": {"code": code, "message": message}})

    def handle(self, route: Route) -> None:
        request = route.request
        url = urlparse(request.url)
        path = re.sub(r"^.*?/console/api/", "", url.path)
        query = parse_qs(url.query)
        self.requests.append((request.method, path, query, request.post_data))
        if path == "session":
            self.handle_session(route)
            return
        if self.session is None:
            self.error(route, 401, "unauthenticated", "Sign in to use the console.")
            return
        if path == "signups" and request.method == "GET":
            if self.list_error is not None:
                self.reply(route, *self.list_error)
                return
            if query.get("format") == ["csv"]:
                self.csv(route, query)
                return
            cursor = query.get("cursor", [None])[0]
            index = int(cursor.removeprefix("page-")) if cursor else 0
            items = self.pages[index] if index < len(self.pages) else []
            next_cursor = f"page-{index + 1}" if index + 1 < len(self.pages) else None
            self.reply(route, 200, {"items": items, "nextCursor": next_cursor})
            return
        action = re.fullmatch(r"signups/([^/]+)/([a-z-]+)", path)
        if action and request.method == "POST":
            self.handle_action(route, action.group(2))
            return
        if path == "funnel" and request.method == "GET" and self.funnel is not None:
            start, end = query.get("from", [""])[0], query.get("to", [""])[0]
            self.reply(route, *self.funnel(start, end))
            return
        found = re.fullmatch(r"signups/([^/]+)", path)
        if found and request.method == "GET":
            detail = self.details.get(found.group(1))
            if detail is None:
                self.error(route, 404, "not_found", "There is no sign-up with this ID.")
            else:
                self.reply(route, 200, detail)
            return
        self.error(route, 404, "not_found", "There is nothing at this address.")

    def csv(self, route: Route, query: dict[str, list[str]]) -> None:
        """The list as CSV: every page, one row a sign-up (as the API's format=csv)."""
        lines = ["registrationId,phoneNumber,status,outcome,expiresAt,expiredAt"]
        for page in self.pages:
            for item in page:
                if query.get("status", [item["status"]]) != [item["status"]]:
                    continue
                cells = [item["registrationId"], item["phoneNumber"], item["status"]]
                cells += [item["outcome"]["summary"], item["expiresAt"] or ""]
                lines.append(",".join([*cells, item.get("expiredAt") or ""]))
        route.fulfill(
            status=200,
            content_type="text/csv; charset=utf-8",
            body="\r\n".join(lines) + "\r\n",
            headers={"Content-Disposition": 'attachment; filename="signups.csv"'},
        )

    def action_posts(self) -> list[tuple[str, dict[str, Any]]]:
        """(path, JSON body) of every action POSTed."""
        return [
            (p, json.loads(body or "{}"))
            for m, p, _, body in self.requests
            if m == "POST" and p.startswith("signups/")
        ]

    def handle_action(self, route: Route, name: str) -> None:
        # As the API: JSON only (its cross-site protection), agents only.
        request = route.request
        if request.headers.get("content-type", "").split(";")[0] != "application/json":
            self.error(route, 403, "cross_site_request", "Refused: not sent as JSON.")
            return
        if (self.session or {}).get("role") != "agent":
            self.error(route, 403, "forbidden", "Only an agent may do this.")
            return
        if name not in self.actions:
            self.error(route, 404, "not_found", "There is nothing at this address.")
            return
        status, body, headers = self.actions[name]
        self.reply(route, status, body, headers)

    def handle_session(self, route: Route) -> None:
        request = route.request
        if request.method == "GET":
            if self.session is None:
                self.error(route, 401, "unauthenticated", "Sign in to use the console.")
            else:
                self.reply(route, 200, self.session)
        elif request.method == "POST":
            if request.headers.get("content-type", "").split(";")[0] != "application/json":
                self.error(route, 403, "cross_site_request", "Refused.")
                return
            body = json.loads(request.post_data or "{}")
            if body.get("password") != self.password:
                self.error(
                    route,
                    401,
                    "invalid_credentials",
                    "That username and password do not match an account.",
                )
                return
            self.session = {"username": body.get("username", ""), "role": "viewer"}
            self.reply(route, 200, self.session)
        elif request.method == "DELETE":
            self.session = None
            self.reply(route, 200, {"signedOut": True})
        else:
            self.error(route, 405, "method_not_allowed", "Not allowed.")


# --- after an agent's action (wave 2 contract: the action answers with the new detail) ---


def console_event(
    registration_id: str, at: datetime, type_: str, by: str, why: str, **details: Any
) -> dict[str, Any]:
    return {
        "eventId": f"ev-{registration_id[:8]}-{type_}-console",
        "type": type_,
        "at": iso(at),
        "registrationId": registration_id,
        "details": {"by": by, "why": why, "source": "console", **details},
    }


def aborted(history: list[dict[str, Any]], at: datetime) -> list[dict[str, Any]]:
    """The history after StopExecution: ExecutionAborted closes the waiting state."""
    events = json.loads(json.dumps(history))
    events.append(
        {
            "timestamp": iso(at),
            "type": "ExecutionAborted",
            "id": len(events) + 1,
            "previousEventId": len(events),
            "executionAbortedEventDetails": {"error": "AgentCancelled", "cause": "console"},
        }
    )
    return events


def after_expiry_action(pending: Signup, reason: str, by: str, why: str) -> Signup:
    """A pending sign-up after an agent cancelled it or expired it now (EXPIRED, stopped)."""
    at = pending.updated + timedelta(minutes=10)
    verb = "Cancelled" if reason == "agent_cancelled" else "Expired"
    event = console_event(pending.registration_id, at, "expired", by, why, reason=reason)
    return Signup(
        pending.registration_id,
        pending.phone,
        "EXPIRED",
        reason,
        f"{verb} by {by}: {why}",
        pending.channel,
        pending.created,
        at,
        "ABORTED",
        aborted(pending.history, at),
        [*pending.ledger, event],
        pending.conversation,
        stop=at,
        expired_at=at,
        unanswered={"at": pending.conversation[-1]["at"], "body": pending.conversation[-1]["body"]},
    )


def after_resend(pending: Signup, by: str, why: str) -> Signup:
    at = pending.updated + timedelta(minutes=3)
    rid = pending.registration_id
    event = console_event(rid, at, "resent", by, why, messageId=f"msg-{rid[:8]}-2")
    return Signup(
        rid,
        pending.phone,
        "PENDING",
        "waiting",
        "Waiting for a reply: 23 h left (text sent twice)",
        pending.channel,
        pending.created,
        at,
        "RUNNING",
        pending.history,
        [*pending.ledger, event],
        [*pending.conversation, message("outbound", at, CONFIRMATION_TEXT, f"msg-{rid[:8]}-2")],
        expires=pending.expires,
    )


def stuck_signup() -> Signup:
    """PENDING, but its execution was stopped outside the workflow: no reply can confirm it."""
    rid = "5b0c9e2a-4d7f-4a1e-8c3b-2f6e9d1a7b40"
    phone = "+1206***0135"
    created = BASE - timedelta(hours=2)
    h = History(rid, phone, created).through_send()
    stopped = h.t + timedelta(minutes=30)
    sent_at = created + timedelta(seconds=2)
    return Signup(
        rid,
        phone,
        "PENDING",
        "waiting",
        "Waiting for a reply: 21 h left",
        "web",
        created,
        sent_at,
        "ABORTED",
        aborted(h.events, stopped),
        [requested(rid, created), sent(rid, sent_at, "confirmation", CONFIRMATION_TEXT)],
        [message("outbound", sent_at, CONFIRMATION_TEXT, "msg-5b0c9e2a-confirmation")],
        expires=created + timedelta(hours=24),
        stop=stopped,
    )


def after_repair(stuck: Signup, by: str, why: str) -> Signup:
    at = stuck.updated + timedelta(hours=1)
    event = console_event(
        stuck.registration_id,
        at,
        "expired",
        by,
        why,
        reason="execution_ended",
        executionStatus="ABORTED",
    )
    return Signup(
        stuck.registration_id,
        stuck.phone,
        "EXPIRED",
        "expired_execution_ended",
        "Expired: its execution ended (ABORTED)",
        stuck.channel,
        stuck.created,
        at,
        "ABORTED",
        stuck.history,
        [*stuck.ledger, event],
        stuck.conversation,
        stop=stuck.stop,
        expired_at=at,
        unanswered={"at": stuck.conversation[0]["at"], "body": stuck.conversation[0]["body"]},
    )


def funnel(days: list[str]) -> dict[str, Any]:
    """GET /console/api/funnel's answer for these UTC days, with figures that add up."""
    keys = ["signedUp", "texted", "confirmed", "expired", "optedOut", "rejected"]
    rows = []
    for n, day in enumerate(days):
        signed = 10 + (n * 7) % 13
        rejected = n % 3
        texted = signed - rejected
        opted_out = n % 2
        expired = (n * 5) % 4
        confirmed = texted - opted_out - expired
        row: dict[str, Any] = {"date": day, "signedUp": signed, "texted": texted}
        row |= {"confirmed": confirmed, "expired": expired, "optedOut": opted_out}
        rows.append(row | {"rejected": rejected})
    totals = {k: sum(int(r[k]) for r in rows) for k in keys}
    rate = totals["confirmed"] / totals["texted"] if totals["texted"] else None
    return {
        "days": rows,
        "totals": totals,
        "confirmationRate": rate,
        "medianSecondsToConfirm": 154.0,
    }


def csp_refusals(page: Page) -> list[str]:
    """What the page's Content-Security-Policy refuses from now on, as chromium reports it."""
    refused: list[str] = []
    page.on(
        "console",
        lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None,
    )
    return refused
