"""HTTP/1.1 framing of the standalone Step Functions server (LocalHttpToolsProtocol: httptools
with the defences the runtime's h11 port has), byte for byte over raw sockets."""

from __future__ import annotations

import json
import pathlib
import socket
import time
from collections.abc import Iterator

import pytest

import local.stepfunctions.server as serving
from local.stepfunctions.server import Server
from tests.support import raw_http
from tests.support.raw_http import closed, read_response

ROLE = "arn:aws:iam::123456789012:role/test"
TARGET = "X-Amz-Target: AWSStepFunctions."
AWS_JSON = "Content-Type: application/x-amz-json-1.0"


@pytest.fixture
def server(tmp_path: pathlib.Path) -> Iterator[Server]:
    srv = Server(tmp_path / "sfn.db", port=0).start()
    yield srv
    srv.stop()


@pytest.fixture
def quick(monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path) -> Iterator[Server]:
    monkeypatch.setattr(serving, "HEADER_TIMEOUT_SECONDS", 0.5)
    monkeypatch.setattr(serving, "BODY_IDLE_TIMEOUT_SECONDS", 0.5)
    srv = Server(tmp_path / "sfn.db", port=0).start()
    yield srv
    srv.stop()


def connect(server: Server) -> socket.socket:
    return raw_http.connect(server.port)


def post(operation: str, body: bytes, *headers: str) -> bytes:
    lines = ["POST / HTTP/1.1", "Host: 127.0.0.1", AWS_JSON, TARGET + operation, *headers]
    return "\r\n".join([*lines, "", ""]).encode() + body


def machines(server: Server) -> list[object]:
    sock = connect(server)
    sock.sendall(post("ListStateMachines", b"{}", "Content-Length: 2"))
    status, _, body = read_response(sock)
    sock.close()
    assert status == 200
    return list(json.loads(body)["stateMachines"])


def create_body(name: str) -> bytes:
    definition = json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
    return json.dumps({"name": name, "definition": definition, "roleArn": ROLE}).encode()


def test_keep_alive_requests_are_answered_in_turn(server: Server) -> None:
    sock = connect(server)
    for _ in range(3):
        sock.sendall(post("ListStateMachines", b"{}", "Content-Length: 2"))
        status, headers, body = read_response(sock)
        assert status == 200 and json.loads(body) == {"stateMachines": []}
        assert headers["content-type"] == "application/x-amz-json-1.0"
    sock.close()


def test_a_chunked_body_is_decoded(server: Server) -> None:
    body = create_body("chunked")
    chunks = b"10\r\n" + body[:16] + b"\r\n" + f"{len(body) - 16:x}".encode()
    chunks += b"\r\n" + body[16:] + b"\r\n0\r\n\r\n"
    sock = connect(server)
    sock.sendall(post("CreateStateMachine", chunks, "Transfer-Encoding: chunked"))
    status, _, answer = read_response(sock)
    sock.close()
    assert status == 200, answer
    assert json.loads(answer)["stateMachineArn"].endswith(":chunked")


@pytest.mark.parametrize(
    "raw",
    [
        b"GARBAGE\r\n\r\n",
        b"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
    ],
    ids=["no-request-line", "negative-length"],
)
def test_a_malformed_request_gets_a_json_400_and_close(server: Server, raw: bytes) -> None:
    sock = connect(server)
    sock.sendall(raw)
    status, headers, body = read_response(sock)
    assert status == 400 and headers["content-type"] == "application/json"
    assert json.loads(body)["error"]["code"] == "bad_request"
    assert closed(sock)


def test_an_unknown_transfer_coding_is_a_json_501_and_nothing_is_done(server: Server) -> None:
    # llhttp would frame it as chunked and hand on a body nobody gunzipped.
    body = create_body("gzipped")
    chunked = f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n"
    sock = connect(server)
    sock.sendall(post("CreateStateMachine", chunked, "Transfer-Encoding: gzip, chunked"))
    status, headers, answer = read_response(sock)
    assert status == 501 and headers["content-type"] == "application/json"
    assert json.loads(answer)["error"]["code"] == "not_implemented"
    assert closed(sock)
    assert machines(server) == []


def test_oversized_headers_get_a_json_431_and_nothing_is_done(server: Server) -> None:
    body = create_body("too-big")
    raw = post("CreateStateMachine", body, f"Content-Length: {len(body)}", "X-Big: " + "a" * 20_000)
    sock = connect(server)
    sock.sendall(raw)
    status, headers, _ = read_response(sock)
    assert status == 431 and headers["content-type"] == "application/json"
    assert closed(sock)
    assert machines(server) == []


def test_an_idle_socket_is_closed(quick: Server) -> None:
    assert closed(connect(quick), within=3)


def test_headers_sent_too_slowly_get_408_and_close(quick: Server) -> None:
    sock = connect(quick)
    sock.sendall(b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    for _ in range(4):  # each byte in time, the whole too late
        time.sleep(0.2)
        try:
            sock.sendall(b"X")
        except OSError:
            break
    status, headers, _ = read_response(sock)
    assert status == 408 and headers["content-type"] == "application/json"
    assert closed(sock)


def test_a_body_that_stops_coming_is_408_and_does_nothing(quick: Server) -> None:
    body = create_body("half")
    sock = connect(quick)
    sock.sendall(post("CreateStateMachine", body[:20], f"Content-Length: {len(body)}"))
    status, _, _ = read_response(sock)
    assert status == 408
    assert closed(sock)
    assert machines(quick) == []


def test_the_server_s_sockets_skip_nagle(server: Server) -> None:
    # The protocol sets TCP_NODELAY: without it a response written in two parts waits ~40 ms
    # for the client's delayed ACK on every kept-alive call.
    assert serving.LocalHttpToolsProtocol.connection_made.__code__.co_names.count("enable_nodelay")
    sock = connect(server)
    started = time.perf_counter()
    for _ in range(20):
        sock.sendall(post("ListStateMachines", b"{}", "Content-Length: 2"))
        assert read_response(sock)[0] == 200
    sock.close()
    assert time.perf_counter() - started < 0.6  # 20 delayed ACKs would be 0.8 s
