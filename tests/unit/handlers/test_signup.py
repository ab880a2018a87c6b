"""POST /signups and GET /disclosure through the API Gateway REST proxy event."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from optin.domain.consent import EventType
from optin.domain.contact import Status
from optin.domain.errors import ExecutionAlreadyExists, SmsUnavailable, WorkflowUnavailable
from optin.domain.send_limits import DailyCapReached
from optin.handlers import create_contact, expire, opt_in, send_confirmation, signup
from tests.support.workflow_steps import run_workflow_until_text

NUMBER = "+12065550100"


@pytest.fixture
def post(load_event, lambda_context):
    """post(body, headers=..., raw=...) -> (status, json body, headers)."""

    def call(
        body: Any = None,
        *,
        raw: str | None = None,
        headers: dict[str, str] | None = None,
        drop_headers: tuple[str, ...] = (),
        base64_body: bool = False,
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        event = load_event("apigw_post_signup.json")
        if raw is None and body is not None:
            raw = json.dumps(body)
        if raw is not None:
            event["body"] = raw
        if base64_body and event["body"] is not None:
            event["body"] = base64.b64encode(event["body"].encode()).decode()
            event["isBase64Encoded"] = True
        for name in drop_headers:
            event["headers"].pop(name, None)
            event["multiValueHeaders"].pop(name, None)
        for name, value in (headers or {}).items():
            event["headers"][name] = value
            event["multiValueHeaders"][name] = [value]
        response = signup.handler(event, lambda_context)
        payload = json.loads(response["body"]) if response.get("body") else {}
        # The REST resolver answers with multiValueHeaders, as API Gateway REST expects.
        headers = {k: v[-1] for k, v in (response.get("multiValueHeaders") or {}).items()}
        return response["statusCode"], payload, {**headers, **(response.get("headers") or {})}

    return call


def body(**overrides: Any) -> dict[str, Any]:
    return {
        "firstName": "Ana",
        "phoneNumber": NUMBER,
        "consent": True,
        "disclosureVersion": "2026-11-01",
        "page": "https://example.com/sms",
        **overrides,
    }


def requested_evidence(world, number: str = NUMBER) -> dict:
    """The evidence the sign-up wrote to the ledger when it reserved the number."""
    requested = [e for e in world.store.events(number) if e.type == EventType.REQUESTED]
    return requested[-1].details["evidence"]


def test_fixture_event_starts_the_workflow(world, load_event, lambda_context) -> None:
    response = signup.handler(load_event("apigw_post_signup.json"), lambda_context)
    assert response["statusCode"] == 202
    answer = json.loads(response["body"])
    assert answer["status"] == "PENDING" and answer["resent"] is False
    assert answer["message"]
    [(name, payload)] = world.workflow.started
    assert name == answer["registrationId"] == payload["registrationId"]
    assert payload["phoneNumber"] == NUMBER and payload["firstName"] == "Ana"
    assert "evidence" not in payload  # in the ledger, not in the execution history
    evidence = requested_evidence(world)
    assert evidence["ip"] == "203.0.113.7"
    assert evidence["userAgent"].startswith("Mozilla/5.0")
    assert evidence["page"] == "https://example.com/sms"
    assert evidence["channel"] == "web"
    assert evidence["capturedAt"] == "2026-11-01T12:00:00.000000Z"
    assert evidence["disclosure"]["version"] == world.settings.disclosure_version
    assert "Msg & data rates may apply" in evidence["disclosure"]["text"]
    # The number is reserved before the workflow starts (PENDING, opted out); the text is
    # the workflow's job.
    contact = world.store.get(NUMBER)
    assert contact.status == Status.PENDING and contact.opted_in is False
    assert contact.registration_id == answer["registrationId"]
    assert world.sms.sent == []


def test_registration_id_is_a_uuid4(world, post) -> None:
    import uuid

    _, answer, _ = post(body())
    assert uuid.UUID(answer["registrationId"]).version == 4


def test_national_format_is_normalised_and_first_name_is_optional(world, post) -> None:
    status, _, _ = post({"phoneNumber": "(206) 555-0100", "consent": True})
    assert status == 202
    [(_, payload)] = world.workflow.started
    assert payload["phoneNumber"] == NUMBER
    assert payload["firstName"] is None  # present: the ASL reads $.firstName


def test_api_client_and_referer_are_evidence(world, post) -> None:
    post(
        {"phoneNumber": NUMBER, "consent": True},
        headers={"X-Api-Client": "partner-crm/2.1", "Referer": "https://shop.example.com/join"},
    )
    evidence = requested_evidence(world)
    assert evidence["apiClient"] == "partner-crm/2.1"
    assert evidence["page"] == "https://shop.example.com/join"


def test_api_client_without_page(world, post) -> None:
    post(
        {"phoneNumber": NUMBER, "consent": True},
        headers={"X-Api-Client": "crm"},
        drop_headers=("Referer",),
    )
    evidence = requested_evidence(world)
    assert evidence["channel"] == "api" and evidence["page"] is None


def test_base64_body_is_accepted(world, post) -> None:
    status, _, _ = post(body(), base64_body=True)
    assert status == 202


def test_pending_number_gets_the_text_again(world, post, lambda_context) -> None:
    post(body())
    registration_id = run_workflow_until_text(world, lambda_context)
    world.clock.advance(61)
    status, answer, _ = post(body())
    assert status == 202
    assert answer == {
        "status": "PENDING",
        "phoneNumber": NUMBER,
        "registrationId": registration_id,
        "resent": True,
        "message": "We sent the confirmation text again. Reply YES to it to confirm.",
    }
    assert len(world.workflow.started) == 1  # no second workflow
    assert [m.dedup_key for m in world.sms.sent] == [
        f"{registration_id}:confirmation",
        f"{registration_id}:resend:2",
    ]
    assert world.sms.sent[0].body == world.sms.sent[1].body
    contact = world.store.get(NUMBER)
    assert contact.send_count == 2
    types = [str(e.type) for e in world.store.events(NUMBER)]
    assert types[-2:] == ["resend_requested", "confirmation_sent"]


def test_resend_cooldown_answers_429_with_retry_after(world, post, lambda_context) -> None:
    post(body())
    run_workflow_until_text(world, lambda_context)
    world.clock.advance(20)
    status, answer, headers = post(body())
    assert status == 429
    assert answer["error"]["code"] == "resend_cooldown"
    assert headers["Retry-After"] == "40"
    # In the body too, for the form's countdown.
    assert answer["error"]["retryAfterSeconds"] == 40
    assert len(world.sms.sent) == 1


def test_resend_limit(world, post, lambda_context) -> None:
    post(body())
    run_workflow_until_text(world, lambda_context)
    for _ in range(2):
        world.clock.advance(61)
        assert post(body())[0] == 202
    world.clock.advance(61)
    status, answer, _ = post(body())
    assert status == 429 and answer["error"]["code"] == "resend_limit"
    assert len(world.sms.sent) == 3


def test_pending_before_the_first_text_is_not_resent(world, post, lambda_context) -> None:
    post(body())
    _name, payload = world.workflow.started[-1]
    create_contact.handler(
        {**payload, "validation": {}, "executionArn": "arn:exec"}, lambda_context
    )
    status, answer, _ = post(body())
    assert status == 202 and answer["resent"] is False
    assert world.sms.sent == []


def test_confirmed_number_is_already_subscribed(world, post, lambda_context) -> None:
    post(body())
    registration_id = run_workflow_until_text(world, lambda_context)
    opt_in.handler(
        {"registrationId": registration_id, "phoneNumber": NUMBER, "firstName": "Ana", "reply": {}},
        lambda_context,
    )
    texts = len(world.sms.sent)
    status, answer, _ = post(body())
    assert status == 200
    assert answer == {
        "status": "CONFIRMED",
        "phoneNumber": NUMBER,
        "message": "already subscribed",
    }
    assert len(world.sms.sent) == texts


@pytest.mark.parametrize(
    ("payload", "status", "code"),
    [
        ({"consent": True}, 400, "missing_phone_number"),
        ({"phoneNumber": "", "consent": True}, 400, "missing_phone_number"),
        ({"phoneNumber": "abc", "consent": True}, 400, "invalid_phone_number"),
        ({"phoneNumber": "+1 555", "consent": True}, 400, "invalid_phone_number"),
        ({"phoneNumber": "1" * 40, "consent": True}, 400, "invalid_phone_number"),
        ({"phoneNumber": "📞📞📞", "consent": True}, 400, "invalid_phone_number"),
        ({"phoneNumber": 12065550100, "consent": True}, 400, "invalid_phone_number"),
        ({"phoneNumber": "+447700900123", "consent": True}, 400, "country_not_allowed"),
        ({"phoneNumber": "+442071838750", "consent": True}, 400, "country_not_allowed"),
        ({"phoneNumber": "+18005550100", "consent": True}, 400, "unsupported_line_type"),
        ({"phoneNumber": "+19005550100", "consent": True}, 400, "unsupported_line_type"),
        ({"phoneNumber": NUMBER}, 400, "consent_required"),
        ({"phoneNumber": NUMBER, "consent": False}, 400, "consent_required"),
        ({"phoneNumber": NUMBER, "consent": "true"}, 400, "consent_required"),
        ({"phoneNumber": NUMBER, "consent": 1}, 400, "consent_required"),
        ({"phoneNumber": NUMBER, "consent": True, "firstName": "x" * 51}, 400, "field_too_long"),
        ({"phoneNumber": NUMBER, "consent": True, "firstName": 42}, 400, "invalid_field"),
        (
            {"phoneNumber": NUMBER, "consent": True, "firstName": "Visit evil.example/x"},
            400,
            "invalid_field",
        ),
        (
            {"phoneNumber": NUMBER, "consent": True, "page": "javascript:alert(1)"},
            400,
            "invalid_field",
        ),
        (
            {"phoneNumber": NUMBER, "consent": True, "disclosureVersion": "1999-01-01"},
            409,
            "disclosure_outdated",
        ),
    ],
)
def test_bad_input_gets_a_4xx_code_and_a_sentence_and_nothing_happens(
    world, post, payload, status, code
) -> None:
    got_status, answer, _headers = post(payload)
    assert (got_status, answer["error"]["code"]) == (status, code)
    message = answer["error"]["message"]
    assert message and message[0].isupper() and message.rstrip().endswith((".", "?"))
    assert "Traceback" not in message
    assert world.workflow.started == [] and world.sms.sent == []
    assert world.store.get(NUMBER) is None


@pytest.mark.parametrize(
    ("raw", "status", "code"),
    [
        ("not json", 400, "invalid_json"),
        ("{", 400, "invalid_json"),
        ("", 400, "invalid_json"),
        ("[1, 2]", 400, "body_not_object"),
        ('"a string"', 400, "body_not_object"),
        ("null", 400, "body_not_object"),
        (
            json.dumps({"phoneNumber": NUMBER, "consent": True, "pad": "x" * 17_000}),
            413,
            "body_too_large",
        ),
    ],
)
def test_bad_bodies(world, post, raw, status, code) -> None:
    got_status, answer, _ = post(raw=raw)
    assert (got_status, answer["error"]["code"]) == (status, code)
    assert world.workflow.started == []


def test_missing_body(world, load_event, lambda_context) -> None:
    event = load_event("apigw_post_signup.json")
    event["body"] = None
    response = signup.handler(event, lambda_context)
    assert response["statusCode"] == 400
    assert json.loads(response["body"])["error"]["code"] == "invalid_json"


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"]
)
def test_wrong_content_type_is_415(world, post, content_type) -> None:
    status, answer, _ = post(body(), headers={"Content-Type": content_type})
    assert status == 415 and answer["error"]["code"] == "unsupported_media_type"
    assert world.workflow.started == []


def test_missing_content_type_is_415(world, post) -> None:
    status, _answer, _ = post(body(), drop_headers=("Content-Type",))
    assert status == 415


def test_content_type_with_charset_and_any_case(world, post) -> None:
    status, _, _ = post(
        body(),
        drop_headers=("Content-Type",),
        headers={"content-type": "Application/JSON; charset=utf-8"},
    )
    assert status == 202


def test_workflow_unavailable_is_503_not_500(world, post) -> None:
    from optin.domain.errors import WorkflowUnavailable

    def broken(name: str, payload: dict[str, Any]) -> str:
        raise WorkflowUnavailable("StartExecution failed")

    world.workflow.start = broken  # type: ignore[method-assign]
    status, answer, headers = post(body())
    assert status == 503 and answer["error"]["code"] == "service_unavailable"
    assert "Retry-After" in headers


def test_sms_unavailable_on_resend_is_503(world, post, lambda_context) -> None:
    post(body())
    run_workflow_until_text(world, lambda_context)
    world.clock.advance(61)
    world.sms.fail_with = SmsUnavailable("throttled")
    status, _answer, _ = post(body())
    assert status == 503


def test_unexpected_error_is_a_sentence_without_a_trace(world, post) -> None:
    def boom(number: str):
        raise RuntimeError("secret internals")

    world.store.get = boom  # type: ignore[method-assign]
    status, answer, _ = post(body())
    assert status == 500
    assert answer["error"]["code"] == "internal_error"
    assert "secret" not in json.dumps(answer)


def test_unknown_route_is_404_in_the_error_shape(world, load_event, lambda_context) -> None:
    event = load_event("apigw_post_signup.json")
    event["path"] = "/nope"
    response = signup.handler(event, lambda_context)
    assert response["statusCode"] == 404
    assert json.loads(response["body"])["error"]["code"] == "not_found"


def test_get_disclosure(world, load_event, lambda_context) -> None:
    response = signup.handler(load_event("apigw_get_disclosure.json"), lambda_context)
    assert response["statusCode"] == 200
    answer = json.loads(response["body"])
    assert answer["version"] == world.settings.disclosure_version
    assert answer["programName"] == world.settings.program_name
    text = answer["text"]
    for part in (
        world.settings.program_name,
        world.settings.message_frequency,
        "Msg & data rates may apply",
        "HELP",
        "STOP",
        world.settings.terms_url,
    ):
        assert part in text
    assert answer["termsUrl"] == world.settings.terms_url
    assert answer["privacyUrl"] == world.settings.privacy_url
    # The same text is what the evidence records.
    signup.handler(load_event("apigw_post_signup.json"), lambda_context)
    assert requested_evidence(world)["disclosure"]["text"] == text


def test_signup_after_opt_out_starts_a_new_registration(world, post, lambda_context) -> None:
    from optin.domain import contact as transitions

    post(body())
    run_workflow_until_text(world, lambda_context)
    world.deps.steps.apply(NUMBER, lambda c: transitions.opt_out(c, details={}, now=world.clock()))
    assert world.store.get(NUMBER).status == Status.OPTED_OUT
    status, _, _ = post(body())
    assert status == 202 and len(world.workflow.started) == 2


# --- the number is reserved before StartExecution -------------------------------------


def test_two_quick_signups_get_one_registration(world, post) -> None:
    first_status, first, _ = post(body())
    second_status, second, _ = post(body())
    assert first_status == second_status == 202
    assert second["registrationId"] == first["registrationId"]
    # The second start is the same execution again (same name, same input): idempotent.
    names = {name for name, _ in world.workflow.started}
    assert names == {first["registrationId"]}
    assert len({repr(payload) for _, payload in world.workflow.started}) == 1
    requested = [e for e in world.store.events(NUMBER) if e.type == EventType.REQUESTED]
    assert len(requested) == 1


def test_racing_signups_one_registration(world, post) -> None:
    """Signups that read "no contact" at the same time: one reservation wins the write;
    the others find its PENDING contact and answer with its registrationId."""
    import threading

    barrier = threading.Barrier(6)
    answers: list[dict] = []
    lock = threading.Lock()

    def attempt() -> None:
        barrier.wait()
        status, answer, _ = post(body())
        with lock:
            answers.append({**answer, "http": status})

    threads = [threading.Thread(target=attempt) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert {a["http"] for a in answers} == {202}
    assert len({a["registrationId"] for a in answers}) == 1
    assert len([e for e in world.store.events(NUMBER) if e.type == EventType.REQUESTED]) == 1


def test_failed_start_is_completed_by_the_next_signup(world, post) -> None:
    from optin.domain.errors import WorkflowUnavailable

    world.workflow.fail_start_with = WorkflowUnavailable("throttled")
    status, answer, _ = post(body())
    assert status == 503 and answer["error"]["code"] == "service_unavailable"
    reserved = world.store.get(NUMBER)
    assert reserved.status == Status.PENDING and world.workflow.started == []

    world.workflow.fail_start_with = None
    status, answer, _ = post(body())
    assert status == 202 and answer["registrationId"] == reserved.registration_id
    assert [name for name, _ in world.workflow.started] == [reserved.registration_id]


# --- signing up again after the execution died -----------------------------------------


def _ledger(world) -> list[tuple[str, str | None]]:
    return [(str(e.type), e.registration_id) for e in world.store.events(NUMBER)]


def test_signing_up_again_after_a_stopped_execution_starts_a_new_registration(
    world, post, lambda_context
) -> None:
    # Stopped before its first text: PENDING, send_count 0, and its name is used up.
    post(body())
    old = world.store.get(NUMBER)
    world.workflow.end(old.registration_id, "ABORTED")

    status, answer, _ = post(body())

    assert status == 202, answer
    assert answer["status"] == "PENDING" and answer["resent"] is False
    new = answer["registrationId"]
    assert new != old.registration_id
    assert [name for name, _ in world.workflow.started] == [old.registration_id, new]
    expired = next(e for e in world.store.events(NUMBER) if e.type == EventType.EXPIRED)
    assert expired.registration_id == old.registration_id
    assert expired.details["reason"] == "execution_ended"
    assert expired.details["executionStatus"] == "ABORTED"
    assert expired.details["error"] == "ExecutionAlreadyExists"
    assert _ledger(world) == [
        ("requested", old.registration_id),
        ("expired", old.registration_id),
        ("requested", new),
    ]
    contact = world.store.get(NUMBER)
    assert (contact.status, contact.registration_id) == (Status.PENDING, new)
    # The new execution gets its text as usual.
    registration_id = run_workflow_until_text(world, lambda_context)
    assert registration_id == new and world.sms.sent[-1].dedup_key == f"{new}:confirmation"


def test_signing_up_again_after_the_execution_died_while_waiting(
    world, post, lambda_context
) -> None:
    # Texted once, then the execution was stopped: a resend would confirm nothing.
    post(body())
    old = run_workflow_until_text(world, lambda_context)
    world.workflow.end(old, "ABORTED")
    world.clock.advance(61)

    status, answer, _ = post(body())

    assert status == 202, answer
    assert answer["registrationId"] != old and answer["resent"] is False
    assert [m.dedup_key for m in world.sms.sent] == [f"{old}:confirmation"]  # no resend
    expired = next(e for e in world.store.events(NUMBER) if e.type == EventType.EXPIRED)
    assert (expired.details["reason"], expired.details["executionStatus"]) == (
        "execution_ended",
        "ABORTED",
    )
    assert "error" not in expired.details  # found by asking, not by a refusal


def test_a_running_execution_with_that_name_is_left_running(world, post) -> None:
    # Same name taken by a RUNNING execution (another input): not ours to expire.
    post(body())
    old = world.store.get(NUMBER).registration_id
    world.workflow.fail_start_with = ExecutionAlreadyExists("taken")
    status, answer, _ = post(body())
    assert status == 202 and answer["registrationId"] == old
    assert world.store.get(NUMBER).status == Status.PENDING
    assert EventType.EXPIRED not in [e.type for e in world.store.events(NUMBER)]


def test_when_step_functions_cannot_say_the_sign_up_is_503_and_nothing_changes(world, post) -> None:
    post(body())
    old = world.store.get(NUMBER)
    world.workflow.end(old.registration_id)
    world.workflow.fail_status_with = WorkflowUnavailable("DescribeExecution failed")
    status, answer, _ = post(body())
    assert status == 503 and answer["error"]["code"] == "service_unavailable"
    assert answer["error"]["message"]
    assert world.store.get(NUMBER) == old


# --- GET /signups/{registrationId} ----------------------------------------------------


@pytest.fixture
def get_signup(load_event, lambda_context):
    def call(registration_id: str) -> tuple[int, dict[str, Any]]:
        event = load_event("apigw_post_signup.json")
        event.update(
            httpMethod="GET",
            resource="/signups/{registrationId}",
            path=f"/signups/{registration_id}",
            pathParameters={"registrationId": registration_id},
            body=None,
        )
        response = signup.handler(event, lambda_context)
        return response["statusCode"], json.loads(response["body"])

    return call


def test_a_signup_reads_its_own_status_masked(world, post, get_signup) -> None:
    _, answer, _ = post(body())
    status, found = get_signup(answer["registrationId"])
    assert status == 200
    assert found == {
        "registrationId": answer["registrationId"],
        "status": "PENDING",
        "phoneNumber": "+1206***0100",
    }
    # Upper-case hex is the same id.
    assert get_signup(answer["registrationId"].upper())[0] == 200


@pytest.mark.parametrize(
    "bad", ["abc", "1234", "7059b992-1b9-xyz", "%2E%2E", "7059b992-1b9c-4c4e-9a53-0b8f5f1f7e2g"]
)
def test_a_malformed_registration_id_is_400(world, get_signup, bad) -> None:
    status, found = get_signup(bad)
    assert status == 400 and found["error"]["code"] == "invalid_registration_id"


def test_an_unknown_or_replaced_registration_is_404(world, post, get_signup) -> None:
    import uuid

    status, found = get_signup(str(uuid.uuid4()))
    assert status == 404 and found["error"]["code"] == "not_found"
    _, answer, _ = post(body())
    world.deps.steps.expire(registration_id=answer["registrationId"], phone_number=NUMBER)
    _, again, _ = post(body())
    assert again["registrationId"] != answer["registrationId"]
    assert get_signup(answer["registrationId"])[0] == 404
    assert get_signup(again["registrationId"])[1]["status"] == "PENDING"


# --- CORS and the viewer behind CloudFront -----------------------------------------------


def test_forwarded_for_is_kept_as_evidence(world, post) -> None:
    status, _, _ = post(body(), headers={"X-Forwarded-For": "198.51.100.9, 130.176.0.1"})
    assert status == 202
    evidence = requested_evidence(world)
    assert evidence["forwardedFor"] == "198.51.100.9, 130.176.0.1"
    assert evidence["ip"] == "203.0.113.7"


@pytest.fixture
def cors_signup(monkeypatch):
    """The signup module as a Lambda with ALLOWED_ORIGINS in its environment loads it."""
    import importlib

    monkeypatch.setenv("ALLOWED_ORIGINS", "https://partner.example")
    module = importlib.reload(signup)
    yield module
    monkeypatch.delenv("ALLOWED_ORIGINS")
    importlib.reload(signup)


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [("https://partner.example", True), ("https://evil.example", False), ("null", False)],
)
def test_cors_answers_only_the_configured_origin(
    world, load_event, lambda_context, cors_signup, origin, allowed
) -> None:
    event = load_event("apigw_post_signup.json")
    event["headers"]["Origin"] = origin
    event["multiValueHeaders"]["Origin"] = [origin]
    response = cors_signup.handler(event, lambda_context)
    headers = {k: v[-1] for k, v in (response.get("multiValueHeaders") or {}).items()}
    headers.update(response.get("headers") or {})
    assert response["statusCode"] == 202
    assert (headers.get("Access-Control-Allow-Origin") == origin) is allowed
    if not allowed:
        assert "Access-Control-Allow-Origin" not in headers


def test_a_wildcard_origin_is_never_configured(monkeypatch) -> None:
    monkeypatch.setenv("ALLOWED_ORIGINS", "*")
    assert signup._cors() is None


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"consent": True}, "phoneNumber"),
        ({"phoneNumber": "abc", "consent": True}, "phoneNumber"),
        ({"phoneNumber": "+447700900123", "consent": True}, "phoneNumber"),
        ({"phoneNumber": "+18005550100", "consent": True}, "phoneNumber"),
        ({"phoneNumber": NUMBER, "consent": False}, "consent"),
        ({"phoneNumber": NUMBER, "consent": True, "firstName": "x" * 51}, "firstName"),
        ({"phoneNumber": NUMBER, "consent": True, "firstName": 42}, "firstName"),
        ({"phoneNumber": NUMBER, "consent": True, "firstName": "Visit evil.example"}, "firstName"),
        ({"phoneNumber": NUMBER, "consent": True, "firstName": "R2-D2"}, "firstName"),
        ({"phoneNumber": NUMBER, "consent": True, "page": "javascript:alert(1)"}, "page"),
    ],
)
def test_an_error_names_its_field_in_plain_words(world, post, payload, field) -> None:
    status, answer, _ = post(payload)
    assert status == 400
    error = answer["error"]
    assert error["field"] == field
    message = error["message"]
    # Words for a person: no field ids, pydantic's wording, patterns or status codes.
    for jargon in ("firstName", "phoneNumber", "Value error", "regex", "pattern", "400", "422"):
        assert jargon not in message, message
    assert world.workflow.started == []


def test_an_error_without_a_field_has_no_field_key(world, post) -> None:
    _, answer, _ = post(raw="not json")
    assert "field" not in answer["error"]


@pytest.mark.parametrize("name", ["J.R.", "Mary-Ann O'Neil", "José", "Nguyễn", "St. John", "Zoë"])
def test_real_names_are_accepted(world, post, name) -> None:
    status, _, _ = post(body(firstName=name))
    assert status == 202
    [(_, payload)] = world.workflow.started
    assert payload["firstName"] == name


def test_a_decomposed_name_is_stored_composed(world, post) -> None:
    import unicodedata

    decomposed = unicodedata.normalize("NFD", "Nguyễn")
    assert decomposed != "Nguyễn"
    assert post(body(firstName=decomposed))[0] == 202
    [(_, payload)] = world.workflow.started
    assert payload["firstName"] == "Nguyễn"


# --- duplicate keys and length limits (docs/security.md) -------------------------------


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        # The attack: a consent refused in the first key, given in the second.
        ('{"phoneNumber": "+12065550100", "consent": false, "consent": true}', "consent"),
        (
            '{"phoneNumber": "+12065550100", "phoneNumber": "+12065550101", "consent": true}',
            "phoneNumber",
        ),
        # Nested objects are checked too.
        ('{"phoneNumber": "+12065550100", "consent": true, "x": {"a": 1, "a": 2}}', "a"),
    ],
)
def test_a_repeated_key_is_refused_and_named(world, post, raw, key) -> None:
    status, answer, _ = post(raw=raw)
    assert status == 400
    assert answer["error"]["code"] == "duplicate_key"
    assert answer["error"]["field"] == key
    assert f'"{key}"' in answer["error"]["message"]
    assert world.store.get(NUMBER) is None and world.workflow.started == []
    assert world.sms.sent == []


def test_a_repeated_key_is_refused_in_a_base64_body_too(world, post) -> None:
    raw = '{"phoneNumber": "+12065550100", "consent": false, "consent": true}'
    status, answer, _ = post(raw=raw, base64_body=True)
    assert (status, answer["error"]["code"]) == (400, "duplicate_key")


@pytest.mark.parametrize(
    ("field", "value", "limit"),
    [
        ("firstName", "A" * 51, 50),
        ("page", "https://example.com/" + "p" * 2100, 2048),
        ("disclosureVersion", "v" * 65, 64),
        ("phoneNumber", "+1206555010" + "0" * 60, 64),
    ],
)
def test_an_overlong_field_is_refused_and_named(world, post, field, value, limit) -> None:
    status, answer, _ = post(body(**{field: value}))
    assert status == 400
    assert answer["error"]["code"] == "field_too_long"
    assert answer["error"]["field"] == field
    assert str(limit) in answer["error"]["message"]
    assert world.store.get(NUMBER) is None


def test_fields_at_their_limit_are_taken(world, post) -> None:
    page = "https://example.com/" + "p" * (2048 - len("https://example.com/"))
    status, _, _ = post(body(firstName="A" * 50, page=page))
    assert status == 202
    assert requested_evidence(world)["page"] == page


def test_an_overlong_api_client_header_is_refused(world, post) -> None:
    status, answer, _ = post(body(), headers={"X-Api-Client": "c" * 129})
    assert (status, answer["error"]["code"]) == (400, "field_too_long")
    assert answer["error"]["field"] == "X-Api-Client"
    assert world.store.get(NUMBER) is None


def test_browser_and_proxy_headers_are_cut_not_refused(world, post) -> None:
    chain = ", ".join(f"10.0.{i // 250}.{i % 250}" for i in range(200)) + ", 198.51.100.9"
    status, _, _ = post(
        body(page=None),
        headers={
            "User-Agent": "Mozilla/5.0 " + "x" * 5000,
            "X-Forwarded-For": chain,
            "Referer": "https://example.com/" + "r" * 5000,
        },
    )
    assert status == 202
    evidence = requested_evidence(world)
    assert len(evidence["userAgent"]) == 512 and evidence["userAgent"].startswith("Mozilla/5.0")
    assert evidence["userAgent"].endswith("…")
    # The proxies append: the end of the chain (the address CloudFront saw) is kept.
    assert len(evidence["forwardedFor"]) == 512
    assert evidence["forwardedFor"].startswith("…")
    assert evidence["forwardedFor"].endswith(", 198.51.100.9")
    assert len(evidence["page"]) == 2048 and evidence["page"].startswith("https://example.com/")


# --- the daily cap on confirmation texts ------------------------------------------------


def expire_registration(world, lambda_context, registration_id: str) -> None:
    expire.handler({"registrationId": registration_id, "phoneNumber": NUMBER}, lambda_context)
    assert world.store.get(NUMBER).status == Status.EXPIRED


def test_signing_up_again_and_again_stops_at_the_daily_cap(
    world, post, lambda_context, capsys
) -> None:
    # The pumping loop the per-registration limit cannot see: sign up, let it expire, again.
    for _ in range(3):
        assert post(body())[0] == 202
        registration_id = run_workflow_until_text(world, lambda_context)
        world.clock.advance(3600)
        expire_registration(world, lambda_context, registration_id)
    status, answer, headers = post(body())
    assert status == 429
    assert answer["error"]["code"] == "daily_cap"
    assert answer["error"]["message"]
    # The first text went out 3 hours ago: it leaves the 24 hours in 21.
    assert answer["error"]["retryAfterSeconds"] == 21 * 3600
    assert headers["Retry-After"] == str(21 * 3600)
    assert len(world.workflow.started) == 3 and len(world.sms.sent) == 3
    assert world.store.get(NUMBER).status == Status.EXPIRED  # nothing reserved
    assert '"DailyCapReached"' in capsys.readouterr().out  # the metric

    world.clock.advance(21 * 3600)
    assert post(body())[0] == 202


def test_a_resend_stops_at_the_daily_cap_before_the_registration_limit(
    world, post, lambda_context, make_settings
) -> None:
    world.deps.settings = make_settings(max_confirmation_texts_per_day=2)
    post(body())
    run_workflow_until_text(world, lambda_context)
    world.clock.advance(61)
    assert post(body())[0] == 202  # the second text
    world.clock.advance(61)
    status, answer, _ = post(body())
    assert (status, answer["error"]["code"]) == (429, "daily_cap")
    assert len(world.sms.sent) == 2
    assert world.store.get(NUMBER).send_count == 2


def test_send_confirmation_at_the_cap_rejects_with_reason_daily_cap(
    world, post, lambda_context, make_settings
) -> None:
    world.deps.settings = make_settings(max_confirmation_texts_per_day=1)
    post(body())
    first = run_workflow_until_text(world, lambda_context)
    expire_registration(world, lambda_context, first)
    # An execution started some other way than POST /signups (which would answer 429):
    # SendConfirmation is the last line and must hold too.
    create_contact.handler(
        {"registrationId": "reg-2", "phoneNumber": NUMBER, "validation": {}}, lambda_context
    )
    with pytest.raises(DailyCapReached):
        send_confirmation.handler(
            {"taskToken": "token-2", "registrationId": "reg-2", "phoneNumber": NUMBER},
            lambda_context,
        )
    contact = world.store.get(NUMBER)
    assert contact.status == Status.REJECTED and contact.registration_id == "reg-2"
    rejected = world.store.events(NUMBER)[-1]
    assert rejected.type == EventType.REJECTED
    assert rejected.details["reason"].startswith("daily_cap:")
    assert len(world.sms.sent) == 1


def test_a_retried_send_confirmation_is_not_counted_twice(
    world, post, lambda_context, make_settings
) -> None:
    world.deps.settings = make_settings(max_confirmation_texts_per_day=1)
    post(body())
    run_workflow_until_text(world, lambda_context)
    # Step Functions retries the task with a new token: the text already reserved is the
    # one, not another that would need room under the cap.
    contact = world.store.get(NUMBER)
    send_confirmation.handler(
        {
            "taskToken": "token-retry",
            "registrationId": contact.registration_id,
            "phoneNumber": NUMBER,
        },
        lambda_context,
    )
    assert world.store.get(NUMBER).status == Status.PENDING
    assert len(world.sms.sent) == 1
