"""HTTP/1.1 framing on the runtime's port, byte for byte (issue 6, point 1; RFC 9112).

Raw sockets, because an HTTP client library would frame the requests correctly and hide
exactly the defects under test. The port is the real front door (uvicorn + the runtime's app)
with recording fakes behind it: "nothing acted on" means no function, engine or sandbox call.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import local.stepfunctions.server as serving
from tests.integration.test_open_doors import Door, start_door
from tests.support import raw_http
from tests.support.raw_http import closed, read_response

INBOUND = b'{"from": "+12065550100", "body": "YES"}'


@pytest.fixture
def door(tmp_path: Path) -> Iterator[Door]:
    yield from start_door(tmp_path)


def connect(door: Door) -> socket.socket:
    return raw_http.connect(door.port)


def exchange(door: Door, raw: bytes) -> tuple[int, dict[str, str], Any, socket.socket]:
    sock = connect(door)
    sock.sendall(raw)
    status, headers, body = read_response(sock)
    is_json = headers.get("content-type", "").startswith("application/json")
    return status, headers, json.loads(body) if body and is_json else body, sock


def post(path: str, body: bytes, *headers: str) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", *headers, "", ""]
    return "\r\n".join(lines).encode() + body


# --- bodies: chunked, Content-Length ---


def test_a_chunked_body_is_decoded_not_read_as_the_next_request(door: Door) -> None:
    # The smuggling probe: before, the chunk lines were parsed as a second request.
    chunks = b"10\r\n" + INBOUND[:16] + b"\r\n" + f"{len(INBOUND) - 16:x}".encode()
    chunks += b"\r\n" + INBOUND[16:] + b"\r\n0\r\n\r\n"
    raw = post(
        "/sandbox/inbound", chunks, "Content-Type: application/json", "Transfer-Encoding: chunked"
    )
    status, _, body, sock = exchange(
        door, raw + b"GET /sandbox/conversations HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    )
    second = read_response(sock)
    sock.close()
    assert status == 202, body
    assert second[0] == 200
    assert len(json.loads(second[2])["conversations"]) == 1
    assert len(door.sandbox.messages("+12065550100")) == 1


@pytest.mark.parametrize(
    "framing",
    [
        ["Content-Length: -1"],
        ["Content-Length: +39"],
        ["Content-Length: 39", "Content-Length: 40"],
        ["Content-Length: 0x27"],
        ["Content-Length: 39", "Transfer-Encoding: chunked"],
    ],
    ids=["negative", "plus-sign", "two-differing", "hex", "with-transfer-encoding"],
)
def test_bad_or_conflicting_lengths_are_400_json_and_close(door: Door, framing: list[str]) -> None:
    raw = post("/sandbox/inbound", INBOUND, "Content-Type: application/json", *framing)
    status, headers, body, sock = exchange(door, raw)
    assert status == 400
    assert headers["content-type"] == "application/json"
    assert body["error"]["code"]
    assert closed(sock)
    assert not door.acted()


def test_an_unknown_transfer_coding_is_501_json(door: Door) -> None:
    raw = post("/sandbox/inbound", b"", "Transfer-Encoding: gzip, chunked")
    status, headers, _, sock = exchange(door, raw)
    assert status == 501 and headers["content-type"] == "application/json"
    assert closed(sock)


def test_a_client_that_aborts_mid_body_triggers_nothing(door: Door) -> None:
    signup = b'{"firstName": "Ada", "phoneNumber": "+12065550100", "consent": true}'
    for path, body in (("/signups", signup), ("/sandbox/inbound", INBOUND)):
        sock = connect(door)
        sock.sendall(post(path, body[: len(body) // 2], f"Content-Length: {len(body)}"))
        time.sleep(0.3)
        sock.close()
    time.sleep(0.5)
    assert not door.acted()


# --- request lines, methods, paths ---


@pytest.mark.parametrize(
    "raw",
    [
        b"GARBAGE\r\n\r\n",
        b"GET / HTTP/1.1\r\n\r\n",
        b"GET /\x80 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
    ],
    ids=["no-request-line", "no-host", "non-ascii-target"],
)
def test_a_malformed_request_gets_a_json_400(door: Door, raw: bytes) -> None:
    status, headers, body, sock = exchange(door, raw)
    assert status == 400 and headers["content-type"] == "application/json"
    assert body["error"]["code"] == "bad_request"
    assert closed(sock)


def test_oversized_headers_get_a_json_431(door: Door) -> None:
    big = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * 20_000 + b"\r\n\r\n"
    status, headers, _, _ = exchange(door, big)
    assert status == 431 and headers["content-type"] == "application/json"
    # Arriving in pieces, the headers overflow h11's buffer before they end.
    sock = connect(door)
    sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * 20_000)
    status, headers, _ = read_response(sock)
    assert status == 431 and headers["content-type"] == "application/json"


@pytest.mark.parametrize("path", ["/", "/disclosure", "/sandbox/conversations", "/css/app.css"])
def test_head_is_answered_wherever_get_is(door: Door, path: str) -> None:
    get = exchange(door, f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    sock = connect(door)
    sock.sendall(f"HEAD {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    sock.settimeout(2)
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, rest = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200") or head.startswith(b"HTTP/1.1 202")
    assert f"content-length: {get[1]['content-length']}".encode() in head.lower()
    assert rest == b""


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("DELETE", "/signups", "OPTIONS, POST"),
        ("PUT", "/sandbox/inbound", "POST"),
        ("POST", "/sandbox/conversations", "GET, HEAD"),
        ("POST", "/index.html", "GET, HEAD"),
        ("GET", "/", None),
    ],
)
def test_a_wrong_method_is_405_with_allow(
    door: Door, method: str, path: str, allow: str | None
) -> None:
    status, headers, body, _ = exchange(
        door, f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n".encode()
    )
    if allow is None:
        assert status == 200
        return
    assert status == 405, body
    assert headers["allow"] == allow
    assert body["error"]["code"] == "method_not_allowed"


@pytest.mark.parametrize(
    "path",
    ["/%00", "/" + "a" * 300, "/../../etc/passwd", "/..%2f..%2fetc%2fpasswd", "/%2e%2e/x", "/a%ff"],
)
def test_no_path_is_a_500(door: Door, path: str) -> None:
    status, headers, body, _ = exchange(
        door, f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()
    )
    assert status == 404, body
    assert headers["content-type"] == "application/json"


# --- connections: backlog, timeouts ---


def test_two_hundred_simultaneous_connections_are_all_answered(door: Door) -> None:
    results: list[int] = []
    lock = threading.Lock()
    start = threading.Event()

    def one() -> None:
        start.wait()
        try:
            sock = socket.create_connection(("127.0.0.1", door.port), timeout=20)
            sock.sendall(b"GET /favicon.svg HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            status = read_response(sock)[0]
            sock.close()
        except OSError:
            status = 0
        with lock:
            results.append(status)

    threads = [threading.Thread(target=one) for _ in range(200)]
    for thread in threads:
        thread.start()
    start.set()
    for thread in threads:
        thread.join(30)
    assert results.count(200) == 200, sorted(set(results))


def test_the_listen_backlog_is_somaxconn(door: Door, tmp_path: Path) -> None:
    server = serving.ThreadedServer(lambda *_: None, "127.0.0.1", 0)  # type: ignore[arg-type,return-value]
    try:
        assert server.backlog >= socket.SOMAXCONN
        assert server.config.backlog >= socket.SOMAXCONN
    finally:
        server.server_close()


@pytest.fixture
def quick_timeouts(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Door]:
    monkeypatch.setattr(serving, "HEADER_TIMEOUT_SECONDS", 0.5)
    monkeypatch.setattr(serving, "BODY_IDLE_TIMEOUT_SECONDS", 0.5)
    yield from start_door(tmp_path)


def test_an_idle_socket_is_closed(quick_timeouts: Door) -> None:
    sock = connect(quick_timeouts)
    assert closed(sock, within=3)


def test_headers_sent_too_slowly_get_408_and_close(quick_timeouts: Door) -> None:
    sock = connect(quick_timeouts)
    sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    for _ in range(4):  # each byte in time, the whole too late
        time.sleep(0.2)
        try:
            sock.sendall(b"X")
        except OSError:
            break
    status, headers, _ = read_response(sock)
    assert status == 408 and headers["content-type"] == "application/json"


def test_a_body_that_stops_coming_is_408_and_triggers_nothing(quick_timeouts: Door) -> None:
    sock = connect(quick_timeouts)
    sock.sendall(post("/sandbox/inbound", INBOUND[:10], f"Content-Length: {len(INBOUND)}"))
    status, _, _ = read_response(sock)
    assert status == 408
    assert closed(sock)
    assert not quick_timeouts.acted()


def test_accepted_connections_are_not_delayed_by_nagle() -> None:
    """The servers bind their own socket, so asyncio does not set TCP_NODELAY for them: the
    protocol must, or every keep-alive call waits ~40 ms for a delayed ACK."""
    from unittest import mock

    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    client = socket.create_connection(listener.getsockname())
    accepted, _ = listener.accept()
    try:
        assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 0
        transport = mock.Mock()
        transport.get_extra_info.side_effect = lambda key, default=None: (
            accepted if key == "socket" else default
        )
        serving.enable_nodelay(transport)
        assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
        assert serving.LocalH11Protocol.connection_made.__code__.co_names.count("enable_nodelay")
    finally:
        for sock in (client, accepted, listener):
            sock.close()
