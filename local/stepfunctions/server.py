"""HTTP serving for the local APIs: uvicorn, run on a background thread.

`ThreadedServer` is what both the standalone Step Functions server (below) and the local
runtime's port (local/runtime/http_api.py) run on. The runtime's port uses uvicorn's h11
protocol, which does RFC 9112 framing (chunked bodies decoded, bad or conflicting
Content-Length refused); the subclass adds what it lacks here: a header timeout and an
idle-body timeout (uvicorn only times out idle keep-alive connections), and JSON bodies for the
errors the server answers itself. The standalone Step Functions server uses uvicorn's
httptools protocol (llhttp, in C) with the same additions (LocalHttpToolsProtocol), for speed.
"""

from __future__ import annotations

import asyncio
import json
import logging
import pathlib
import socket
import threading
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import h11
import uvicorn
from starlette.concurrency import run_in_threadpool
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from local.runtime.security import HostPolicy, security_headers

from .api import handle_request
from .invoker import LambdaServiceError
from .service import DEFAULT_WORKERS, StepFunctionsService

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
AsgiApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# From the first byte of a request to the end of its headers (a slow-headers client holds a
# connection otherwise); between two reads of a body; between requests on a kept-alive socket.
HEADER_TIMEOUT_SECONDS = 10.0
BODY_IDLE_TIMEOUT_SECONDS = 30.0
KEEP_ALIVE_SECONDS = 5
MAX_HEADER_BYTES = 16 * 1024

# uvicorn logs every start and stop at INFO; the runtime's banner says what matters.
logging.getLogger("uvicorn").setLevel(logging.WARNING)
logging.getLogger("uvicorn.error").setLevel(logging.WARNING)

_REASONS = {400: "Bad Request", 408: "Request Timeout", 431: "Request Header Fields Too Large"}
_CODES = {
    400: "bad_request",
    408: "request_timeout",
    431: "request_header_fields_too_large",
    501: "not_implemented",
}


def raw_json_error(status: int, message: str) -> bytes:
    """A complete HTTP/1.1 error response that closes the connection, as bytes: for the
    errors found before there is a request for h11 to answer."""
    body = json.dumps({"error": {"code": _CODES.get(status, "bad_request"), "message": message}})
    data = body.encode()
    head = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}"]
    head += ["content-type: application/json", f"content-length: {len(data)}"]
    head += [f"{k.lower()}: {v}" for k, v in security_headers(page=False).items()]
    head += ["connection: close", "", ""]
    return "\r\n".join(head).encode() + data


def enable_nodelay(transport: asyncio.BaseTransport) -> None:
    """asyncio sets TCP_NODELAY only on sockets created with proto=IPPROTO_TCP, and ours is
    bound by hand. Without it, a response written in two parts waits for the client's
    delayed ACK: 40 ms on every keep-alive call boto3 makes (measured: 44 ms → 1.4 ms)."""
    sock = transport.get_extra_info("socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class LocalH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with header and body timeouts and JSON error answers."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        enable_nodelay(transport)
        self._last_error: h11.RemoteProtocolError | None = None
        self._header_timer: asyncio.TimerHandle | None = None
        self._body_timer: asyncio.TimerHandle | None = None
        next_event = self.conn.next_event

        def remembering_next_event() -> Any:
            # uvicorn turns every protocol error into a text 400; keep h11's status hint
            # (431 for oversized headers, 501 for an unknown Transfer-Encoding).
            try:
                return next_event()
            except h11.RemoteProtocolError as error:
                self._last_error = error
                raise

        self.conn.next_event = remembering_next_event  # type: ignore[method-assign]
        # A connection that never sends a byte is timed out like one that sends too slowly.
        self._arm_header_timer()

    def data_received(self, data: bytes) -> None:
        if self.conn.their_state is h11.IDLE and self._header_timer is None:
            self._arm_header_timer()
        try:
            super().data_received(data)
        except UnicodeDecodeError:
            # A request target h11 accepts but that is not ASCII: answer rather than drop.
            self._reply_and_close(400, "The request target is not ASCII.")
            return
        state = self.conn.their_state
        if state is not h11.IDLE:
            self._cancel("_header_timer")
        if state is h11.SEND_BODY:
            self._cancel("_body_timer")
            self._body_timer = self.loop.call_later(BODY_IDLE_TIMEOUT_SECONDS, self._timed_out)
        else:
            self._cancel("_body_timer")

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel("_header_timer")
        self._cancel("_body_timer")
        super().connection_lost(exc)

    def send_400_response(self, msg: str) -> None:
        error = self._last_error
        status = error.error_status_hint if error is not None else 400
        detail = str(error) if error is not None else msg
        self._reply_and_close(status if status in (400, 431, 501) else 400, detail)

    def _arm_header_timer(self) -> None:
        self._cancel("_header_timer")
        self._header_timer = self.loop.call_later(HEADER_TIMEOUT_SECONDS, self._timed_out)

    def _cancel(self, name: str) -> None:
        timer: asyncio.TimerHandle | None = getattr(self, name, None)
        if timer is not None:
            timer.cancel()
            setattr(self, name, None)

    def _timed_out(self) -> None:
        if self.transport.is_closing():
            return
        state = self.conn.their_state
        if state is h11.IDLE and not self.conn.trailing_data[0]:
            # Nothing of a request arrived: an idle socket is closed without a word.
            self.transport.close()
        elif state in (h11.IDLE, h11.SEND_BODY) and (self.cycle is None or self.cycle.more_body):
            if self.cycle is not None and self.cycle.response_started:
                self.transport.close()
            else:
                self._reply_and_close(408, "The request did not arrive in time.")

    def _reply_and_close(self, status: int, message: str) -> None:
        if self.cycle is not None:
            # The application sees a disconnect: nothing half-received is acted on.
            self.cycle.disconnected = True
            self.cycle.message_event.set()
        if not self.transport.is_closing():
            self.transport.write(raw_json_error(status, message))
            self.transport.close()


class _HeadersTooLarge(Exception):
    """Raised from the parser's header callback; httptools hands it back as a parser error."""


class _UnknownTransferCoding(Exception):
    """Raised from the header callback: llhttp frames `gzip, chunked` as chunked and would hand
    on a body nobody decoded; RFC 9112 answers a coding the server lacks with 501, as h11 does."""


class LocalHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol (llhttp, in C) with the defences LocalH11Protocol adds to
    h11: header and idle-body timeouts, a cap on header bytes (431), 501 for a transfer coding
    other than chunked, TCP_NODELAY and JSON
    error answers. The standalone Step Functions server runs on it: an execution is a
    StartExecution and DescribeExecution polls, and h11's pure-Python framing was about 100 us
    of server CPU per request of the ~210 (measured with the bench's client). The runtime's
    port stays on h11, whose framing its tests pin byte for byte."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        enable_nodelay(transport)
        self._header_bytes = 0
        self._too_large = False
        self._unknown_coding = False
        self._header_timer: asyncio.TimerHandle | None = None
        self._body_timer: asyncio.TimerHandle | None = None
        # Nothing received yet counts as headers not arriving: timed out alike.
        self._header_timer = self.loop.call_later(HEADER_TIMEOUT_SECONDS, self._timed_out)
        self._reading_body = False

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_timers()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._header_bytes = 0
        if self._header_timer is None:
            self._header_timer = self.loop.call_later(HEADER_TIMEOUT_SECONDS, self._timed_out)

    def on_url(self, url: bytes) -> None:
        self._count_header_bytes(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count_header_bytes(len(name) + len(value) + 4)
        if name.lower() == b"transfer-encoding" and any(
            coding.strip().lower() != b"chunked" for coding in value.split(b",")
        ):
            self._unknown_coding = True
            raise _UnknownTransferCoding
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._cancel_timers()
        self._reading_body = True
        self._body_timer = self.loop.call_later(BODY_IDLE_TIMEOUT_SECONDS, self._timed_out)
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if self._body_timer is not None:
            self._body_timer.cancel()
        self._body_timer = self.loop.call_later(BODY_IDLE_TIMEOUT_SECONDS, self._timed_out)
        super().on_body(body)

    def on_message_complete(self) -> None:
        self._cancel_timers()
        self._reading_body = False
        super().on_message_complete()

    def send_400_response(self, msg: str) -> None:
        if self._too_large:
            self._reply_and_close(431, "The request's headers are too large.")
        elif self._unknown_coding:
            self._reply_and_close(501, "Only the chunked transfer coding is supported.")
        else:
            self._reply_and_close(400, "The request is not valid HTTP/1.1.")

    def _count_header_bytes(self, n: int) -> None:
        self._header_bytes += n
        if self._header_bytes > MAX_HEADER_BYTES:
            self._too_large = True
            raise _HeadersTooLarge

    def _cancel_timers(self) -> None:
        for timer in (self._header_timer, self._body_timer):
            if timer is not None:
                timer.cancel()
        self._header_timer = self._body_timer = None

    def _timed_out(self) -> None:
        if self.transport.is_closing():
            return
        if self._header_timer is not None and self._header_bytes == 0:
            # Nothing of a request arrived: an idle socket is closed without a word.
            self._cancel_timers()
            self.transport.close()
        elif self.cycle is not None and self.cycle.response_started:
            self.transport.close()
        else:
            self._reply_and_close(408, "The request did not arrive in time.")

    def _reply_and_close(self, status: int, message: str) -> None:
        self._cancel_timers()
        if self.cycle is not None and self._reading_body:
            # The application sees a disconnect: nothing half-received is acted on.
            self.cycle.disconnected = True
            self.cycle.message_event.set()
        if not self.transport.is_closing():
            self.transport.write(raw_json_error(status, message))
            self.transport.close()


class ThreadedServer:
    """An ASGI app behind uvicorn on a background thread, on a socket bound at construction
    (so port 0 is resolved before serving), with the `http.server` surface callers used:
    server_address, serve_forever(), shutdown(), server_close()."""

    def __init__(
        self,
        app: AsgiApp,
        host: str,
        port: int,
        protocol: type[asyncio.Protocol] = LocalH11Protocol,
    ) -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.socket = socket.socket(family, socket.SOCK_STREAM)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.bind((host, port))
        # The kernel's own ceiling (net.core.somaxconn caps it further): a burst of
        # connections waits in the queue instead of being reset.
        self.backlog = socket.SOMAXCONN
        self.socket.listen(self.backlog)
        self.server_address: tuple[str, int] = self.socket.getsockname()[:2]
        self.config = uvicorn.Config(
            app,
            http=protocol,
            loop="asyncio",
            lifespan="off",
            backlog=self.backlog,
            timeout_keep_alive=KEEP_ALIVE_SECONDS,
            timeout_graceful_shutdown=5,
            h11_max_incomplete_event_size=MAX_HEADER_BYTES,
            access_log=False,
            log_config=None,
            server_header=False,
            # uvicorn would take X-Forwarded-For from any loopback client as the caller's
            # address; nothing proxies this server, so the socket's peer is the caller (the
            # sign-up rate limits count per address: docs/security.md).
            proxy_headers=False,
        )
        self.server = uvicorn.Server(self.config)
        self._done = threading.Event()
        self._thread: threading.Thread | None = None

    def serve_forever(self) -> None:
        try:
            self.server.run(sockets=[self.socket])
        finally:
            self._done.set()

    def start(self) -> ThreadedServer:
        self._thread = threading.Thread(target=self.serve_forever, name="http", daemon=True)
        self._thread.start()
        deadline = threading.Event()
        while not self.server.started and not self._done.is_set():
            deadline.wait(0.01)
        return self

    def shutdown(self) -> None:
        self.server.should_exit = True
        if self._thread is not None or self.server.started:
            self._done.wait(10)

    def server_close(self) -> None:
        self.socket.close()


def json_response_messages(
    status: int, payload: Any, content_type: str, extra: dict[str, str] | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    data = json.dumps(payload).encode()
    headers = {"content-type": content_type, "content-length": str(len(data))}
    headers.update({k.lower(): v for k, v in security_headers(page=False).items()})
    headers.update({k.lower(): v for k, v in (extra or {}).items()})
    start = {
        "type": "http.response.start",
        "status": status,
        "headers": [(k.encode(), v.encode()) for k, v in headers.items()],
    }
    return start, {"type": "http.response.body", "body": data}


class NoLambdas:
    """The standalone server has no functions: every invocation is ResourceNotFound."""

    def invoke(self, function_name: str, payload: Any) -> Any:
        raise LambdaServiceError(
            "Lambda.ResourceNotFoundException", f"Function not found: {function_name}"
        )


AWS_JSON = "application/x-amz-json-1.0"
MAX_BODY_BYTES = 10 * 1024 * 1024


# Operations answered on the event loop's thread: short store transactions, where handing the
# call to a worker thread and back cost more than the call (about a third of a
# DescribeExecution's CPU, measured). Anything that may take long (validating a 1 MB
# definition, a long poll) still goes to the thread pool, so it never stalls other requests.
INLINE_OPERATIONS = frozenset(
    f"AWSStepFunctions.{name}"
    for name in (
        "StartExecution",
        "DescribeExecution",
        "StopExecution",
        "SendTaskSuccess",
        "SendTaskFailure",
        "SendTaskHeartbeat",
    )
)
_SECURITY_HEADERS = [
    (k.lower().encode(), v.encode()) for k, v in security_headers(page=False).items()
]
_AWS_JSON_HEADER = (b"content-type", AWS_JSON.encode())


class StepFunctionsApp:
    """The Step Functions JSON API as an ASGI app: POST / with X-Amz-Target, from a loopback
    Host (or the bound address), in AWS's JSON content type. A browser page on another
    origin cannot send that content type or X-Amz-Target without a preflight, which is
    refused; a DNS-rebound name is refused by the Host check.

    It reads the ASGI scope and messages directly rather than through starlette's Request:
    every execution is a StartExecution and a few DescribeExecution calls, and the wrapper
    was a measurable share of each."""

    def __init__(self, service: StepFunctionsService, bind_host: str) -> None:
        self.service = service
        self.hosts = HostPolicy(bind_host)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        answer = await self._answer(scope, receive)
        if answer is None:
            return  # the client went away mid-request: nothing to answer, nothing acted on
        status, payload, extra = answer
        data = json.dumps(payload).encode()
        headers = [_AWS_JSON_HEADER, (b"content-length", str(len(data)).encode())]
        headers += _SECURITY_HEADERS
        headers += [(k.lower().encode(), v.encode()) for k, v in extra.items()]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": data})

    async def _answer(
        self, scope: Scope, receive: Receive
    ) -> tuple[int, dict[str, Any], dict[str, str]] | None:
        headers: dict[bytes, str] = {}
        for name, value in scope["headers"]:
            headers.setdefault(name, value.decode("latin-1"))  # the first of repeated ones
        length = headers.get(b"content-length")
        if b"transfer-encoding" in headers and length is not None:
            return _aws_error(
                400, "SerializationException", "Transfer-Encoding and Content-Length.", close=True
            )
        if not self.hosts.allows(headers.get(b"host")):
            return _aws_error(421, "MisdirectedRequest", "This server answers loopback names only.")
        if scope["path"] != "/":
            return _aws_error(404, "UnknownOperationException", "The API is at /.")
        if scope["method"] != "POST":
            return _aws_error(405, "MethodNotAllowed", "POST only.", extra={"Allow": "POST"})
        if headers.get(b"content-type", "").split(";")[0].strip().lower() != AWS_JSON:
            return _aws_error(415, "UnsupportedMediaTypeException", f"Send {AWS_JSON}.")
        if length is not None and int(length) > MAX_BODY_BYTES:
            return _aws_error(413, "RequestEntityTooLargeException", "Over 10 MB.", close=True)
        body = b""
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            body += message.get("body", b"")
            if len(body) > MAX_BODY_BYTES:
                return _aws_error(413, "RequestEntityTooLargeException", "Over 10 MB.", close=True)
            if not message.get("more_body", False):
                break
        target = headers.get(b"x-amz-target", "")
        if target in INLINE_OPERATIONS:
            status, payload = handle_request(self.service, target, body)
        else:
            status, payload = await run_in_threadpool(handle_request, self.service, target, body)
        return status, payload, {"x-amzn-RequestId": str(uuid.uuid4())}


def _aws_error(
    status: int, kind: str, message: str, extra: dict[str, str] | None = None, close: bool = False
) -> tuple[int, dict[str, Any], dict[str, str]]:
    headers = dict(extra or {})
    if close:
        headers["Connection"] = "close"
    return status, {"__type": kind, "message": message}, headers


class Server:
    """The service behind an HTTP server on a background thread (port 0 picks a free one)."""

    def __init__(
        self,
        db_path: pathlib.Path,
        port: int = 0,
        host: str = "127.0.0.1",
        invoker: Any = None,
        workers: int = DEFAULT_WORKERS,
        mock_config: pathlib.Path | dict[str, Any] | None = None,
    ) -> None:
        self.service = StepFunctionsService(
            db_path, invoker or NoLambdas(), workers=workers, mock_config=mock_config
        )
        self.httpd = ThreadedServer(
            StepFunctionsApp(self.service, host), host, port, protocol=LocalHttpToolsProtocol
        )
        self.port = self.httpd.server_address[1]
        self.url = f"http://{host}:{self.port}"

    def start(self) -> Server:
        self.service.start()
        self.httpd.start()
        return self

    def stop(self) -> None:
        # Waiting GetActivityTask polls answer now: the HTTP server's shutdown waits for them.
        self.service.activities.polls.stop()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.service.stop()
