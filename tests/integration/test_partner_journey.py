"""Issue 8's "done when", as one partner would live it, top to bottom, against the local
runtime: a key from the `optin` CLI; the OpenAPI document fetched with it, naming every
operation used below; a webhook to the partner's own receiver (on 127.0.0.1); a sign-up with
the partner's evidence; the number's YES through the SMS sandbox; the signed
`signup.confirmed` POST, checked with docs/webhooks.md's own snippet; the same
Idempotency-Key replaying the first answer and refusing another body; and a second partner
who can neither read, nor opt out, nor see the deliveries of the first one's sign-up."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from tests.support.cli import Optin, install
from tests.support.numbers import new_us_number
from tests.support.runtime import REPO_ROOT, LocalRuntime, wait_for
from tests.support.serving import QUICK_SHUTDOWN


def verify_webhook_from_the_docs() -> Any:
    """docs/webhooks.md's verification snippet, executed as a partner would paste it."""
    text = (REPO_ROOT / "docs" / "webhooks.md").read_text(encoding="utf-8")
    found = re.search(r"<!-- verify-snippet -->\n```python\n(.*?)```", text, re.S)
    assert found, "docs/webhooks.md lost its verification snippet"
    scope: dict[str, Any] = {}
    exec(compile(found[1], "docs/webhooks.md", "exec"), scope)
    return scope["verify_webhook"]


class PartnerReceiver:
    """The partner's endpoint: keeps each POST's headers and raw body, answers 200."""

    def __init__(self) -> None:
        self.posts: list[tuple[dict[str, str], bytes]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                outer.posts.append((dict(self.headers), raw))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/optin"
        threading.Thread(
            target=self.server.serve_forever, kwargs=QUICK_SHUTDOWN, daemon=True
        ).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[PartnerReceiver]:
    made = PartnerReceiver()
    yield made
    made.close()


@pytest.fixture
def optin(tmp_path: Path) -> Optin:
    return install(tmp_path / "optin-cli")


def test_a_partner_from_key_to_confirmed_webhook_kept_to_its_own(
    shared_runtime: LocalRuntime, optin: Optin, receiver: PartnerReceiver
) -> None:
    rt = shared_runtime
    where = ["--api-url", rt.base_url, "--data-dir", str(rt.data_dir)]
    if rt.dynamodb_endpoint:  # TEST_DYNAMODB=moto: the keys go where the runtime reads them
        where += ["--dynamodb-endpoint", rt.dynamodb_endpoint]

    def api(
        method: str, path: str, key: str, body: Any = None, **headers: str
    ) -> tuple[int, dict[str, str], Any]:
        status, answered, answer = rt.request(method, path, body, {"x-api-key": key, **headers})
        return status, {name.lower(): value for name, value in answered.items()}, answer

    # 1. The operator gives the partner a key made with the CLI (shown once).
    made = optin.run(*where, "keys", "create", "Acme checkout", "--key-only")
    assert made.returncode == 0, made.stderr
    acme = made.stdout.strip()
    assert re.fullmatch(r"optin_[0-9a-f]{16}_\S+", acme), acme

    # 2. The partner reads the contract: /v1/openapi.json, with the key (a 403 without it).
    assert rt.request("GET", "/v1/openapi.json", None, {})[0] == 403
    status, _, document = api("GET", "/v1/openapi.json", acme)
    assert status == 200 and document["openapi"].startswith("3.1")
    operations = {
        (method.upper(), path): operation["operationId"]
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if isinstance(operation, dict) and "operationId" in operation
    }
    used = [
        ("PUT", "/v1/webhook"),
        ("POST", "/v1/signups"),
        ("GET", "/v1/signups/{registrationId}"),
        ("GET", "/v1/signups"),
        ("DELETE", "/v1/signups/{registrationId}"),
        ("GET", "/v1/webhook/deliveries"),
        ("GET", "/v1/webhook/deliveries/{deliveryId}"),
        ("POST", "/v1/webhook/deliveries/{deliveryId}/replay"),
    ]
    assert all(operation in operations for operation in used), set(used) - set(operations)

    # 3. It registers its receiver for confirmations and keeps the signing secret.
    status, _, webhook = api(
        "PUT", "/v1/webhook", acme, {"url": receiver.url, "events": ["signup.confirmed"]}
    )
    assert status == 200, webhook
    secret = webhook["secret"]
    assert secret.startswith("whsec_")

    # 4. It signs a number up with its own consent evidence, under an Idempotency-Key.
    number = new_us_number()
    signup = {
        "phoneNumber": number,
        "firstName": "Ana",
        "source": "checkout",
        "consent": {
            "disclosureText": "Reply YES for Acme deals. Msg & data rates may apply.",
            "disclosureVersion": "acme-3",
            "capturedAt": datetime.now(UTC).replace(microsecond=0).isoformat(),
            "ip": "203.0.113.9",
            "userAgent": "Mozilla/5.0",
            "page": "https://shop.example/checkout",
        },
    }
    status, _, first = api("POST", "/v1/signups", acme, signup, **{"Idempotency-Key": "order-1"})
    assert status == 202 and first["status"] == "PENDING", first
    signup_id = first["id"]

    # 5. The person gets the text and replies YES (the SMS sandbox's phone).
    wait_for(lambda: rt.messages(number, "outbound"), timeout=20, what="the confirmation text")
    rt.text_in(number, "YES")

    # 6. The receiver gets one signed signup.confirmed POST; the docs' snippet verifies it.
    [(headers, raw)] = wait_for(lambda: receiver.posts, timeout=20, what="the webhook POST")
    verify_webhook = verify_webhook_from_the_docs()
    assert verify_webhook(secret, headers["Optin-Signature"], raw)
    assert not verify_webhook("whsec_someone-else", headers["Optin-Signature"], raw)
    event = json.loads(raw)
    assert event["type"] == "signup.confirmed" and headers["Optin-Event-Id"] == event["id"]
    assert event["data"] == {
        "signupId": signup_id,
        "status": "CONFIRMED",
        "phoneNumber": number,
        "reason": None,
    }
    status, _, view = api("GET", f"/v1/signups/{signup_id}", acme)
    assert status == 200 and view["status"] == "CONFIRMED"
    assert view["ledger"][0]["details"]["evidence"]["disclosure"]["version"] == "acme-3"

    # 7. A retry with the same Idempotency-Key and body gets the first answer, replayed;
    #    the same key with another body is refused.
    status, replay_headers, again = api(
        "POST", "/v1/signups", acme, signup, **{"Idempotency-Key": "order-1"}
    )
    assert (status, again) == (202, first)
    assert replay_headers["idempotent-replayed"] == "true"
    other_body = {**signup, "source": "pos"}
    status, _, refused = api(
        "POST", "/v1/signups", acme, other_body, **{"Idempotency-Key": "order-1"}
    )
    assert status == 409 and refused["error"]["code"] == "idempotency_key_reused"

    # 8. A second partner's key sees none of it: the sign-up, its number, its opt-out and its
    #    webhook delivery all answer as if they did not exist.
    made = optin.run(*where, "keys", "create", "Other shop", "--key-only")
    assert made.returncode == 0, made.stderr
    other = made.stdout.strip()
    for method, path, body in (
        ("GET", f"/v1/signups/{signup_id}", None),
        ("DELETE", f"/v1/signups/{signup_id}", {"reason": "not mine"}),
        ("GET", f"/v1/webhook/deliveries/{event['id']}", None),
        ("POST", f"/v1/webhook/deliveries/{event['id']}/replay", None),
    ):
        status, _, answer = api(method, path, other, body)
        assert status == 404 and answer["error"]["code"] == "not_found", (method, path, answer)
    status, _, found = api("GET", f"/v1/signups?phoneNumber={quote(number)}", other)
    assert status == 200 and found["signups"] == []
    status, _, log = api("GET", "/v1/webhook/deliveries", other)
    assert status == 200 and log["deliveries"] == []
    # …while the first partner still has all of it, untouched by the other's attempts.
    status, _, view = api("GET", f"/v1/signups/{signup_id}", acme)
    assert status == 200 and view["status"] == "CONFIRMED"
    status, _, mine = api("GET", f"/v1/webhook/deliveries/{event['id']}", acme)
    assert status == 200 and mine["event"] == event
