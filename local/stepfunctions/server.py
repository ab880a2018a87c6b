"""A standalone HTTP server for the Step Functions JSON API (no Lambda functions behind it)."""

from __future__ import annotations

import json
import pathlib
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .api import handle_request
from .invoker import LambdaServiceError
from .service import StepFunctionsService


class NoLambdas:
    """The standalone server has no functions: every invocation is ResourceNotFound."""

    def invoke(self, function_name: str, payload: Any) -> Any:
        raise LambdaServiceError(
            "Lambda.ResourceNotFoundException", f"Function not found: {function_name}"
        )


def make_handler(svc: StepFunctionsService) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body are two writes: with Nagle on, each keep-alive call waits ~40 ms.
        disable_nagle_algorithm = True

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            target = self.headers.get("X-Amz-Target", "")
            status, payload = handle_request(svc, target, body)
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/x-amz-json-1.0")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


class Server:
    """The service behind an HTTP server on a background thread (port 0 picks a free one)."""

    def __init__(
        self,
        db_path: pathlib.Path,
        port: int = 0,
        host: str = "127.0.0.1",
        invoker: Any = None,
        workers: int = 4,
        mock_config: pathlib.Path | dict[str, Any] | None = None,
    ) -> None:
        self.service = StepFunctionsService(
            db_path, invoker or NoLambdas(), workers=workers, mock_config=mock_config
        )
        self.httpd = ThreadingHTTPServer((host, port), make_handler(self.service))
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = f"http://{host}:{self.port}"
        self._thread: threading.Thread | None = None

    def start(self) -> Server:
        self.service.start()
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.service.stop()
