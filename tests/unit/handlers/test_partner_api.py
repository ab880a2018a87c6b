"""The partner API (/v1/signups) against the in-memory stores: keys, scoping, evidence in
the ledger, opt-out, and every kind of bad input getting a 4xx with a code."""

from __future__ import annotations

import json
from typing import Any

import pytest

from optin.domain.consent import EventType
from optin.domain.contact import Status
from tests.fakes.api_keys import MemoryApiKeyStore
from tests.fakes.idempotency import MemoryPersistenceLayer
from tests.fakes.rate_limiter import MemoryRateLimiter
from tests.support.workflow_steps import run_workflow_until_text

NUMBER = "+12065550100"


def consent(**overrides: Any) -> dict[str, Any]:
    return {
        "disclosureText": "Reply YES to get Acme deals. Msg & data rates may apply.",
        "disclosureVersion": "acme-3",
        "capturedAt": "2026-11-01T11:59:00Z",
        "ip": "203.0.113.9",
        "userAgent": "Mozilla/5.0 (checkout)",
        "page": "https://shop.example/checkout",
        **overrides,
    }


def body(**overrides: Any) -> dict[str, Any]:
    return {
        "phoneNumber": NUMBER,
        "firstName": "Ana",
        "source": "checkout",
        "consent": consent(),
        **overrides,
    }


@pytest.fixture
def api(world: Any, call_partner_api: Any) -> Any:
    world.deps.api_keys = MemoryApiKeyStore()
    world.deps.idempotency = MemoryPersistenceLayer()

    class Api:
        keys = world.deps.api_keys

        def key(self, name: str = "Acme") -> str:
            return world.deps.partners.create_key(name).key

        def call(
            self,
            method: str,
            path: str,
            key: str | None,
            payload: Any = None,
            query: dict[str, str] | None = None,
            raw: str | None = None,
            idempotency_key: str | None = None,
        ) -> tuple[int, dict[str, Any]]:
            status, _, answer = self.full(method, path, key, payload, query, raw, idempotency_key)
            return status, answer

        def full(
            self,
            method: str,
            path: str,
            key: str | None,
            payload: Any = None,
            query: dict[str, str] | None = None,
            raw: str | None = None,
            idempotency_key: str | None = None,
        ) -> tuple[int, dict[str, str], dict[str, Any]]:
            headers = {"x-api-key": key} if key else {}
            if idempotency_key is not None:
                headers["Idempotency-Key"] = idempotency_key
            raw_body = (
                raw if raw is not None else (None if payload is None else json.dumps(payload))
            )
            status, got, answer = call_partner_api(method, path, headers, raw_body, query)
            return status, got, json.loads(answer)

    return Api()


def test_a_partner_signs_up_a_number_with_its_evidence(api: Any, world: Any) -> None:
    key = api.key()
    status, answer = api.call("POST", "/v1/signups", key, body())
    assert status == 202 and answer["status"] == "PENDING"
    contact = world.store.get(NUMBER)
    assert contact.registration_id == answer["id"]
    requested = world.store.events(NUMBER)[0]
    evidence = requested.details["evidence"]
    assert requested.type == EventType.REQUESTED
    assert evidence["apiClient"] == api.keys.list()[0].key_id
    assert evidence["channel"] == "api"
    assert evidence["disclosure"] == {"text": consent()["disclosureText"], "version": "acme-3"}
    assert evidence["capturedAt"].startswith("2026-11-01T11:59:00")
    assert evidence["receivedAt"].startswith("2026-11-01T12:00:00")
    assert (evidence["ip"], evidence["source"]) == ("203.0.113.9", "checkout")
    assert world.workflow.started  # the same workflow as the form's


def test_the_partner_reads_its_own_sign_up_by_id_and_by_number(api: Any) -> None:
    key = api.key()
    _, made = api.call("POST", "/v1/signups", key, body())
    status, view = api.call("GET", f"/v1/signups/{made['id']}", key)
    assert status == 200
    assert view["id"] == made["id"] and view["status"] == "PENDING"
    assert view["createdAt"] and view["ledger"][0]["type"] == "requested"
    status, found = api.call("GET", "/v1/signups", key, query={"phoneNumber": "(206) 555-0100"})
    assert status == 200 and [s["id"] for s in found["signups"]] == [made["id"]]


def test_another_partner_gets_404_not_403(api: Any) -> None:
    mine, theirs = api.key("Acme"), api.key("Other")
    _, made = api.call("POST", "/v1/signups", mine, body())
    status, answer = api.call("GET", f"/v1/signups/{made['id']}", theirs)
    assert status == 404 and answer["error"]["code"] == "not_found"
    status, found = api.call("GET", "/v1/signups", theirs, query={"phoneNumber": NUMBER})
    assert status == 200 and found["signups"] == []
    status, _ = api.call("DELETE", f"/v1/signups/{made['id']}", theirs, {"reason": "x"})
    assert status == 404


def test_unknown_and_malformed_ids_are_404(api: Any) -> None:
    key = api.key()
    for rid in ("3f0e0000-0000-4000-8000-000000000000", "not-an-id"):
        status, answer = api.call("GET", f"/v1/signups/{rid}", key)
        assert status == 404 and answer["error"]["code"] == "not_found"


@pytest.mark.parametrize("key", [None, "", "optin_nope", "sk_live_" + "x" * 40])
def test_missing_or_malformed_key_is_403(api: Any, key: str | None) -> None:
    api.key()
    status, answer = api.call("POST", "/v1/signups", key, body())
    assert status == 403 and answer["error"]["code"] == "invalid_api_key"


def test_a_revoked_key_stops_at_once(api: Any) -> None:
    key = api.key()
    assert api.call("POST", "/v1/signups", key, body())[0] == 202
    api.keys.revoke(api.keys.list()[0].key_id, now=api.keys.list()[0].created_at)
    status, answer = api.call("GET", "/v1/signups", key, query={"phoneNumber": NUMBER})
    assert status == 403 and answer["error"]["code"] == "invalid_api_key"


def test_a_guessed_secret_for_a_real_key_id_is_403(api: Any) -> None:
    key = api.key()
    forged = key[:-4] + ("AAAA" if not key.endswith("AAAA") else "BBBB")
    assert api.call("POST", "/v1/signups", forged, body())[0] == 403


@pytest.mark.parametrize(
    ("payload", "code", "field"),
    [
        (body(phoneNumber=None), "missing_field", "phoneNumber"),
        (body(phoneNumber="+1206555" + "0" * 40), "field_too_long", "phoneNumber"),
        (body(phoneNumber="12"), None, "phoneNumber"),
        (body(firstName="A" * 51), "field_too_long", "firstName"),
        (body(firstName="see evil.com"), "invalid_first_name", "firstName"),
        (body(firstName="Ana <3 http://x"), "invalid_first_name", "firstName"),
        (body(source=7), "invalid_field", "source"),
        (body(consent=None), "consent_required", "consent"),
        (body(consent=True), "consent_required", "consent"),
        (body(consent=consent(disclosureText=None)), "missing_field", "disclosureText"),
        (body(consent=consent(disclosureText="x" * 2001)), "field_too_long", "disclosureText"),
        (body(consent=consent(disclosureVersion="")), "invalid_field", "disclosureVersion"),
        (body(consent=consent(capturedAt="yesterday")), "invalid_captured_at", "capturedAt"),
        (body(consent=consent(capturedAt="2026-11-01T12:00:00")), "invalid_captured_at", None),
        (body(consent=consent(capturedAt="2027-01-01T00:00:00Z")), "invalid_captured_at", None),
        (body(consent=consent(capturedAt="2026-01-01T00:00:00Z")), "invalid_captured_at", None),
        (body(consent=consent(ip="999.1.1.1")), "invalid_ip", "ip"),
        (body(consent=consent(userAgent="u" * 513)), "field_too_long", "userAgent"),
        (body(consent=consent(page="javascript:alert(1)")), "invalid_page", "page"),
        (body(consent=consent(extra="x")), "unknown_field", None),
        (body(apiClient="someone"), "unknown_field", None),
    ],
)
def test_bad_sign_ups_are_400_with_a_code(
    api: Any, world: Any, payload: dict[str, Any], code: str | None, field: str | None
) -> None:
    key = api.key()
    status, answer = api.call("POST", "/v1/signups", key, payload)
    assert status == 400, answer
    if code:
        assert answer["error"]["code"] == code
    if field:
        assert answer["error"]["field"] == field
    assert answer["error"]["message"]
    assert world.store.get(NUMBER) is None and not world.workflow.started


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("{", "invalid_json"),
        ("[]", "body_not_object"),
        ('{"phoneNumber": "+12065550100", "phoneNumber": "+12065550111"}', "duplicate_key"),
        (json.dumps(body(firstName="x" * 20000)), "body_too_large"),
    ],
)
def test_unreadable_bodies_are_400(api: Any, raw: str, code: str) -> None:
    status, answer = api.call("POST", "/v1/signups", api.key(), raw=raw)
    assert status == 400 and answer["error"]["code"] == code


def test_delete_opts_the_number_out_with_the_reason(api: Any, world: Any) -> None:
    key = api.key()
    _, made = api.call("POST", "/v1/signups", key, body())
    status, view = api.call("DELETE", f"/v1/signups/{made['id']}", key, {"reason": "unsubscribed"})
    assert status == 200 and view["status"] == "OPTED_OUT"
    assert world.store.get(NUMBER).status == Status.OPTED_OUT
    opted = world.store.events(NUMBER)[-1]
    assert opted.type == EventType.OPTED_OUT
    assert opted.details["source"] == "api" and opted.details["why"] == "unsubscribed"
    assert opted.details["by"] == api.keys.list()[0].key_id
    assert NUMBER in world.sms.opted_out
    status, answer = api.call("DELETE", f"/v1/signups/{made['id']}", key, {"reason": "again"})
    assert status == 409 and answer["error"]["code"] == "already_opted_out"


def test_delete_needs_a_reason(api: Any) -> None:
    key = api.key()
    _, made = api.call("POST", "/v1/signups", key, body())
    status, answer = api.call("DELETE", f"/v1/signups/{made['id']}", key, {})
    assert status == 400 and answer["error"]["code"] == "invalid_reason"


def test_lookup_needs_a_number(api: Any) -> None:
    status, answer = api.call("GET", "/v1/signups", api.key())
    assert status == 400 and answer["error"]["field"] == "phoneNumber"


def test_the_same_idempotency_key_and_body_replay_the_first_answer(api: Any, world: Any) -> None:
    key = api.key()
    first = api.full("POST", "/v1/signups", key, body(), idempotency_key="order-1")
    world.clock.advance(120)  # past the resend cooldown: a second real sign-up would resend
    again = api.full("POST", "/v1/signups", key, body(), idempotency_key="order-1")
    assert first[0] == again[0] == 202 and first[2] == again[2]
    assert "Idempotent-Replayed" not in first[1] and again[1]["Idempotent-Replayed"] == "true"
    assert len(world.workflow.started) == 1
    assert [e.type for e in world.store.events(NUMBER)] == [EventType.REQUESTED]


def test_the_same_idempotency_key_with_another_body_is_409(api: Any, world: Any) -> None:
    key = api.key()
    assert api.call("POST", "/v1/signups", key, body(), idempotency_key="order-1")[0] == 202
    status, answer = api.call(
        "POST", "/v1/signups", key, body(firstName="Bea"), idempotency_key="order-1"
    )
    assert status == 409 and answer["error"]["code"] == "idempotency_key_reused"
    assert len(world.workflow.started) == 1


def test_idempotency_keys_are_per_partner(api: Any, world: Any) -> None:
    one, two = api.key("One"), api.key("Two")
    assert api.call("POST", "/v1/signups", one, body(), idempotency_key="k")[0] == 202
    other = body(phoneNumber="+12065550111")
    status, _ = api.call("POST", "/v1/signups", two, other, idempotency_key="k")
    assert status == 202 and world.store.get("+12065550111") is not None


def test_a_refused_request_leaves_its_idempotency_key_free(api: Any, world: Any) -> None:
    key = api.key()
    bad = body(consent=consent(ip="nope"))
    assert api.call("POST", "/v1/signups", key, bad, idempotency_key="k")[0] == 400
    assert api.call("POST", "/v1/signups", key, body(), idempotency_key="k")[0] == 202


def test_a_delete_replayed_answers_as_the_first_not_409(api: Any, world: Any) -> None:
    key = api.key()
    _, made = api.call("POST", "/v1/signups", key, body())
    path = f"/v1/signups/{made['id']}"
    first = api.call("DELETE", path, key, {"reason": "left"}, idempotency_key="bye")
    again = api.call("DELETE", path, key, {"reason": "left"}, idempotency_key="bye")
    assert first == again and first[0] == 200
    status, answer = api.call("DELETE", path, key, {"reason": "other"}, idempotency_key="bye")
    assert status == 409 and answer["error"]["code"] == "idempotency_key_reused"


@pytest.mark.parametrize("bad", ["", "has space", "x" * 256, "caf\u00e9"])
def test_a_malformed_idempotency_key_is_400(api: Any, world: Any, bad: str) -> None:
    status, answer = api.call("POST", "/v1/signups", api.key(), body(), idempotency_key=bad)
    assert status == 400 and answer["error"]["code"] == "invalid_idempotency_key"
    assert world.store.get(NUMBER) is None


def test_a_partner_sign_up_past_the_daily_text_cap_is_429_not_500(
    api: Any, world: Any, lambda_context: Any, make_settings: Any
) -> None:
    # A partner re-posting a pending number asks for another text; the rolling-24-hour cap
    # stops it the same way as on the form (it was an unhandled error here: a 500).
    world.deps.settings = make_settings(max_confirmation_texts_per_day=1)
    key = api.key()
    assert api.call("POST", "/v1/signups", key, body())[0] == 202
    run_workflow_until_text(world, lambda_context)
    world.clock.advance(3600)
    status, headers, answer = api.full("POST", "/v1/signups", key, body())
    assert (status, answer["error"]["code"]) == (429, "daily_cap")
    assert answer["error"]["message"]
    assert headers["Retry-After"] == str(23 * 3600)
    assert len(world.sms.sent) == 1


def test_partner_refusals_by_the_cap_and_the_country_list_are_counted_as_blocked(
    api: Any, world: Any, lambda_context: Any, make_settings: Any
) -> None:
    limiter = MemoryRateLimiter()
    world.deps.limiter = limiter
    world.deps.settings = make_settings(max_confirmation_texts_per_day=1, signup_rate_limits=False)
    key = api.key()
    assert api.call("POST", "/v1/signups", key, body())[0] == 202
    run_workflow_until_text(world, lambda_context)
    world.clock.advance(3600)
    assert api.call("POST", "/v1/signups", key, body())[0] == 429
    status, answer = api.call("POST", "/v1/signups", key, body(phoneNumber="+447700900123"))
    assert (status, answer["error"]["code"]) == (400, "country_not_allowed")
    assert limiter.blocked([world.clock().date()]) == {"daily_cap": 1, "country_not_allowed": 1}
