"""The standalone engine's Invoke API client reads Lambda's answers as Step Functions does."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from local.stepfunctions import LambdaFunctionError, LambdaServiceError
from local.stepfunctions.lambda_endpoint import LambdaEndpointInvoker
from tests.support.serving import QUICK_SHUTDOWN


class Answer:
    body: ClassVar[dict[str, object]] = {}
    function_error: ClassVar[str | None] = None


@pytest.fixture
def endpoint() -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            data = json.dumps(Answer.body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            if Answer.function_error:
                self.send_header("X-Amz-Function-Error", Answer.function_error)
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, kwargs=QUICK_SHUTDOWN, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.mark.parametrize("error_type", ["Sandbox.Timedout", "Runtime.ExitError"])
def test_failures_outside_the_handler_are_lambda_unknown(endpoint: str, error_type: str) -> None:
    Answer.body = {"errorType": error_type, "errorMessage": "Task timed out after 1.00 seconds"}
    Answer.function_error = "Unhandled"
    with pytest.raises(LambdaServiceError) as caught:
        LambdaEndpointInvoker(endpoint).invoke("f", {})
    assert caught.value.error == "Lambda.Unknown"
    assert json.loads(caught.value.cause)["errorType"] == error_type


def test_a_handler_error_keeps_its_type(endpoint: str) -> None:
    Answer.body = {"errorType": "OptedOut", "errorMessage": "STOP", "stackTrace": []}
    Answer.function_error = "Unhandled"
    with pytest.raises(LambdaFunctionError) as caught:
        LambdaEndpointInvoker(endpoint).invoke("f", {})
    assert caught.value.error_type == "OptedOut"


def test_a_result_is_returned(endpoint: str) -> None:
    Answer.body = {"status": "PENDING"}
    Answer.function_error = None
    assert LambdaEndpointInvoker(endpoint).invoke("f", {}) == {"status": "PENDING"}
