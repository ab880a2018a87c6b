"""The standalone server's app, at the HTTP level: what it refuses, and that the operations it
answers on the event loop's thread (INLINE_OPERATIONS) behave as the rest do."""

from __future__ import annotations

import json
import pathlib
import socket
from collections.abc import Iterator

import pytest

from local.stepfunctions.api import OPERATIONS, PREFIX
from local.stepfunctions.server import INLINE_OPERATIONS, Server

ROLE = "arn:aws:iam::123456789012:role/test"
PASS = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    db = pathlib.Path(tmp_path_factory.mktemp("sfn")) / "sfn.db"
    srv = Server(db, port=0).start()
    yield srv
    srv.stop()


def request(
    server: Server,
    body: bytes,
    target: str = "",
    *,
    method: str = "POST",
    path: str = "/",
    host: str = "127.0.0.1",
    content_type: str = "application/x-amz-json-1.0",
) -> tuple[int, dict[str, str], dict[str, object]]:
    head = [
        f"{method} {path} HTTP/1.1",
        f"Host: {host}",
        f"Content-Type: {content_type}",
        f"X-Amz-Target: {PREFIX}{target}",
        f"Content-Length: {len(body)}",
        "Connection: close",
        "",
        "",
    ]
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall("\r\n".join(head).encode() + body)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    raw_head, _, raw_body = data.partition(b"\r\n\r\n")
    lines = raw_head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(lines[0].split()[1]), headers, json.loads(raw_body)


def call(server: Server, target: str, payload: dict[str, object]) -> dict[str, object]:
    status, _, answer = request(server, json.dumps(payload).encode(), target)
    assert status == 200, answer
    return answer


def test_every_inline_operation_is_an_operation_of_the_api() -> None:
    # A misspelt name would quietly send the operation to the thread pool.
    assert {t.removeprefix(PREFIX) for t in INLINE_OPERATIONS} <= set(OPERATIONS)
    assert f"{PREFIX}DescribeExecution" in INLINE_OPERATIONS


def test_inline_and_pooled_operations_answer_alike(server: Server) -> None:
    definition = json.dumps(PASS)
    created = call(
        server, "CreateStateMachine", {"name": "app", "definition": definition, "roleArn": ROLE}
    )
    started = call(
        server, "StartExecution", {"stateMachineArn": created["stateMachineArn"], "input": "{}"}
    )
    status, headers, described = request(
        server, json.dumps({"executionArn": started["executionArn"]}).encode(), "DescribeExecution"
    )
    assert status == 200
    assert described["executionArn"] == started["executionArn"]
    assert headers["content-type"] == "application/x-amz-json-1.0"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-amzn-requestid"]
    status, _, missing = request(
        server,
        json.dumps({"executionArn": f"{started['executionArn']}x"}).encode(),
        "DescribeExecution",
    )
    assert (status, missing["__type"]) == (400, "ExecutionDoesNotExist")


@pytest.mark.parametrize(
    ("kwargs", "status", "kind"),
    [
        ({"host": "evil.example"}, 421, "MisdirectedRequest"),
        ({"path": "/other"}, 404, "UnknownOperationException"),
        ({"method": "PUT"}, 405, "MethodNotAllowed"),
        ({"content_type": "text/plain"}, 415, "UnsupportedMediaTypeException"),
    ],
)
def test_refusals_are_aws_shaped_json(
    server: Server, kwargs: dict[str, str], status: int, kind: str
) -> None:
    got, _, answer = request(server, b"{}", "DescribeExecution", **kwargs)
    assert (got, answer["__type"]) == (status, kind)
