"""`optin webhook …` against a fake partner API that serves the webhook surface
(/work/briefs' shared contract, docs/cli.md): the right method, path, query, body and key,
and the answers printed. The real routes are tested once they exist."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from click.testing import CliRunner

from optin_cli.main import cli
from tests.support.serving import QUICK_SHUTDOWN

KEY = "optin_0123456789abcdef_" + "x" * 43
DELIVERY = {
    "id": "dlv_1",
    "event": {"id": "evt_1", "type": "signup.confirmed", "createdAt": "2026-11-27T12:00:00Z"},
    "status": "failed",
    "attempts": [
        {"at": "2026-11-27T12:00:01Z", "statusCode": 500, "error": None, "durationMs": 40}
    ],
    "nextAttemptAt": None,
    "createdAt": "2026-11-27T12:00:00Z",
}


class FakeApi:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.routes: dict[tuple[str, str], tuple[int, Any]] = {}


@pytest.fixture
def api() -> Iterator[tuple[FakeApi, str]]:
    fake = FakeApi()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            path, _, query = self.path.partition("?")
            fake.requests.append(
                {
                    "method": self.command,
                    "path": path,
                    "query": query,
                    "key": self.headers.get("x-api-key"),
                    "body": json.loads(raw) if raw else None,
                }
            )
            status, body = fake.routes.get(
                (self.command, path), (404, {"error": "not_found", "message": "No such route."})
            )
            data = json.dumps(body).encode() if body is not None else b""
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_PUT = do_POST = do_DELETE = _answer

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs=QUICK_SHUTDOWN, daemon=True)
    thread.start()
    try:
        yield fake, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def run(url: str, *argv: str) -> Any:
    return CliRunner().invoke(cli, ["--api-url", url, "--api-key", KEY, "webhook", *argv])


def test_set_sends_url_and_events_and_shows_the_secret_once(api: tuple[FakeApi, str]) -> None:
    fake, url = api
    fake.routes[("PUT", "/v1/webhook")] = (
        200,
        {
            "url": "https://partner.example/hook",
            "events": ["signup.confirmed"],
            "createdAt": "2026-11-27T12:00:00Z",
            "secret": "whsec_abc",
        },
    )
    done = run(
        url, "set", "https://partner.example/hook", "--event", "signup.confirmed", "--rotate"
    )
    assert done.exit_code == 0, done.output
    [sent] = fake.requests
    assert sent["body"] == {"url": "https://partner.example/hook", "events": ["signup.confirmed"]}
    assert sent["query"] == "rotate=true" and sent["key"] == KEY
    assert "secret: whsec_abc" in done.output


def test_show_and_no_webhook(api: tuple[FakeApi, str]) -> None:
    fake, url = api
    done = run(url, "show")
    assert done.exit_code == 1
    assert "optin: error: not_found: No such route." in done.output
    fake.routes[("GET", "/v1/webhook")] = (
        200,
        {"url": "https://p.example/h", "events": ["signup.expired"], "createdAt": "T"},
    )
    done = run(url, "show", "--json")
    assert done.exit_code == 0 and json.loads(done.output)["url"] == "https://p.example/h"


def test_deliveries_lists_with_filters_and_the_next_cursor(api: tuple[FakeApi, str]) -> None:
    fake, url = api
    fake.routes[("GET", "/v1/webhook/deliveries")] = (
        200,
        {"deliveries": [DELIVERY], "nextCursor": "c2"},
    )
    done = run(url, "deliveries", "--status", "failed", "--limit", "5")
    assert done.exit_code == 0, done.output
    assert fake.requests[0]["query"] == "status=failed&limit=5"
    assert "dlv_1" in done.output and "signup.confirmed" in done.output and "500" in done.output
    assert "more: --cursor c2" in done.output


def test_replay_and_test(api: tuple[FakeApi, str]) -> None:
    fake, url = api
    fake.routes[("POST", "/v1/webhook/deliveries/dlv_1/replay")] = (
        202,
        {**DELIVERY, "status": "pending"},
    )
    fake.routes[("POST", "/v1/webhook/test")] = (202, {"deliveryId": "dlv_9"})
    done = run(url, "replay", "dlv_1")
    assert done.exit_code == 0 and "queued dlv_1 again (pending)" in done.output
    done = run(url, "test")
    assert done.exit_code == 0 and "dlv_9" in done.output
    done = run(url, "replay", "dlv_404")
    assert done.exit_code == 1


def test_bad_choices_are_usage_errors(api: tuple[FakeApi, str]) -> None:
    _, url = api
    done = run(url, "set", "https://p.example/h", "--event", "signup.maybe")
    assert done.exit_code == 2
    done = run(url, "deliveries", "--status", "lost")
    assert done.exit_code == 2
