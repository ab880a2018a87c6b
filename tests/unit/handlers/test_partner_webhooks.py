"""Webhook routes and the dispatcher against the in-memory stores, a fake POST and a fake
nudge: a partner's sign-up ending becomes one signed POST, failures are retried with backoff
and logged, replays re-send, another key sees nothing, bad input gets 4xx with a code."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest

from optin.domain import webhook_signature
from optin.handlers import webhook_dispatch
from optin.ports.webhooks import PostResult
from optin.usecases.webhooks import OutboxContactStore
from tests.fakes.api_keys import MemoryApiKeyStore
from tests.fakes.idempotency import MemoryPersistenceLayer

NUMBER = "+12065550100"
HOOK = "https://hooks.example.com/in"


@dataclass
class FakePoster:
    answers: list[int | None] = field(default_factory=list)  # None: no answer (refused)
    sent: list[tuple[str, bytes, dict[str, str]]] = field(default_factory=list)

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> PostResult:
        self.sent.append((url, body, headers))
        code = self.answers.pop(0) if self.answers else 200
        if code is None:
            return PostResult(None, "ConnectionRefusedError", 1)
        return PostResult(code, None if code < 300 else f"HTTP {code}", 7)


@dataclass
class CountingNudge:
    count: int = 0
    fail: bool = False

    def nudge(self) -> None:
        self.count += 1
        if self.fail:
            raise RuntimeError("Lambda is down")


@pytest.fixture
def api(world: Any, lambda_context: Any, call_partner_api: Any) -> Any:
    world.deps.api_keys = MemoryApiKeyStore()
    world.deps.idempotency = MemoryPersistenceLayer()
    world.deps.webhook_store = world.store.webhooks
    world.deps.webhook_poster = FakePoster()
    world.deps.nudger = CountingNudge()
    world.deps.store = OutboxContactStore(
        world.store, world.store.webhooks, world.deps.nudger, world.clock
    )

    class Api:
        poster: FakePoster = world.deps.webhook_poster
        nudger: CountingNudge = world.deps.nudger

        def key(self, name: str = "Acme") -> str:
            return str(world.deps.partners.create_key(name).key)

        def call(
            self,
            method: str,
            path: str,
            key: str | None,
            payload: Any = None,
            query: dict[str, str] | None = None,
            raw: str | None = None,
            content_type: str | None = "application/json",
        ) -> tuple[int, dict[str, Any]]:
            headers = {"x-api-key": key} if key else {}
            if content_type:
                headers["Content-Type"] = content_type
            raw_body = (
                raw if raw is not None else (None if payload is None else json.dumps(payload))
            )
            status, _, answer = call_partner_api(method, path, headers, raw_body, query)
            return status, json.loads(answer or "null") or {}

        def dispatch(self) -> dict[str, int]:
            return dict(webhook_dispatch.handler({"source": "aws.events"}, lambda_context))

    return Api()


def signup(api: Any, key: str) -> str:
    status, made = api.call(
        "POST",
        "/v1/signups",
        key,
        {
            "phoneNumber": NUMBER,
            "consent": {
                "disclosureText": "Reply YES for Acme deals.",
                "disclosureVersion": "acme-3",
                "capturedAt": "2026-11-01T11:59:00Z",
            },
        },
    )
    assert status == 202
    return str(made["id"])


def test_endpoint_lifecycle_and_the_secret_shown_only_when_new(api: Any) -> None:
    key = api.key()
    status, answer = api.call("GET", "/v1/webhook", key)
    assert status == 404 and answer["error"]["code"] == "no_webhook"
    status, made = api.call("PUT", "/v1/webhook", key, {"url": HOOK})
    assert status == 200 and made["secret"].startswith("whsec_")
    assert made["events"] == ["signup.confirmed", "signup.expired", "signup.opted_out",
                              "signup.rejected"]  # fmt: skip
    status, again = api.call("PUT", "/v1/webhook", key, {"url": HOOK, "events": ["signup.expired"]})
    assert status == 200 and "secret" not in again and again["events"] == ["signup.expired"]
    status, rotated = api.call("PUT", "/v1/webhook", key, {"url": HOOK}, query={"rotate": "true"})
    assert rotated["secret"] != made["secret"]
    status, shown = api.call("GET", "/v1/webhook", key)
    assert status == 200 and "secret" not in shown and shown["url"] == HOOK
    status, _ = api.call("DELETE", "/v1/webhook", key)
    assert status == 204
    assert api.call("GET", "/v1/webhook", key)[0] == 404


def test_an_opt_out_is_one_signed_post_with_the_payload(api: Any, world: Any) -> None:
    key = api.key()
    _, made = api.call("PUT", "/v1/webhook", key, {"url": HOOK})
    registration = signup(api, key)
    assert api.nudger.count == 0  # a request is not an ending: nothing written, no nudge
    status, _ = api.call("DELETE", f"/v1/signups/{registration}", key, {"reason": "left"})
    assert status == 200 and api.nudger.count == 1
    assert api.dispatch()["delivered"] == 1
    [(url, body, headers)] = api.poster.sent
    assert url == HOOK and headers["Content-Type"] == "application/json"
    now = int(world.clock().timestamp())
    webhook_signature.verify(made["secret"], headers["Optin-Signature"], body, now=now)
    event = json.loads(body)
    assert headers["Optin-Event-Id"] == event["id"]
    assert event["type"] == "signup.opted_out"
    assert event["data"] == {
        "signupId": registration,
        "status": "OPTED_OUT",
        "phoneNumber": NUMBER,
        "reason": "left",
    }
    # The same ledger event id: the delivery is the opt-out's.
    ledger = [e for e in world.store.events(NUMBER) if e.type == "opted_out"]
    assert event["id"] == ledger[0].event_id
    assert api.dispatch()["attempted"] == 0  # delivered: never sent twice


def test_failures_retry_with_backoff_and_are_logged(api: Any, world: Any) -> None:
    key = api.key()
    api.call("PUT", "/v1/webhook", key, {"url": HOOK})
    api.poster.answers = [503, None, 500, 204]
    _, queued = api.call("POST", "/v1/webhook/test", key)
    assert api.dispatch() == {"attempted": 1, "delivered": 0, "retrying": 1, "failed": 0,
                              "skipped": 0}  # fmt: skip
    assert api.dispatch()["attempted"] == 0  # not due before its backoff
    for delay in (30, 60, 120):
        world.clock.advance(delay)
        api.dispatch()
    status, delivery = api.call("GET", f"/v1/webhook/deliveries/{queued['deliveryId']}", key)
    assert status == 200 and delivery["status"] == "delivered"
    assert [a["statusCode"] for a in delivery["attempts"]] == [503, None, 500, 204]
    assert [a["error"] for a in delivery["attempts"]][:3] == [
        "HTTP 503",
        "ConnectionRefusedError",
        "HTTP 500",
    ]
    assert delivery["nextAttemptAt"] is None and delivery["event"]["type"] == "webhook.test"
    assert delivery["event"]["data"] == {}  # about no sign-up


def test_replay_sends_again_and_another_key_sees_nothing(api: Any) -> None:
    mine, theirs = api.key("Acme"), api.key("Other")
    api.call("PUT", "/v1/webhook", mine, {"url": HOOK})
    _, queued = api.call("POST", "/v1/webhook/test", mine)
    delivery_id = queued["deliveryId"]
    api.dispatch()
    for method, path in (
        ("GET", f"/v1/webhook/deliveries/{delivery_id}"),
        ("POST", f"/v1/webhook/deliveries/{delivery_id}/replay"),
    ):
        status, answer = api.call(method, path, theirs)
        assert status == 404 and answer["error"]["code"] == "not_found"
    status, listed = api.call("GET", "/v1/webhook/deliveries", theirs)
    assert status == 200 and listed == {"deliveries": [], "nextCursor": None}
    status, replayed = api.call("POST", f"/v1/webhook/deliveries/{delivery_id}/replay", mine)
    assert status == 202 and replayed["status"] == "pending"
    api.dispatch()
    assert len(api.poster.sent) == 2
    status, listed = api.call("GET", "/v1/webhook/deliveries", mine, query={"status": "delivered"})
    [delivery] = listed["deliveries"]
    assert len(delivery["attempts"]) == 2


def test_no_endpoint_means_no_delivery_and_no_nudge(api: Any, world: Any) -> None:
    key = api.key()
    registration = signup(api, key)
    api.call("DELETE", f"/v1/signups/{registration}", key, {"reason": "left"})
    assert api.nudger.count == 0
    assert world.store.webhooks.due(world.clock(), limit=10) == []


def test_a_failed_nudge_does_not_fail_the_save(api: Any) -> None:
    key = api.key()
    api.call("PUT", "/v1/webhook", key, {"url": HOOK})
    api.nudger.fail = True
    registration = signup(api, key)
    status, view = api.call("DELETE", f"/v1/signups/{registration}", key, {"reason": "left"})
    assert status == 200 and view["status"] == "OPTED_OUT"
    assert api.dispatch()["delivered"] == 1  # the sweep catches up


def test_an_endpoint_removed_before_dispatch_fails_the_delivery(api: Any) -> None:
    key = api.key()
    api.call("PUT", "/v1/webhook", key, {"url": HOOK})
    _, queued = api.call("POST", "/v1/webhook/test", key)
    api.call("DELETE", "/v1/webhook", key)
    assert api.dispatch()["failed"] == 1 and api.poster.sent == []
    _, delivery = api.call("GET", f"/v1/webhook/deliveries/{queued['deliveryId']}", key)
    assert (
        delivery["status"] == "failed" and "No webhook endpoint" in delivery["attempts"][0]["error"]
    )


@pytest.mark.parametrize(
    ("method", "path", "payload", "kwargs", "status", "code"),
    [
        ("PUT", "/v1/webhook", {"url": "not a url"}, {}, 400, "invalid_url"),
        ("PUT", "/v1/webhook", {"url": "http://hooks.example.com/"}, {}, 400, "https_required"),
        ("PUT", "/v1/webhook", {"url": "https://10.0.0.1/"}, {}, 400, "private_address"),
        ("PUT", "/v1/webhook", {"url": "https://169.254.169.254/"}, {}, 400, "private_address"),
        ("PUT", "/v1/webhook", {"url": HOOK, "events": ["signup.nope"]}, {}, 400,
         "unknown_event_type"),
        ("PUT", "/v1/webhook", {"url": HOOK, "events": []}, {}, 400, "invalid_events"),
        ("PUT", "/v1/webhook", {"url": HOOK, "extra": 1}, {}, 400, "unknown_field"),
        ("PUT", "/v1/webhook", None, {"raw": '{"url":"https://a.example/","url":"https://b.example/"}'},
         400, "duplicate_key"),
        ("PUT", "/v1/webhook", None, {"raw": "{nope"}, 400, "invalid_json"),
        ("PUT", "/v1/webhook", None, {"raw": "[1]"}, 400, "body_not_object"),
        ("PUT", "/v1/webhook", {"url": HOOK}, {"content_type": "text/plain"}, 415,
         "unsupported_media_type"),
        ("PUT", "/v1/webhook", {"url": HOOK}, {"content_type": None}, 415,
         "unsupported_media_type"),
        ("PUT", "/v1/webhook", {"url": HOOK}, {"query": {"rotate": "yes"}}, 400, "invalid_rotate"),
        ("POST", "/v1/webhook/test", None, {}, 404, "no_webhook"),
        ("GET", "/v1/webhook/deliveries", None, {"query": {"status": "lost"}}, 400,
         "invalid_status"),
        ("GET", "/v1/webhook/deliveries", None, {"query": {"limit": "0"}}, 400, "invalid_limit"),
        ("GET", "/v1/webhook/deliveries", None, {"query": {"limit": "x"}}, 400, "invalid_limit"),
        ("GET", "/v1/webhook/deliveries", None, {"query": {"cursor": "zzz"}}, 400,
         "invalid_cursor"),
        ("GET", "/v1/webhook/deliveries/nope", None, {}, 404, "not_found"),
        ("POST", "/v1/webhook/deliveries/nope/replay", None, {}, 404, "not_found"),
    ],
)  # fmt: skip
def test_bad_requests_get_a_4xx_with_a_code(
    api: Any,
    method: str,
    path: str,
    payload: Any,
    kwargs: dict[str, Any],
    status: int,
    code: str,
) -> None:
    got, answer = api.call(method, path, api.key(), payload, **kwargs)
    assert (got, answer["error"]["code"]) == (status, code)
    assert answer["error"]["message"]


def test_every_route_needs_a_valid_key(api: Any) -> None:
    for method, path in (
        ("PUT", "/v1/webhook"),
        ("GET", "/v1/webhook"),
        ("DELETE", "/v1/webhook"),
        ("POST", "/v1/webhook/test"),
        ("GET", "/v1/webhook/deliveries"),
        ("GET", "/v1/webhook/deliveries/x"),
        ("POST", "/v1/webhook/deliveries/x/replay"),
    ):
        status, answer = api.call(method, path, "ok_nope.nope", {"url": HOOK})
        assert status == 403 and answer["error"]["code"] == "invalid_api_key"
