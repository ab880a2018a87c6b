"""The runtime's one HTTP port: AWS JSON APIs, the template's API routes, the sandbox, web pages."""

from __future__ import annotations

import base64
import json
import logging
import mimetypes
import threading
import time
import uuid
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from local.runtime.lambdas import LambdaRunner
from local.runtime.sms_sandbox import SandboxError, SmsSandbox
from local.runtime.stepfunctions_backend import StepFunctionsBackend
from local.runtime.template import ACCOUNT_ID, Application
from local.stepfunctions import LambdaFunctionError, LambdaServiceError

# Read by the simulator's badge through /sandbox/contacts/{phoneNumber}.
CONTACT_STATUS_FUNCTION = "ContactStatusFunction"

log = logging.getLogger("local.http")

MAX_REQUEST_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit
LAMBDA_INVOKE_PREFIX = "/2015-03-31/functions/"


class Runtime:
    """What the HTTP front door dispatches to."""

    def __init__(
        self,
        app: Application,
        runner: LambdaRunner,
        stepfunctions: StepFunctionsBackend,
        sandbox: SmsSandbox,
        web_root: Path,
    ) -> None:
        self.app = app
        self.runner = runner
        self.stepfunctions = stepfunctions
        self.sandbox = sandbox
        self.web_root = web_root.resolve()


def make_server(runtime: Runtime, host: str, port: int) -> ThreadingHTTPServer:
    handler = type("BoundHandler", (RequestHandler,), {"runtime": runtime})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server


class RequestHandler(BaseHTTPRequestHandler):
    runtime: Runtime
    server_version = "sms-optin-local/0.1"
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle on, keep-alive clients wait ~40 ms for
    # the delayed ACK on every call.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        # Request lines carry phone numbers in paths and queries: keep them out of the log.
        log.debug("%s %s", self.command, urlsplit(self.path).path.split("/")[1:2])

    # --- dispatch ---

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    def do_OPTIONS(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        try:
            body = self._read_body()
            if body is None:
                return
            target = self.headers.get("X-Amz-Target")
            url = urlsplit(self.path)
            if target and self.command == "POST":
                self._aws_json(target, body)
            elif url.path.startswith(LAMBDA_INVOKE_PREFIX) and url.path.endswith("/invocations"):
                self._lambda_invoke(url.path, body)
            elif url.path.startswith("/sandbox/"):
                self._sandbox(url.path, parse_qs(url.query), body)
            elif (found := self.runtime.app.route_for(self.command, url.path)) is not None:
                route, params = found
                self._api_route(route.function_id, route.path, params, url.query, body)
            elif self.command in ("GET", "HEAD"):
                self._static(url.path)
            else:
                self._error(404, "not_found", f"No route for {self.command} {url.path}.")
        except Exception:
            log.exception("unhandled error in the local runtime")
            self._error(500, "internal_error", "The local runtime failed; see its log.")

    def _read_body(self) -> bytes | None:
        length_header = self.headers.get("Content-Length") or "0"
        try:
            length = int(length_header)
        except ValueError:
            self._error(400, "bad_request", "Content-Length is not a number.")
            return None
        if length > MAX_REQUEST_BYTES:
            self._error(413, "request_too_large", "The request body exceeds 10 MB.")
            return None
        return self.rfile.read(length) if length else b""

    # --- responses ---

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, payload: Any, content_type: str = "application/json") -> None:
        self._send(status, json.dumps(payload).encode(), {"Content-Type": content_type})

    def _error(self, status: int, code: str, message: str) -> None:
        self._json(status, {"error": {"code": code, "message": message}})

    # --- AWS JSON protocol (Step Functions, End User Messaging SMS) ---

    def _aws_json(self, target: str, body: bytes) -> None:
        service, _, operation = target.partition(".")
        content_type = "application/x-amz-json-1.0"
        request_id = str(uuid.uuid4())
        if service == "AWSStepFunctions":
            status, payload = self.runtime.stepfunctions.handle(target, body)
        elif service == "PinpointSMSVoiceV2":
            try:
                request = json.loads(body or b"{}")
                if not isinstance(request, dict):
                    raise ValueError
            except ValueError:
                status, payload = 400, {"__type": "SerializationException", "Message": "Bad JSON."}
            else:
                status, payload = self.runtime.sandbox.handle_api(operation, request)
        else:
            status = 400
            payload = {"__type": "UnknownOperationException", "message": f"Unknown {target}"}
        self._send(
            status,
            json.dumps(payload).encode(),
            {"Content-Type": content_type, "x-amzn-RequestId": request_id},
        )

    # --- Lambda's Invoke API (what Step Functions Local calls through LAMBDA_ENDPOINT) ---

    def _lambda_invoke(self, path: str, body: bytes) -> None:
        name = unquote(path.removeprefix(LAMBDA_INVOKE_PREFIX).removesuffix("/invocations"))
        invocation_type = self.headers.get("X-Amz-Invocation-Type") or "RequestResponse"
        try:
            payload = json.loads(body) if body else {}
        except ValueError:
            self._lambda_error(400, "InvalidRequestContentException", "Could not parse JSON.")
            return
        try:
            function = self.runtime.runner.function(name)
        except LambdaServiceError as error:
            self._lambda_error(404, "ResourceNotFoundException", error.cause)
            return
        headers = {"Content-Type": "application/json", "X-Amz-Executed-Version": "$LATEST"}
        if invocation_type == "DryRun":
            self._send(204, b"", headers)
            return
        if invocation_type == "Event":
            # Not queued durably: nothing in this system invokes asynchronously.
            threading.Thread(
                target=self._invoke_quietly, args=(function.logical_id, payload), daemon=True
            ).start()
            self._send(202, b"", headers)
            return
        if invocation_type != "RequestResponse":
            self._lambda_error(
                400, "InvalidParameterValueException", f"Unknown invocation type {invocation_type}."
            )
            return
        try:
            result = self.runtime.runner.invoke(function.logical_id, payload)
        except LambdaFunctionError as error:
            # Lambda answers 200 for a function error; the header is what tells it apart.
            headers["X-Amz-Function-Error"] = "Unhandled"
            result = {
                "errorMessage": error.error_message,
                "errorType": error.error_type,
                "stackTrace": error.stack_trace,
            }
        self._send(200, json.dumps(result).encode(), headers)

    def _invoke_quietly(self, function_id: str, payload: Any) -> None:
        try:
            self.runtime.runner.invoke(function_id, payload)
        except (LambdaFunctionError, LambdaServiceError) as error:
            log.error("asynchronous invocation of %s failed: %s", function_id, error)

    def _lambda_error(self, status: int, kind: str, message: str) -> None:
        self._send(
            status,
            json.dumps({"Type": "User", "message": message}).encode(),
            {"Content-Type": "application/json", "x-amzn-ErrorType": kind},
        )

    # --- the template's API routes, as API Gateway's Lambda proxy integration ---

    def _api_route(
        self,
        function_id: str,
        resource: str,
        params: dict[str, str],
        query: str,
        body: bytes,
        path: str | None = None,
    ) -> None:
        headers = {k: v for k, v in self.headers.items()}
        multi_headers: dict[str, list[str]] = {}
        for k, v in self.headers.items():
            multi_headers.setdefault(k, []).append(v)
        multi_query = {k: v for k, v in parse_qs(query, keep_blank_values=True).items()}
        try:
            text, is_base64 = body.decode("utf-8"), False
        except UnicodeDecodeError:
            text, is_base64 = base64.b64encode(body).decode(), True
        path = path or urlsplit(self.path).path
        event = {
            "resource": resource,
            "path": path,
            "httpMethod": self.command,
            "headers": headers or None,
            "multiValueHeaders": multi_headers or None,
            "queryStringParameters": {k: v[-1] for k, v in multi_query.items()} or None,
            "multiValueQueryStringParameters": multi_query or None,
            "pathParameters": {k: unquote(v) for k, v in params.items()} or None,
            "stageVariables": None,
            "requestContext": {
                "accountId": ACCOUNT_ID,
                "apiId": "local",
                "domainName": self.headers.get("Host", "127.0.0.1"),
                "httpMethod": self.command,
                "path": "/Prod" + path,
                "protocol": self.request_version,
                "requestId": str(uuid.uuid4()),
                "requestTimeEpoch": int(time.time() * 1000),
                "resourcePath": resource,
                "stage": "Prod",
                "identity": {
                    "sourceIp": self.client_address[0],
                    "userAgent": self.headers.get("User-Agent"),
                },
            },
            "body": text if body else None,
            "isBase64Encoded": is_base64,
        }
        try:
            response = self.runtime.runner.invoke(function_id, event)
        except (LambdaFunctionError, LambdaServiceError) as error:
            log.error("%s failed behind %s %s: %s", function_id, self.command, resource, error)
            self._json(502, {"message": "Internal server error"})
            return
        self._proxy_response(function_id, response)

    def _proxy_response(self, function_id: str, response: Any) -> None:
        if not isinstance(response, dict) or not isinstance(response.get("statusCode"), int):
            log.error("%s returned a malformed proxy response", function_id)
            self._json(502, {"message": "Internal server error"})
            return
        headers: dict[str, str] = {
            str(k): str(v) for k, v in (response.get("headers") or {}).items()
        }
        for key, values in (response.get("multiValueHeaders") or {}).items():
            headers[str(key)] = ", ".join(str(v) for v in values)
        raw = response.get("body") or ""
        body = base64.b64decode(raw) if response.get("isBase64Encoded") else str(raw).encode()
        headers.setdefault("Content-Type", "application/json")
        self._send(response["statusCode"], body, headers)

    # --- the SMS sandbox's HTTP interface (phone simulator, tests) ---

    def _sandbox(self, path: str, query: dict[str, list[str]], body: bytes) -> None:
        sandbox = self.runtime.sandbox
        if path == "/sandbox/conversations" and self.command == "GET":
            self._json(200, {"conversations": sandbox.conversations()})
        elif path == "/sandbox/messages" and self.command == "GET":
            phone = (query.get("phoneNumber") or [""])[-1]
            if not phone:
                self._error(400, "missing_phone_number", "Give ?phoneNumber=+12065550123.")
                return
            self._json(200, {"messages": sandbox.messages(phone)})
        elif path.startswith("/sandbox/contacts/") and self.command == "GET":
            self._contact(path.removeprefix("/sandbox/contacts/"))
        elif path == "/sandbox/inbound" and self.command == "POST":
            try:
                request = json.loads(body or b"null")
            except ValueError:
                self._error(400, "invalid_json", "The body is not valid JSON.")
                return
            if not isinstance(request, dict):
                self._error(400, "body_not_object", 'Send a JSON object: {"from", "body"}.')
                return
            try:
                inbound_id = sandbox.inject_inbound(
                    request.get("from"), request.get("body"), request.get("to")
                )
            except SandboxError as error:
                self._error(error.status, error.code, error.message)
                return
            self._json(202, {"inboundMessageId": inbound_id})
        elif (
            path.startswith("/sandbox/inbound/")
            and path.endswith("/redeliver")
            and self.command == "POST"
        ):
            try:
                sandbox.redeliver(path.removeprefix("/sandbox/inbound/").removesuffix("/redeliver"))
            except SandboxError as error:
                self._error(error.status, error.code, error.message)
                return
            self._json(202, {})
        else:
            self._error(404, "not_found", f"No sandbox route for {self.command} {path}.")

    def _contact(self, phone: str) -> None:
        """A contact and its ledger for the phone simulator's badge. The template keeps this
        function off the public API (it shows evidence: IP, user agent, texts); locally the
        developer reads it here, through the same handler."""
        if CONTACT_STATUS_FUNCTION not in self.runtime.app.functions:
            self._error(404, "not_found", f"The template has no {CONTACT_STATUS_FUNCTION}.")
            return
        if not phone or "/" in phone:
            self._error(400, "invalid_phone_number", "Give /sandbox/contacts/+12065550123.")
            return
        self._api_route(
            CONTACT_STATUS_FUNCTION,
            "/contacts/{phoneNumber}",
            {"phoneNumber": phone},
            "",
            b"",
            path=f"/contacts/{phone}",
        )

    # --- static web pages ---

    def _static(self, path: str) -> None:
        relative = unquote(path).lstrip("/") or "index.html"
        target = (self.runtime.web_root / relative).resolve()
        if target.is_dir():
            target = target / "index.html"
        if not target.is_relative_to(self.runtime.web_root) or not target.is_file():
            self._error(404, "not_found", f"Nothing at {path}.")
            return
        content_type = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        if content_type.startswith("text/") or content_type.endswith("javascript"):
            content_type += "; charset=utf-8"
        self._send(
            HTTPStatus.OK,
            target.read_bytes(),
            {"Content-Type": content_type, "Cache-Control": "no-cache"},
        )
