"""POST /console/api/signups/{registrationId}/{resend|cancel|expire|opt-out|repair}: the agent
actions, with API Gateway REST proxy events carrying what the authorizer puts in
requestContext.authorizer, against the in-memory store, SMS sender and workflow."""

from __future__ import annotations

import json
from typing import Any

import pytest

from optin.domain import contact as t
from optin.domain.consent import EventType
from optin.domain.contact import Contact, Status
from optin.domain.errors import SmsUnavailable, WorkflowUnavailable
from optin.domain.messages import confirmation
from optin.domain.settings import Settings
from optin.handlers import console_actions
from optin.usecases.inbound import InboundSms
from tests.fakes.execution_reader import MemoryExecutionReader

NUMBER = "+12065550100"
OTHER = "+12065550111"
REG = "reg-1"
MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:Registration"
HOST = "abcdef1234.execute-api.us-east-1.amazonaws.com"
ORIGIN = f"https://{HOST}"
ACTIONS = ("resend", "cancel", "expire", "opt-out", "repair")


def execution(registration_id: str) -> str:
    return MACHINE.replace(":stateMachine:", ":execution:") + f":{registration_id}"


def save(world: Any, change: t.Change) -> Contact:
    assert change.after is not None
    before = change.before.version if change.before else None
    world.store.save(change.after, expected_version=before, events=change.events)
    return change.after


def waiting(world: Any, number: str = NUMBER, registration_id: str = REG) -> Contact:
    """A PENDING sign-up whose first text went out and whose workflow waits on a token."""
    contact = save(
        world,
        t.request(
            world.store.get(number),
            phone_number=number,
            registration_id=registration_id,
            first_name="Ana",
            execution_arn=execution(registration_id),
            evidence={"channel": "web", "page": "https://example.com/sms"},
            validation={"e164": number},
            now=world.clock(),
        ),
    )
    change, key = t.attach_task_token(
        contact,
        registration_id=registration_id,
        task_token=f"token-{registration_id}",
        now=world.clock(),
    )
    contact = save(world, change)
    return save(
        world,
        t.record_send(
            contact,
            registration_id=registration_id,
            dedup_key=key,
            message=confirmation(Settings(), "Ana"),
            message_id=f"msg-{registration_id}",
            now=world.clock(),
        ),
    )


@pytest.fixture
def agent_world(world: Any) -> Any:
    world.deps.reader = MemoryExecutionReader(state_machine_arn=MACHINE)
    world.deps.confirmation_window_seconds = 86400
    return world


@pytest.fixture
def post(load_event, lambda_context):
    def do(
        action: str,
        body: Any = None,
        *,
        registration_id: str = REG,
        role: str | None = "agent",
        username: str = "ana",
        origin: str | None = ORIGIN,
        content_type: str = "application/json",
        raw: str | None = None,
    ) -> tuple[int, dict[str, Any], dict[str, Any]]:
        event = load_event("apigw_console_list.json")
        path = f"/console/api/signups/{registration_id}/{action}"
        event.update(
            path=path,
            resource="/console/api/signups/{registrationId}/" + action,
            httpMethod="POST",
            queryStringParameters=None,
            multiValueQueryStringParameters=None,
            pathParameters={"registrationId": registration_id},
        )
        headers = {"Host": HOST, "X-Forwarded-Proto": "https", "Content-Type": content_type}
        if origin is not None:
            headers["Origin"] = origin
        event["headers"] = headers
        event["multiValueHeaders"] = {key: [value] for key, value in headers.items()}
        if raw is not None:
            event["body"] = raw
        else:
            event["body"] = json.dumps({"reason": "Asked by phone"} if body is None else body)
        event["requestContext"]["httpMethod"] = "POST"
        if role is None:
            event["requestContext"].pop("authorizer", None)
        else:
            event["requestContext"]["authorizer"] = {
                "principalId": username,
                "username": username,
                "role": role,
            }
        response = console_actions.handler(event, lambda_context)
        return response["statusCode"], json.loads(response["body"]), response

    return do


def ledger(world: Any, number: str = NUMBER) -> list[Any]:
    return world.store.events(number)


def expired_events(world: Any) -> list[Any]:
    return [event for event in ledger(world) if event.type == EventType.EXPIRED]


# --- who may act --------------------------------------------------------------------------


@pytest.mark.parametrize("action", ACTIONS)
def test_a_viewer_may_not_act(agent_world, post, action) -> None:
    waiting(agent_world)
    before = len(ledger(agent_world))
    status, body, _ = post(action, role="viewer")
    assert status == 403 and body["error"]["code"] == "forbidden"
    assert "Viewers" in body["error"]["message"]
    assert len(ledger(agent_world)) == before and agent_world.workflow.stops == []


@pytest.mark.parametrize("action", ACTIONS)
def test_nobody_signed_in_is_unauthenticated(agent_world, post, action) -> None:
    waiting(agent_world)
    status, body, _ = post(action, role=None)
    assert status == 401 and body["error"]["code"] == "unauthenticated"


@pytest.mark.parametrize("role", ["admin", "", "AGENT"])
def test_an_unknown_role_is_forbidden(agent_world, post, role) -> None:
    waiting(agent_world)
    status, body, _ = post("cancel", role=role)
    assert status == 403 and body["error"]["code"] == "forbidden"
    assert agent_world.store.get(NUMBER).status == Status.PENDING


@pytest.mark.parametrize(
    ("origin", "content_type"),
    [
        (None, "application/json"),
        ("https://evil.example", "application/json"),
        (ORIGIN, "text/plain"),
        (ORIGIN, "application/x-www-form-urlencoded"),
    ],
)
def test_a_cross_site_request_is_refused_before_anything(
    agent_world, post, origin, content_type
) -> None:
    waiting(agent_world)
    status, body, _ = post("cancel", origin=origin, content_type=content_type)
    assert status == 403 and body["error"]["code"] == "cross_site_request"
    assert agent_world.store.get(NUMBER).status == Status.PENDING
    assert agent_world.workflow.stops == []


@pytest.mark.parametrize(
    ("body", "raw", "code"),
    [
        ({}, None, "invalid_reason"),
        ({"reason": ""}, None, "invalid_reason"),
        ({"reason": "   "}, None, "invalid_reason"),
        ({"reason": 42}, None, "invalid_reason"),
        ({"reason": "x" * 501}, None, "invalid_reason"),
        (None, "not json", "invalid_json"),
        (None, "", "invalid_json"),
        (None, '["reason"]', "body_not_object"),
        # The second reason would win in json.loads; neither is taken.
        (None, '{"reason": "agreed on the phone", "reason": "x"}', "duplicate_key"),
    ],
)
def test_a_reason_is_required(agent_world, post, body, raw, code) -> None:
    waiting(agent_world)
    status, answer, _ = post("expire", body, raw=raw)
    assert status == 400 and answer["error"]["code"] == code
    assert answer["error"]["message"]
    assert agent_world.store.get(NUMBER).status == Status.PENDING


def test_a_reason_of_500_characters_is_taken(agent_world, post) -> None:
    waiting(agent_world)
    status, _, _ = post("expire", {"reason": "y" * 500})
    assert status == 200


def test_an_unknown_sign_up_is_not_found_and_a_bad_id_a_bad_request(agent_world, post) -> None:
    status, body, _ = post("cancel", registration_id="reg-unknown")
    assert status == 404 and body["error"]["code"] == "not_found"
    status, body, _ = post("cancel", registration_id="a" * 81)
    assert status == 400 and body["error"]["code"] == "invalid_registration_id"


def test_an_unknown_action_is_not_found(agent_world, post) -> None:
    waiting(agent_world)
    status, body, _ = post("delete")
    assert status == 404 and body["error"]["code"] == "not_found"


# --- cancel and expire --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "reason", "error", "summary"),
    [
        ("cancel", "agent_cancelled", "AgentCancelled", "Cancelled by ana: Asked by phone"),
        ("expire", "agent_expired", "AgentExpired", "Expired by ana: Asked by phone"),
    ],
)
def test_cancel_and_expire_end_the_sign_up_and_stop_its_execution(
    agent_world, post, action, reason, error, summary
) -> None:
    waiting(agent_world)
    status, body, _ = post(action)
    assert status == 200
    contact = agent_world.store.get(NUMBER)
    assert contact.status == Status.EXPIRED and contact.opted_in is False
    assert contact.task_token is None
    (event,) = expired_events(agent_world)
    assert event.details["reason"] == reason
    assert event.details["by"] == "ana" and event.details["why"] == "Asked by phone"
    assert event.details["source"] == "console" and event.details["requestKey"]
    (stop,) = agent_world.workflow.stops
    assert stop.name == REG and stop.error == error
    assert "ana" in stop.cause and "Asked by phone" in stop.cause
    assert agent_world.workflow.status(REG) == "ABORTED"
    # The answer is the sign-up's page after the action, numbers whole for an agent.
    assert body["signup"]["status"] == "EXPIRED"
    assert body["signup"]["outcome"] == {"code": reason, "summary": summary}
    assert body["signup"]["phoneNumber"] == NUMBER
    assert body["ledger"][-1]["details"]["by"] == "ana"
    assert agent_world.sms.sent == []


@pytest.mark.parametrize("action", ["cancel", "expire"])
def test_a_retried_cancel_or_expire_writes_nothing_twice(agent_world, post, action) -> None:
    waiting(agent_world)
    assert post(action)[0] == 200
    count = len(ledger(agent_world))
    status, body, _ = post(action)
    assert status == 200 and body["signup"]["status"] == "EXPIRED"
    assert len(ledger(agent_world)) == count and len(expired_events(agent_world)) == 1


def test_the_retry_finishes_a_stop_that_failed(agent_world, post) -> None:
    waiting(agent_world)
    agent_world.workflow.fail_stop_with = WorkflowUnavailable("StopExecution failed: Throttling")
    status, body, _ = post("cancel")
    assert status == 503 and body["error"]["code"] == "unavailable"
    assert agent_world.store.get(NUMBER).status == Status.EXPIRED
    assert agent_world.workflow.status(REG) == "RUNNING"
    agent_world.workflow.fail_stop_with = None
    status, _, _ = post("cancel")
    assert status == 200
    assert agent_world.workflow.status(REG) == "ABORTED"
    assert len(expired_events(agent_world)) == 1


def test_another_reason_or_agent_is_a_new_request_and_refused_once_over(agent_world, post) -> None:
    waiting(agent_world)
    assert post("cancel")[0] == 200
    status, body, _ = post("cancel", {"reason": "Something else"})
    assert status == 409 and body["error"]["code"] == "not_pending"
    status, body, _ = post("cancel", username="bo")
    assert status == 409 and body["error"]["code"] == "not_pending"
    status, body, _ = post("expire")
    assert status == 409 and body["error"]["code"] == "not_pending"
    assert len(expired_events(agent_world)) == 1


@pytest.mark.parametrize("action", ["cancel", "expire", "resend", "repair"])
def test_actions_on_a_confirmed_sign_up_are_not_pending(agent_world, post, action) -> None:
    contact = waiting(agent_world)
    save(
        agent_world,
        t.confirm(contact, registration_id=REG, reply={"reply": "YES"}, now=agent_world.clock()),
    )
    count = len(ledger(agent_world))
    status, body, _ = post(action)
    assert status == 409 and body["error"]["code"] == "not_pending"
    assert agent_world.store.get(NUMBER).status == Status.CONFIRMED
    assert len(ledger(agent_world)) == count and agent_world.workflow.stops == []


# --- opt-out ------------------------------------------------------------------------------


def test_opt_out_of_a_pending_sign_up_ends_the_wait_as_stop_does_and_texts_nothing(
    agent_world, post
) -> None:
    waiting(agent_world)
    status, body, _ = post("opt-out", {"reason": "Called to unsubscribe"})
    assert status == 200
    contact = agent_world.store.get(NUMBER)
    assert contact.status == Status.OPTED_OUT and contact.opted_in is False
    event = ledger(agent_world)[-1]
    assert event.type == EventType.OPTED_OUT
    assert event.details["source"] == "console" and event.details["by"] == "ana"
    assert event.details["why"] == "Called to unsubscribe"
    assert event.details["previousStatus"] == "PENDING"
    (callback,) = agent_world.workflow.callbacks
    assert callback.task_token == f"token-{REG}" and callback.error == "OptedOut"
    assert "ana" in (callback.cause or "")
    assert agent_world.sms.list_calls == [("opt_out", NUMBER)]
    assert agent_world.sms.sent == []
    assert body["signup"]["outcome"] == {
        "code": "cancelled",
        "summary": "Opted out while pending by ana: Called to unsubscribe",
    }


def test_opt_out_stops_the_execution_when_its_task_is_over(agent_world, post) -> None:
    waiting(agent_world)
    agent_world.workflow.gone_tokens[f"token-{REG}"] = "TaskTimedOut"
    assert post("opt-out")[0] == 200
    (stop,) = agent_world.workflow.stops
    assert stop.error == "AgentOptedOut"


def test_opt_out_of_a_confirmed_number_stops_nothing(agent_world, post) -> None:
    contact = waiting(agent_world)
    save(
        agent_world,
        t.confirm(contact, registration_id=REG, reply={"reply": "YES"}, now=agent_world.clock()),
    )
    status, body, _ = post("opt-out")
    assert status == 200 and body["signup"]["outcome"]["code"] == "opted_out"
    assert agent_world.workflow.callbacks == [] and agent_world.workflow.stops == []
    assert agent_world.sms.list_calls == [("opt_out", NUMBER)]


def test_a_retried_opt_out_writes_once_and_finishes_the_list(agent_world, post) -> None:
    waiting(agent_world)
    agent_world.sms.list_fails_with = SmsUnavailable("PutOptedOutNumber: throttled")
    status, body, _ = post("opt-out")
    assert status == 503 and body["error"]["code"] == "unavailable"
    agent_world.sms.list_fails_with = None
    count = len(ledger(agent_world))
    assert post("opt-out")[0] == 200
    assert len(ledger(agent_world)) == count
    assert NUMBER in agent_world.sms.opted_out
    status, body, _ = post("opt-out", {"reason": "again, differently"})
    assert status == 409 and body["error"]["code"] == "already_opted_out"


# --- resend -------------------------------------------------------------------------------


def test_resend_texts_the_confirmation_again_and_records_it(agent_world, post) -> None:
    waiting(agent_world)
    agent_world.clock.advance(61)
    status, body, _ = post("resend", {"reason": "Never got the text"})
    assert status == 200
    (sent,) = agent_world.sms.to(NUMBER)
    assert sent.dedup_key == f"{REG}:resend:2" and "YES" in sent.body.upper()
    types = [event.type for event in ledger(agent_world)][-2:]
    assert types == [EventType.RESEND_REQUESTED, EventType.CONFIRMATION_SENT]
    requested = ledger(agent_world)[-2]
    assert requested.details["by"] == "ana" and requested.details["why"] == "Never got the text"
    assert requested.details["source"] == "console" and requested.details["sendNumber"] == 2
    contact = agent_world.store.get(NUMBER)
    assert contact.send_count == 2 and contact.last_message_id == sent.message_id
    assert body["signup"]["status"] == "PENDING"
    assert body["conversation"][-1]["messageId"] == sent.message_id


def test_resend_respects_the_cooldown(agent_world, post) -> None:
    waiting(agent_world)
    agent_world.clock.advance(20)
    status, body, response = post("resend")
    assert status == 429 and body["error"]["code"] == "cooldown"
    assert body["error"]["retryAfterSeconds"] == 40
    assert response["multiValueHeaders"]["Retry-After"] == ["40"]
    assert agent_world.sms.sent == []


def test_resend_stops_at_the_send_limit(agent_world, post) -> None:
    waiting(agent_world)
    for reason in ("first", "second"):
        agent_world.clock.advance(61)
        assert post("resend", {"reason": reason})[0] == 200
    agent_world.clock.advance(61)
    status, body, _ = post("resend", {"reason": "third"})
    assert status == 409 and body["error"]["code"] == "send_limit"
    assert len(agent_world.sms.sent) == 2


def test_a_retried_resend_sends_one_text(agent_world, post) -> None:
    waiting(agent_world)
    agent_world.clock.advance(61)
    assert post("resend")[0] == 200
    count = len(ledger(agent_world))
    agent_world.clock.advance(5)
    status, _, _ = post("resend")
    assert status == 200
    assert len(agent_world.sms.sent) == 1 and len(ledger(agent_world)) == count
    # Once the cooldown is over, the same words are a new request for another text.
    agent_world.clock.advance(60)
    assert post("resend")[0] == 200
    assert len(agent_world.sms.sent) == 2


def test_a_retried_resend_sends_what_the_first_try_could_not(agent_world, post) -> None:
    waiting(agent_world)
    agent_world.clock.advance(61)
    agent_world.sms.fail_with = SmsUnavailable("SendTextMessage: throttled")
    status, body, _ = post("resend")
    assert status == 503 and body["error"]["code"] == "unavailable"
    assert agent_world.sms.sent == []
    agent_world.sms.fail_with = None
    agent_world.clock.advance(2)
    assert post("resend")[0] == 200
    (sent,) = agent_world.sms.sent
    assert agent_world.store.get(NUMBER).last_message_id == sent.message_id
    requested = [e for e in ledger(agent_world) if e.type == EventType.RESEND_REQUESTED]
    assert len(requested) == 1


def test_resend_of_an_execution_that_is_over_says_repair(agent_world, post) -> None:
    waiting(agent_world)
    agent_world.workflow.end(REG, "FAILED")
    agent_world.clock.advance(61)
    status, body, _ = post("resend")
    assert status == 409 and body["error"]["code"] == "execution_ended"
    assert "FAILED" in body["error"]["message"] and agent_world.sms.sent == []


def test_resend_before_the_first_text_has_nothing_to_resend(agent_world, post) -> None:
    save(
        agent_world,
        t.request(
            None,
            phone_number=NUMBER,
            registration_id=REG,
            first_name=None,
            execution_arn=execution(REG),
            evidence={},
            validation={},
            now=agent_world.clock(),
        ),
    )
    status, body, _ = post("resend")
    assert status == 409 and body["error"]["code"] == "not_texted_yet"


# --- repair -------------------------------------------------------------------------------


def test_repair_of_a_running_execution_is_refused(agent_world, post) -> None:
    waiting(agent_world)
    status, body, _ = post("repair")
    assert status == 409 and body["error"]["code"] == "still_running"
    assert agent_world.store.get(NUMBER).status == Status.PENDING


def test_repair_expires_a_sign_up_whose_execution_is_over(agent_world, post) -> None:
    waiting(agent_world)
    agent_world.workflow.end(REG, "ABORTED")
    status, body, _ = post("repair", {"reason": "Stuck since the outage"})
    assert status == 200
    (event,) = expired_events(agent_world)
    assert event.details["reason"] == "execution_ended"
    assert event.details["executionStatus"] == "ABORTED"
    assert event.details["by"] == "ana" and event.details["why"] == "Stuck since the outage"
    assert body["signup"]["outcome"]["code"] == "expired_execution_ended"
    # Retried: the same answer, nothing written again.
    assert post("repair", {"reason": "Stuck since the outage"})[0] == 200
    assert len(expired_events(agent_world)) == 1


def test_an_action_on_one_sign_up_leaves_another_alone(agent_world, post) -> None:
    waiting(agent_world)
    waiting(agent_world, OTHER, "reg-2")
    assert post("cancel")[0] == 200
    assert agent_world.store.get(OTHER).status == Status.PENDING
    assert [stop.name for stop in agent_world.workflow.stops] == [REG]


@pytest.mark.parametrize("action", ["cancel", "expire"])
def test_a_reply_after_an_agent_ended_the_sign_up_hears_it_is_closed(
    agent_world, post, action
) -> None:
    waiting(agent_world)
    assert post(action)[0] == 200
    done = agent_world.deps.inbound.handle(
        InboundSms(NUMBER, "+12065550142", "YES", "in-after-" + action)
    )
    assert done == "closed_reply"
    (reply,) = agent_world.sms.to(NUMBER)
    assert "no longer open" in reply.body
    assert agent_world.store.get(NUMBER).status == Status.EXPIRED


def test_a_repeated_key_is_named_in_the_refusal(agent_world, post) -> None:
    waiting(agent_world)
    status, answer, _ = post("expire", None, raw='{"reason": "a", "reason": "b"}')
    assert (status, answer["error"]["code"]) == (400, "duplicate_key")
    assert '"reason"' in answer["error"]["message"]
    assert agent_world.store.get(NUMBER).status == Status.PENDING


def test_resend_stops_at_the_daily_cap(agent_world, post, make_settings) -> None:
    # Under the registration's own limit (3), over the number's day (2 texts).
    agent_world.deps.settings = make_settings(max_confirmation_texts_per_day=2)
    waiting(agent_world)
    agent_world.clock.advance(61)
    assert post("resend", {"reason": "first"})[0] == 200
    agent_world.clock.advance(61)
    status, body, response = post("resend", {"reason": "second"})
    assert status == 429 and body["error"]["code"] == "daily_cap"
    # The first text leaves the 24 hours 122 s after it went out.
    assert body["error"]["retryAfterSeconds"] == 86400 - 122
    assert response["multiValueHeaders"]["Retry-After"] == [str(86400 - 122)]
    assert len(agent_world.sms.sent) == 1
    assert agent_world.store.get(NUMBER).send_count == 2  # nothing reserved
