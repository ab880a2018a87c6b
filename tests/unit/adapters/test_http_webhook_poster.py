"""The urllib3 poster against a real server on 127.0.0.1: what it sends, how it reports
answers, refusals and silence, and the address rule (loopback is refused unless allowed,
before anything is sent)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest

from optin.adapters.http_webhook_poster import HttpWebhookPoster
from tests.support.serving import QUICK_SHUTDOWN


class _Server:
    def __init__(self) -> None:
        self.status = 200
        self.delay = 0.0
        self.seen: list[dict[str, Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.seen.append({"path": self.path, "headers": dict(self.headers), "body": body})
                time.sleep(outer.delay)
                self.send_response(outer.status)
                if outer.status in (301, 302):
                    self.send_header("Location", "http://169.254.169.254/")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        self.httpd = HTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        threading.Thread(
            target=self.httpd.serve_forever, kwargs=QUICK_SHUTDOWN, daemon=True
        ).start()


@pytest.fixture
def server() -> Iterator[_Server]:
    made = _Server()
    yield made
    made.httpd.shutdown()
    made.httpd.server_close()


def test_posts_the_body_and_headers_once(server: _Server) -> None:
    poster = HttpWebhookPoster(allow_private=True)
    url = f"http://127.0.0.1:{server.port}/hooks?x=1"
    result = poster.post(url, b'{"a":1}', {"Content-Type": "application/json", "X-T": "v"})
    assert (result.status_code, result.error, result.permanent) == (200, None, False)
    [seen] = server.seen
    assert seen["path"] == "/hooks?x=1" and seen["body"] == b'{"a":1}'
    assert seen["headers"]["X-T"] == "v"
    assert seen["headers"]["Host"] == f"127.0.0.1:{server.port}"


@pytest.mark.parametrize("status", [500, 503, 302, 404])
def test_anything_but_2xx_is_a_failed_attempt_and_redirects_are_not_followed(
    server: _Server, status: int
) -> None:
    server.status = status
    result = HttpWebhookPoster(allow_private=True).post(
        f"http://127.0.0.1:{server.port}/", b"{}", {}
    )
    assert result.status_code == status and result.error == f"HTTP {status}"
    assert len(server.seen) == 1  # no retry of its own, no redirect followed


def test_a_refused_connection_and_a_timeout_have_no_status(server: _Server) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead = probe.getsockname()[1]
    refused = HttpWebhookPoster(allow_private=True).post(f"http://127.0.0.1:{dead}/", b"{}", {})
    assert refused.status_code is None and refused.error and not refused.permanent
    server.delay = 1.0
    slow = HttpWebhookPoster(allow_private=True, timeout=0.2).post(
        f"http://127.0.0.1:{server.port}/", b"{}", {}
    )
    assert slow.status_code is None and "Timeout" in (slow.error or "")


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_loopback_is_refused_before_sending_unless_allowed(server: _Server, host: str) -> None:
    result = HttpWebhookPoster(allow_private=False).post(
        f"https://{host}:{server.port}/", b"{}", {}
    )
    assert result.permanent and result.status_code is None
    assert "loopback" in (result.error or "")
    assert server.seen == []


def test_an_unknown_host_is_a_dns_failure() -> None:
    result = HttpWebhookPoster(allow_private=False).post("https://no-such-host.invalid/", b"", {})
    assert result.status_code is None and (result.error or "").startswith("DNS")
    assert not result.permanent  # DNS may come back
