"""Webhooks through the local runtime, to a real receiver (http.server on 127.0.0.1) that
checks every signature with the snippet docs/webhooks.md publishes: a partner's sign-up
confirmed by a text → one signed POST; a receiver that answers 503 or is down → retried with
backoff and delivered when it is back; a kill -9 between the change and the delivery loses
nothing; replay; another key sees nothing; bad input gets 4xx with a code.

Time is driven, not waited for: WebhookRetryBaseSeconds is a fraction of a second here, and
the tests invoke the dispatcher through the local Lambda Invoke API instead of waiting for
its one-minute schedule."""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest

from optin.domain.clock import from_iso
from tests.integration.test_partner_api import call, evidence_body, new_key
from tests.support.aws import local_client
from tests.support.numbers import new_us_number
from tests.support.runtime import REPO_ROOT, LocalRuntime, wait_for
from tests.support.serving import QUICK_SHUTDOWN

PARAMETERS = {"WebhookRetryBaseSeconds": "0.2"}


def _snippet() -> Any:
    text = (REPO_ROOT / "docs" / "webhooks.md").read_text()
    found = re.search(r"<!-- verify-snippet -->\n```python\n(.*?)```", text, re.S)
    assert found, "docs/webhooks.md lost its verification snippet"
    assert len([line for line in found[1].splitlines() if line.strip()]) <= 10
    scope: dict[str, Any] = {}
    exec(compile(found[1], "docs/webhooks.md", "exec"), scope)  # the doc's own code
    return scope["verify_webhook"]


verify_webhook = _snippet()


class Receiver:
    """A partner's endpoint. `answers`: status codes to give, in order (then 200)."""

    def __init__(self) -> None:
        self.secret = ""
        self.answers: list[int] = []
        self.received: list[dict[str, Any]] = []
        self.port = 0
        self._server: HTTPServer | None = None
        self.up()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/optin"

    def up(self) -> None:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                header = self.headers.get("Optin-Signature") or ""
                outer.received.append(
                    {
                        "path": self.path,
                        "headers": dict(self.headers),
                        "body": json.loads(body),
                        "verified": verify_webhook(outer.secret, header, body),
                        # The same snippet must refuse a body that was changed in transit.
                        "tampered": verify_webhook(outer.secret, header, body + b" "),
                    }
                )
                code = outer.answers.pop(0) if outer.answers else 200
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        self._server = HTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(
            target=self._server.serve_forever, kwargs=QUICK_SHUTDOWN, daemon=True
        ).start()

    def down(self) -> None:
        """Closed: connections are refused until `up()` (on the same port)."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    made = Receiver()
    yield made
    made.down()


@pytest.fixture(scope="module")
def rt(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRuntime]:
    runtime = LocalRuntime(
        Path(tmp_path_factory.mktemp("webhooks")) / "runtime", parameters=PARAMETERS
    )
    runtime.start()
    try:
        yield runtime
    finally:
        runtime.stop()


def register(rt: LocalRuntime, key: str, receiver: Receiver, **extra: Any) -> dict[str, Any]:
    status, _, made = call(rt, "PUT", "/v1/webhook", key, {"url": receiver.url, **extra})
    assert status == 200, made
    receiver.secret = made["secret"]
    return dict(made)


def dispatch(rt: LocalRuntime) -> dict[str, int]:
    """One sweep, now: what the one-minute schedule would do."""
    answer = local_client("lambda", rt.base_url).invoke(
        FunctionName="WebhookDispatchFunction", Payload=b"{}"
    )
    assert "FunctionError" not in answer, answer["Payload"].read()
    return dict(json.loads(answer["Payload"].read()))


def delivery(rt: LocalRuntime, key: str, delivery_id: str) -> dict[str, Any]:
    status, _, found = call(rt, "GET", f"/v1/webhook/deliveries/{delivery_id}", key)
    assert status == 200, found
    return dict(found)


def confirm(rt: LocalRuntime, key: str) -> tuple[str, str]:
    number = new_us_number()
    status, _, made = call(rt, "POST", "/v1/signups", key, evidence_body(number))
    assert status == 202, made
    wait_for(lambda: rt.messages(number, "outbound"), timeout=20, what="confirmation text")
    rt.text_in(number, "YES")
    return number, str(made["id"])


def test_a_confirmed_partner_sign_up_is_one_signed_post(
    rt: LocalRuntime, receiver: Receiver
) -> None:
    _, key = new_key(rt, "Acme")
    register(rt, key, receiver, events=["signup.confirmed"])
    number, signup_id = confirm(rt, key)
    # No sweep invoked: the save's nudge (an asynchronous Invoke) sends it.
    [got] = wait_for(lambda: receiver.received, timeout=20, what="the webhook")
    assert got["verified"] and not got["tampered"]
    assert got["path"] == "/hooks/optin"
    assert got["headers"]["Content-Type"] == "application/json"
    event = got["body"]
    assert got["headers"]["Optin-Event-Id"] == event["id"]
    assert event["type"] == "signup.confirmed"
    assert event["data"] == {
        "signupId": signup_id,
        "status": "CONFIRMED",
        "phoneNumber": number,
        "reason": None,
    }
    # The event is the ledger's: its id is the `confirmed` entry of the sign-up's ledger.
    status, _, view = call(rt, "GET", f"/v1/signups/{signup_id}", key)
    confirmed = [e for e in view["ledger"] if e["type"] == "confirmed"]
    assert status == 200 and confirmed[0]["eventId"] == event["id"]
    found = wait_for(
        lambda: delivery(rt, key, event["id"])["status"] == "delivered" or None,
        what="delivered status",
    )
    assert found
    logged = rt.log()
    assert receiver.secret not in logged and key not in logged


def test_retried_with_backoff_while_the_receiver_fails_then_delivered(
    rt: LocalRuntime, receiver: Receiver
) -> None:
    _, key = new_key(rt, "Acme")
    register(rt, key, receiver)
    receiver.answers = [503, 503]
    status, _, queued = call(rt, "POST", "/v1/webhook/test", key)
    assert status == 202, queued
    delivery_id = queued["deliveryId"]
    wait_for(lambda: len(receiver.received) >= 1, what="first attempt (nudged)")
    deadline = time.monotonic() + 20
    while len(receiver.received) < 2 and time.monotonic() < deadline:
        dispatch(rt)
        time.sleep(0.2)
    receiver.down()  # refused connections for the next attempts
    while len(delivery(rt, key, delivery_id)["attempts"]) < 4 and time.monotonic() < deadline:
        dispatch(rt)
        time.sleep(0.2)
    receiver.up()
    while delivery(rt, key, delivery_id)["status"] != "delivered" and time.monotonic() < deadline:
        dispatch(rt)
        time.sleep(0.2)
    found = delivery(rt, key, delivery_id)
    assert found["status"] == "delivered" and found["nextAttemptAt"] is None
    codes = [attempt["statusCode"] for attempt in found["attempts"]]
    assert codes[:2] == [503, 503] and codes[-1] == 200
    refused = [a for a in found["attempts"] if a["statusCode"] is None]
    assert len(refused) >= 2 and all(a["error"] for a in refused)
    # Backoff: each wait at least 80% of the one before doubled (0.2 s, 0.4 s, 0.8 s…).
    times = [from_iso(attempt["at"]) for attempt in found["attempts"]]
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(times)]
    for n, gap in enumerate(gaps[:3]):
        assert gap >= 0.2 * 2**n * 0.8, (n, gaps)
    assert all(r["verified"] for r in receiver.received)


def test_replay_and_another_key(rt: LocalRuntime, receiver: Receiver) -> None:
    _, key = new_key(rt, "Acme")
    _, other = new_key(rt, "Other")
    register(rt, key, receiver)
    _, _, queued = call(rt, "POST", "/v1/webhook/test", key)
    delivery_id = queued["deliveryId"]
    wait_for(lambda: delivery(rt, key, delivery_id)["status"] == "delivered" or None)
    for method, path in (
        ("GET", f"/v1/webhook/deliveries/{delivery_id}"),
        ("POST", f"/v1/webhook/deliveries/{delivery_id}/replay"),
    ):
        status, _, refused = call(rt, method, path, other)
        assert status == 404 and refused["error"]["code"] == "not_found"
    status, _, listed = call(rt, "GET", "/v1/webhook/deliveries", other)
    assert status == 200 and listed["deliveries"] == []
    status, _, replayed = call(rt, "POST", f"/v1/webhook/deliveries/{delivery_id}/replay", key)
    assert status == 202 and replayed["status"] == "pending"
    wait_for(lambda: len(receiver.received) == 2, what="the replayed POST")
    done = wait_for(lambda: delivery(rt, key, delivery_id)["status"] == "delivered" or None)
    assert done and len(delivery(rt, key, delivery_id)["attempts"]) == 2
    assert receiver.received[0]["body"]["id"] == receiver.received[1]["body"]["id"]
    status, _, mine = call(rt, "GET", "/v1/webhook/deliveries?status=delivered", key)
    assert [d["id"] for d in mine["deliveries"]] == [delivery_id]


def test_bad_requests_get_4xx_with_a_code(rt: LocalRuntime) -> None:
    _, key = new_key(rt, "Acme")
    url = "https://hooks.example.com/in"
    cases: list[tuple[bytes, str, int, str]] = [
        (b'{"url": "no scheme"}', "application/json", 400, "invalid_url"),
        (json.dumps({"url": url, "events": ["signup.lost"]}).encode(), "application/json", 400,
         "unknown_event_type"),
        (b'{"url": "https://a.example/", "url": "https://b.example/"}', "application/json", 400,
         "duplicate_key"),
        (json.dumps({"url": url}).encode(), "text/plain", 415, "unsupported_media_type"),
    ]  # fmt: skip
    for raw, content_type, status, code in cases:
        got, _, answer = rt.request(
            "PUT", "/v1/webhook", raw=raw, headers={"x-api-key": key, "Content-Type": content_type}
        )
        assert (got, answer["error"]["code"]) == (status, code), answer
    status, _, answer = call(rt, "POST", "/v1/webhook/test", key)
    assert status == 404 and answer["error"]["code"] == "no_webhook"
    status, _, answer = call(rt, "GET", "/v1/webhook", None)
    assert status == 403


def test_without_the_switch_only_public_https_urls_are_taken(tmp_path: Path) -> None:
    """As deployed: local/env.json's WEBHOOK_ALLOW_PRIVATE_TARGETS=true taken out."""
    defaults = json.loads((REPO_ROOT / "local" / "env.json").read_text())
    defaults["Parameters"]["WEBHOOK_ALLOW_PRIVATE_TARGETS"] = "false"
    env_file = tmp_path / "env.json"
    env_file.write_text(json.dumps(defaults))
    with LocalRuntime(tmp_path / "runtime", env_vars=env_file) as strict:
        _, key = new_key(strict, "Acme")
        for url, code in (
            ("http://hooks.example.com/in", "https_required"),
            ("https://127.0.0.1:8443/in", "private_address"),
            ("https://10.1.2.3/in", "private_address"),
            ("https://169.254.169.254/latest/meta-data/", "private_address"),
            ("https://localhost/in", "private_address"),
        ):
            status, _, answer = call(strict, "PUT", "/v1/webhook", key, {"url": url})
            assert (status, answer["error"]["code"]) == (400, code), (url, answer)
        status, _, made = call(strict, "PUT", "/v1/webhook", key, {"url": "https://example.com/"})
        assert status == 200 and made["url"] == "https://example.com/"


@pytest.mark.slow
def test_a_kill_between_the_change_and_the_delivery_loses_nothing(
    tmp_path: Path, receiver: Receiver
) -> None:
    with LocalRuntime(tmp_path / "runtime", parameters=PARAMETERS) as rt:
        _, key = new_key(rt, "Acme")
        register(rt, key, receiver)
        receiver.down()  # the status change lands; its delivery cannot go out
        _number, signup_id = confirm(rt, key)
        wait_for(
            lambda: (
                call(rt, "GET", f"/v1/signups/{signup_id}", key)[2]["status"] == "CONFIRMED" or None
            ),
            what="CONFIRMED",
        )
        # Written with the change, in its transaction: there before any attempt succeeds.
        status, _, listed = call(rt, "GET", "/v1/webhook/deliveries", key)
        assert status == 200 and [d["status"] for d in listed["deliveries"]] == ["pending"]
        rt.kill()  # SIGKILL: no clean shutdown, no flush
        receiver.up()
        rt.start()
        deadline = time.monotonic() + 20
        while not receiver.received and time.monotonic() < deadline:
            dispatch(rt)
            time.sleep(0.2)
        [got] = receiver.received
        assert got["verified"] and got["body"]["type"] == "signup.confirmed"
        assert got["body"]["data"]["signupId"] == signup_id
        found = delivery(rt, key, got["body"]["id"])
        assert found["status"] == "delivered"
        assert listed["deliveries"][0]["id"] == got["body"]["id"]
