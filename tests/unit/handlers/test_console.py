"""GET /console/api/signups and /console/api/signups/{registrationId}, with API Gateway
REST proxy events carrying what the Lambda authorizer puts in requestContext.authorizer."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from optin.domain import contact as t
from optin.domain.contact import Contact
from optin.domain.messages import confirmation
from optin.domain.settings import Settings
from optin.handlers import console
from optin.ports.execution_reader import ExecutionInfo
from tests.fakes.execution_reader import MemoryExecutionReader

WEB = "+12065550100"
API = "+12065550111"
DONE = "+12065550122"
GONE = "+12065550133"
DAY = 86400
MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:Registration"


def execution(registration_id: str) -> str:
    return MACHINE.replace(":stateMachine:", ":execution:") + f":{registration_id}"


class Seeder:
    def __init__(self, world: Any) -> None:
        self.world = world

    def save(self, change: t.Change) -> Contact:
        assert change.after is not None
        before = change.before.version if change.before else None
        self.world.store.save(change.after, expected_version=before, events=change.events)
        return change.after

    def signup(
        self, number: str, registration_id: str, *, api: bool = False, window: int | None = DAY
    ) -> Contact:
        evidence = {
            "channel": "api" if api else "web",
            "ip": "203.0.113.7",
            "page": None if api else "https://example.com/sms",
            "apiClient": "partner-1" if api else None,
        }
        contact = self.save(
            t.request(
                self.world.store.get(number),
                phone_number=number,
                registration_id=registration_id,
                first_name="Ana",
                execution_arn=execution(registration_id),
                evidence=evidence,
                validation={"e164": number},
                now=self.world.clock(),
            )
        )
        change, key = t.attach_task_token(
            contact,
            registration_id=registration_id,
            task_token="secret-token",
            now=self.world.clock(),
            window_seconds=window,
        )
        contact = self.save(change)
        return self.save(
            t.record_send(
                contact,
                registration_id=registration_id,
                dedup_key=key,
                message=confirmation(Settings(), "Ana"),
                message_id=f"msg-{registration_id}",
                now=self.world.clock(),
            )
        )

    def reply(self, number: str, text: str) -> Contact:
        contact = self.world.store.get(number)
        details = {"reply": text, "inboundMessageId": f"in-{number}", "receivedAt": None}
        if text.upper().startswith("STOP"):
            return self.save(
                t.opt_out(contact, details={**details, "source": "reply"}, now=self.world.clock())
            )
        return self.save(
            t.confirm(
                contact,
                registration_id=contact.registration_id,
                reply=details,
                now=self.world.clock(),
            )
        )


@pytest.fixture
def seeded(world: Any) -> Any:
    """Four sign-ups a minute apart: web PENDING, api PENDING, web CONFIRMED, web
    OPTED_OUT while pending (cancelled)."""
    reader = MemoryExecutionReader(state_machine_arn=MACHINE)
    world.deps.reader = reader
    world.deps.confirmation_window_seconds = DAY
    seed = Seeder(world)
    seed.signup(WEB, "reg-web")
    world.clock.advance(60)
    seed.signup(API, "reg-api", api=True)
    world.clock.advance(60)
    seed.signup(DONE, "reg-done")
    world.clock.advance(120)
    seed.reply(DONE, "yes!")
    world.clock.advance(60)
    seed.signup(GONE, "reg-gone")
    world.clock.advance(60)
    seed.reply(GONE, "STOP")
    world.clock.advance(3600)
    start = world.clock() - timedelta(hours=1)
    reader.add(
        ExecutionInfo(execution("reg-web"), MACHINE, "RUNNING", start),
        [
            {
                "id": 1,
                "type": "ExecutionStarted",
                "timestamp": "2026-11-01T12:00:00.000000Z",
                "executionStartedEventDetails": {
                    "input": json.dumps({"phoneNumber": WEB, "registrationId": "reg-web"})
                },
            },
            {
                "id": 2,
                "type": "TaskScheduled",
                "timestamp": "2026-11-01T12:00:01.000000Z",
                "taskScheduledEventDetails": {
                    "resourceType": "lambda",
                    "resource": "invoke.waitForTaskToken",
                    "parameters": json.dumps(
                        {"Payload": {"taskToken": "secret-token", "phoneNumber": WEB}}
                    ),
                    "timeoutInSeconds": DAY,
                },
            },
        ],
    )
    world.seed = seed
    world.reader = reader
    return world


@pytest.fixture
def call(load_event, lambda_context):
    def do(
        path: str = "/console/api/signups",
        params: dict[str, str] | None = None,
        *,
        role: str | None = "viewer",
        authorizer: Any = "default",
    ) -> tuple[int, dict[str, Any]]:
        event = load_event("apigw_console_list.json")
        event["path"] = path
        event["queryStringParameters"] = params
        event["multiValueQueryStringParameters"] = (
            {key: [value] for key, value in params.items()} if params else None
        )
        if authorizer == "default":
            authorizer = {"principalId": "ana", "username": "ana", "role": role}
        if authorizer is None:
            event["requestContext"].pop("authorizer", None)
        else:
            event["requestContext"]["authorizer"] = authorizer
        response = console.handler(event, lambda_context)
        assert response["multiValueHeaders"]["Content-Type"] == ["application/json"]
        return response["statusCode"], json.loads(response["body"])

    return do


def numbers(body: dict[str, Any]) -> list[str]:
    return [item["phoneNumber"] for item in body["items"]]


# --- who may ask --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "authorizer",
    [None, {}, {"principalId": "ana", "role": "agent"}, "not a dict"],
)
def test_nothing_is_answered_without_a_signed_in_user(seeded, call, authorizer) -> None:
    for path in ("/console/api/signups", "/console/api/signups/reg-web"):
        status, body = call(path, authorizer=authorizer)
        assert status == 401 and body["error"]["code"] == "unauthenticated"
        assert WEB not in json.dumps(body)


@pytest.mark.parametrize("role", ["admin", "", None, "AGENT"])
def test_an_unknown_role_is_forbidden(seeded, call, role) -> None:
    status, body = call(role=role)
    assert status == 403 and body["error"]["code"] == "forbidden"


def test_the_fixture_event_lists_pending_sign_ups_masked_for_a_viewer(
    seeded, load_event, lambda_context
) -> None:
    response = console.handler(load_event("apigw_console_list.json"), lambda_context)
    assert response["statusCode"] == 200
    body = json.loads(response["body"])
    assert numbers(body) == ["+1206***0111", "+1206***0100"]
    assert body["nextCursor"] is None
    assert "0555" not in response["body"] and "secret-token" not in response["body"]


# --- the list -----------------------------------------------------------------------------


def test_agents_see_whole_numbers_newest_change_first(seeded, call) -> None:
    status, body = call(role="agent")
    assert status == 200
    assert numbers(body) == [GONE, DONE, API, WEB]
    first = body["items"][0]
    assert first["status"] == "OPTED_OUT" and first["registrationId"] == "reg-gone"
    assert first["outcome"] == {"code": "cancelled", "summary": "Cancelled: STOP while pending"}
    assert first["executionArn"] == execution("reg-gone") and first["expiresAt"] is None
    done = body["items"][1]
    assert done["outcome"]["summary"] == "Confirmed by reply 'yes!' 2 min after the text"
    pending = body["items"][3]
    assert pending["channel"] == "web" and body["items"][2]["channel"] == "api"
    assert pending["expiresAt"] == "2026-11-02T12:00:00.000000Z"
    assert pending["outcome"]["summary"].startswith("Waiting for a reply: ")
    assert pending["createdAt"] == "2026-11-01T12:00:00.000000Z"


def test_pages_follow_the_cursor_to_the_end(seeded, call) -> None:
    seen: list[str] = []
    params = {"limit": "3"}
    pages = 0
    while True:
        status, body = call(params=params, role="agent")
        assert status == 200 and len(body["items"]) <= 3
        seen.extend(numbers(body))
        pages += 1
        if body["nextCursor"] is None:
            break
        params = {"limit": "3", "cursor": body["nextCursor"]}
    assert seen == [GONE, DONE, API, WEB] and pages == 2


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"status": "PENDING"}, [API, WEB]),
        ({"status": "confirmed"}, [DONE]),
        ({"status": "all"}, [GONE, DONE, API, WEB]),
        ({"channel": "api"}, [API]),
        ({"channel": "WEB", "status": "PENDING"}, [WEB]),
        ({"outcome": "cancelled"}, [GONE]),
        ({"outcome": "confirmed"}, [DONE]),
        ({"outcome": "expired_no_reply"}, []),
        # Times of the last change: WEB 12:00, API 12:01, DONE 12:04, GONE 12:06.
        ({"from": "2026-11-01T12:01:30Z"}, [GONE, DONE]),
        ({"to": "2026-11-01T12:01:00"}, [API, WEB]),
        ({"from": "2026-11-01T13:01:00+01:00", "to": "2026-11-01T12:04:00Z"}, [DONE, API]),
        ({"from": "2026-11-01", "to": "2026-11-01"}, [GONE, DONE, API, WEB]),
        ({"from": "2026-11-02"}, []),
        ({"from": "2026-11-01T13:01:30 01:00"}, [GONE, DONE]),  # "+" sent unencoded
    ],
)
def test_filters(seeded, call, params, expected) -> None:
    status, body = call(params=params, role="agent")
    assert status == 200, body
    assert numbers(body) == expected


def test_a_filtered_listing_pages_without_skipping_a_match(seeded, call) -> None:
    status, first = call(params={"channel": "web", "limit": "1"}, role="agent")
    assert status == 200 and numbers(first) == [GONE]
    rest: list[str] = []
    cursor = first["nextCursor"]
    while cursor:
        status, body = call(params={"channel": "web", "limit": "1", "cursor": cursor}, role="agent")
        assert status == 200
        rest.extend(numbers(body))
        cursor = body["nextCursor"]
    assert rest == [DONE, WEB]
    # The cursor is bound to its filters.
    status, body = call(params={"channel": "api", "cursor": first["nextCursor"]}, role="agent")
    assert status == 400 and body["error"]["code"] == "invalid_cursor"


@pytest.mark.parametrize(
    "typed",
    ["(206) 555-0111", "206.555.0111", "+1 206 555 0111", "1-206-555-0111", "2065550111"],
)
def test_search_by_a_number_as_a_person_types_it(seeded, call, typed) -> None:
    status, body = call(params={"q": typed})
    assert status == 200 and numbers(body) == ["+1206***0111"]
    assert body["nextCursor"] is None


def test_search_by_registration_id_and_by_execution_arn(seeded, call) -> None:
    assert numbers(call(params={"q": "reg-done"}, role="agent")[1]) == [DONE]
    assert numbers(call(params={"q": execution("reg-api")}, role="agent")[1]) == [API]
    assert call(params={"q": "reg-nobody"})[1]["items"] == []
    assert call(params={"q": "+442071838750"})[1]["items"] == []  # a number never signed up
    # The other filters still apply to what the search finds.
    assert call(params={"q": "reg-done", "status": "PENDING"})[1]["items"] == []


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"status": "WAITING"}, "invalid_status"),
        ({"outcome": "happy"}, "invalid_outcome"),
        ({"channel": "sms"}, "invalid_channel"),
        ({"limit": "0"}, "invalid_limit"),
        ({"limit": "101"}, "invalid_limit"),
        ({"limit": "ten"}, "invalid_limit"),
        ({"limit": "-1"}, "invalid_limit"),
        ({"from": "yesterday"}, "invalid_date"),
        ({"to": "2026-13-01"}, "invalid_date"),
        ({"from": "2026-11-02", "to": "2026-11-01"}, "invalid_date_range"),
        ({"cursor": "!!!"}, "invalid_cursor"),
        ({"cursor": "e30"}, "invalid_cursor"),
        ({"q": "x" * 201}, "invalid_query"),
        ({"q": "arn:aws:states:us-east-1:1:stateMachine:Registration"}, "invalid_query"),
        ({"outcome": "cancelled", "status": "PENDING"}, "conflicting_filters"),
    ],
)
def test_bad_parameters_get_a_400_with_a_code_and_a_sentence(seeded, call, params, code) -> None:
    status, body = call(params=params)
    assert status == 400, body
    assert body["error"]["code"] == code
    message = body["error"]["message"]
    assert message.endswith(".") and len(message) > 15


def test_a_cursor_from_another_status_is_refused(seeded, call) -> None:
    _, body = call(params={"status": "PENDING", "limit": "1"})
    assert body["nextCursor"]
    status, error = call(params={"status": "CONFIRMED", "cursor": body["nextCursor"]})
    assert status == 400 and error["error"]["code"] == "invalid_cursor"


# --- one sign-up --------------------------------------------------------------------------


def test_a_sign_up_page_for_an_agent(seeded, call) -> None:
    status, body = call("/console/api/signups/reg-web", role="agent")
    assert status == 200
    assert body["signup"]["phoneNumber"] == WEB
    assert body["signup"]["outcome"] == {
        "code": "waiting",
        "summary": "Waiting for a reply: 23 h left",
    }
    assert body["contact"]["phoneNumber"] == WEB and body["contact"]["sendCount"] == 1
    assert "taskToken" not in body["contact"]
    assert [event["type"] for event in body["ledger"]] == ["requested", "confirmation_sent"]
    assert body["ledger"][0]["details"]["evidence"]["ip"] == "203.0.113.7"
    [text] = body["conversation"]
    assert text["direction"] == "outbound" and text["messageId"] == "msg-reg-web"
    assert "Reply YES" in text["body"] or "YES" in text["body"]
    assert body["execution"] == {
        "executionArn": execution("reg-web"),
        "status": "RUNNING",
        "startDate": "2026-11-01T12:06:00.000000Z",
        "stopDate": None,
    }
    assert body["definition"] == seeded.reader.asl
    assert [event["type"] for event in body["history"]] == ["ExecutionStarted", "TaskScheduled"]
    assert WEB in body["history"][0]["executionStartedEventDetails"]["input"]
    assert body["historyTruncated"] is False
    # The task token is hidden from agents too: it would answer the workflow's wait.
    assert "secret-token" not in json.dumps(body)


def test_a_pending_sign_up_whose_execution_ended_says_it_is_stuck(seeded, call) -> None:
    start = seeded.clock() - timedelta(hours=1)
    seeded.deps.reader.add(
        ExecutionInfo(execution("reg-api"), MACHINE, "ABORTED", start, stop_date=start), []
    )
    status, body = call("/console/api/signups/reg-api", role="agent")
    assert status == 200 and body["signup"]["status"] == "PENDING"
    assert body["signup"]["outcome"]["code"] == "waiting"
    assert body["signup"]["outcome"]["summary"].startswith("Stuck: its execution ended (ABORTED)")
    # The list, which reads no execution, still says what the ledger says.
    status, listed = call("/console/api/signups", {"q": "reg-api"}, role="agent")
    assert listed["items"][0]["outcome"]["summary"].startswith("Waiting for a reply")


def test_a_viewer_sees_no_whole_number_anywhere_on_the_page(seeded, call) -> None:
    seeded.seed.reply(WEB, "yes, text 206-555-0100 or +12065550199")
    status, body = call("/console/api/signups/reg-web")
    assert status == 200
    text = json.dumps(body)
    for digits in ("2065550100", "5550100", "2065550199", "206-555-0100"):
        assert digits not in text, digits
    assert body["signup"]["phoneNumber"] == "+1206***0100"
    assert body["contact"]["phoneNumber"] == "+1206***0100"
    reply = body["conversation"][-1]
    assert reply["direction"] == "inbound" and reply["body"].startswith("yes, text ")
    assert "***" in reply["body"]
    assert "+1206***0100" in body["history"][0]["executionStartedEventDetails"]["input"]
    assert body["ledger"][0]["details"]["validation"]["e164"] == "+1206***0100"


def test_a_sign_up_without_an_execution_on_record(seeded, call) -> None:
    status, body = call("/console/api/signups/reg-done", role="agent")
    assert status == 200
    assert body["execution"] is None and body["history"] == []
    assert body["signup"]["outcome"]["code"] == "confirmed"
    assert [line["direction"] for line in body["conversation"]] == ["outbound", "inbound"]
    assert body["conversation"][1]["body"] == "yes!"


@pytest.mark.parametrize(
    ("registration_id", "status_code", "code"),
    [("reg-unknown", 404, "not_found"), ("bad%20id", 400, "invalid_registration_id")],
)
def test_an_unknown_or_malformed_registration(seeded, call, registration_id, status_code, code):
    status, body = call(f"/console/api/signups/{registration_id}")
    assert status == status_code and body["error"]["code"] == code


def test_an_unavailable_step_functions_is_a_503_not_a_500(seeded, call) -> None:
    from optin.domain.errors import WorkflowUnavailable

    def broken(_arn: str) -> None:
        raise WorkflowUnavailable("DescribeExecution failed: ThrottlingException")

    seeded.reader.describe = broken
    status, body = call("/console/api/signups/reg-web", role="agent")
    assert status == 503 and body["error"]["code"] == "unavailable"
