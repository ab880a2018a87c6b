"""The runtime's one HTTP port: AWS JSON APIs, the template's API routes, the sandbox, web pages.

Served by uvicorn (h11) through `ThreadedServer`; this module is the ASGI application. Every
request passes the same gates before anything acts on it, in this order:

1. framing: Transfer-Encoding with Content-Length, or oversized headers, are refused and the
   connection closed (h11 has already refused malformed Content-Length values);
2. Host: loopback names and the bound address only (DNS rebinding), see security.HostPolicy;
3. the route: 404, or 405 with Allow;
4. the shared secret, when the port is bound beyond loopback, except for the public form;
5. Origin: a state-changing request from a browser must come from this origin (the public
   sign-up API also from the template's AllowedOrigins); non-public routes refuse any
   cross-site browser request;
6. the AWS APIs: SigV4 Authorization for the right service, AWS's content type;
7. the whole body: a client that stops mid-body triggers nothing.

Handlers are blocking (LambdaRunner.invoke, the engine, SQLite) and run in a thread pool, so
the event loop keeps accepting and reading while functions run.
"""

from __future__ import annotations

import base64
import fnmatch
import json
import logging
import mimetypes
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlencode

import anyio
from starlette.datastructures import Headers
from starlette.requests import ClientDisconnect, Request

from local.runtime import cognito as cognito_idp
from local.runtime import console, security
from local.runtime.cognito import CognitoIdp
from local.runtime.lambdas import LambdaRunner, LambdaSandboxError
from local.runtime.sms_sandbox import SandboxError, SmsSandbox
from local.runtime.stepfunctions_backend import StepFunctionsBackend
from local.runtime.template import ACCOUNT_ID, REGION, Application
from local.stepfunctions import LambdaFunctionError, LambdaServiceError
from local.stepfunctions.server import (
    MAX_HEADER_BYTES,
    Receive,
    Scope,
    Send,
    ThreadedServer,
)

# Read by the simulator's badge through /sandbox/contacts/{phoneNumber}.
CONTACT_STATUS_FUNCTION = "ContactStatusFunction"

log = logging.getLogger("local.http")

MAX_REQUEST_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit
MAX_TARGET_BYTES = 8 * 1024
LAMBDA_INVOKE_PREFIX = "/2015-03-31/functions/"
_LAMBDA_INVOKE = re.compile(r"^/2015-03-31/functions/(?P<name>[^/]+)/invocations$")
AWS_JSON = "application/x-amz-json-1.0"
# boto3 sends the Invoke API's payload with no Content-Type; other SDKs send these.
LAMBDA_CONTENT_TYPES = frozenset(
    {"", "application/json", "application/octet-stream", "binary/octet-stream"}
)
AWS_JSON_SERVICES = {
    "AWSStepFunctions": security.SERVICE_STEP_FUNCTIONS,
    "PinpointSMSVoiceV2": security.SERVICE_SMS,
    cognito_idp.TARGET_PREFIX: cognito_idp.SIGNING_NAME,
}
# The JSON protocol version each service's model names (botocore sends it as Content-Type).
AWS_JSON_CONTENT_TYPES = {cognito_idp.TARGET_PREFIX: cognito_idp.CONTENT_TYPE}
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Enough for Lambda calls that wait on their function while others are served.
HANDLER_THREADS = 64
# The AWS JSON APIs (Step Functions, SMS, Cognito) have threads of their own: the functions
# call them while a route's thread waits on that function, so sharing one pool deadlocked
# under load (every thread held by a route waiting on a function that waited for a thread,
# until botocore's read timeout: a StartExecution or SendTextMessage failed as unknown).
AWS_API_THREADS = 32
# The static files of the public form; everything else under web/ needs the shared secret
# when the port is exposed.
PRIVATE_PAGES = frozenset({"simulator.html", "js/simulator.js"})
# The session cookie the console's session function sets (optin.domain.session); the sign-in
# link sets the same one, and tests/integration/test_console_auth.py compares the two.
SESSION_COOKIE = "console_session"
SESSION_COOKIE_PATH = "/console/api"
USED_LINK_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign-in link already used</title></head>
<body><main><h1>This sign-in link has already been used</h1>
<p>Each link the local runtime prints opens the support console once, and only the newest one
works. Restart the runtime for a new link, or give the user a password:
<code>python -m local users set-password admin</code>, then sign in at
<a href="/console/">/console/</a>.</p></main></body></html>
"""


class Runtime:
    """What the HTTP front door dispatches to."""

    def __init__(
        self,
        app: Application,
        runner: LambdaRunner,
        stepfunctions: StepFunctionsBackend,
        sandbox: SmsSandbox,
        web_root: Path,
        *,
        bind_host: str = "127.0.0.1",
        secret: str | None = None,
        serve_lambda_invoke: bool | None = None,
        cognito: CognitoIdp | None = None,
    ) -> None:
        self.app = app
        self.runner = runner
        self.stepfunctions = stepfunctions
        self.sandbox = sandbox
        self.web_root = web_root.resolve()
        self.bind_host = bind_host
        self.secret = secret
        self.cognito = cognito
        # Lambda's Invoke API is for an external Step Functions (LAMBDA_ENDPOINT) and for a
        # function whose environment names another (the webhook nudge); the embedded engine
        # calls the runner directly, so without either the API is not served at all.
        self.serve_lambda_invoke = (
            getattr(stepfunctions, "endpoint", None) is not None
            if serve_lambda_invoke is None
            else serve_lambda_invoke
        )


def make_server(runtime: Runtime, host: str, port: int) -> ThreadedServer:
    return ThreadedServer(FrontDoor(runtime, host), host, port)


# --- requests and replies, independent of the server ---


@dataclass
class Call:
    method: str
    path: str
    query: str
    headers: Headers
    body: bytes
    client: str
    http_version: str


@dataclass
class Reply:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    page: bool = False
    close: bool = False


def json_reply(
    status: int,
    payload: Any,
    content_type: str = "application/json",
    headers: dict[str, str] | None = None,
) -> Reply:
    return Reply(
        status, json.dumps(payload).encode(), {"Content-Type": content_type, **(headers or {})}
    )


def error_reply(
    status: int, code: str, message: str, headers: dict[str, str] | None = None, close: bool = False
) -> Reply:
    reply = json_reply(status, {"error": {"code": code, "message": message}}, headers=headers)
    reply.close = close
    return reply


def aws_error(status: int, kind: str, message: str, headers: dict[str, str] | None = None) -> Reply:
    return json_reply(
        status,
        {"__type": kind, "message": message},
        AWS_JSON,
        {"x-amzn-ErrorType": kind, "x-amzn-RequestId": str(uuid.uuid4()), **(headers or {})},
    )


Handler = Callable[[Call, dict[str, str]], Reply]


@dataclass(frozen=True)
class Endpoint:
    handler: Handler
    params: dict[str, str] = field(default_factory=dict)
    public: bool = False
    aws: bool = False
    allowed_origins: frozenset[str] = frozenset()


def _allow(methods: set[str]) -> str:
    if "GET" in methods:
        methods = methods | {"HEAD"}
    return ", ".join(sorted(methods))


def _method_not_allowed(method: str, path: str, methods: set[str]) -> Reply:
    return error_reply(
        405,
        "method_not_allowed",
        f"{method} is not allowed on {path}.",
        {"Allow": _allow(methods)},
    )


class FrontDoor:
    """The ASGI application on the runtime's port."""

    def __init__(self, runtime: Runtime, bind_host: str) -> None:
        self.runtime = runtime
        self.hosts = security.HostPolicy(bind_host)
        self.secret = runtime.secret
        self.handlers = Handlers(runtime)
        self.limiter = anyio.CapacityLimiter(HANDLER_THREADS)
        self.aws_limiter = anyio.CapacityLimiter(AWS_API_THREADS)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        try:
            reply = await self._answer(request)
        except ClientDisconnect:
            return  # the client left mid-body: nothing was done, nobody to answer
        except Exception:
            log.exception("unhandled error in the local runtime")
            reply = error_reply(500, "internal_error", "The local runtime failed; see its log.")
        await self._send(send, reply)

    async def _send(self, send: Send, reply: Reply) -> None:
        headers = {k.lower(): v for k, v in security.security_headers(reply.page).items()}
        headers.update({k.lower(): v for k, v in reply.headers.items()})
        headers["content-length"] = str(len(reply.body))
        if reply.close:
            headers["connection"] = "close"
        await send(
            {
                "type": "http.response.start",
                "status": reply.status,
                "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()],
            }
        )
        # uvicorn leaves the body out for HEAD and keeps the Content-Length of the GET.
        await send({"type": "http.response.body", "body": reply.body})

    async def _answer(self, request: Request) -> Reply:
        scope = request.scope
        headers = request.headers
        method = request.method
        if "transfer-encoding" in headers and "content-length" in headers:
            # RFC 9112 §6.1: a request with both may be a smuggling attempt; refuse and close.
            return error_reply(
                400, "conflicting_framing", "Transfer-Encoding with Content-Length.", close=True
            )
        if sum(len(k) + len(v) + 4 for k, v in scope["headers"]) > MAX_HEADER_BYTES:
            return error_reply(
                431, "request_header_fields_too_large", "Headers over 16 KB.", close=True
            )
        if len(scope.get("raw_path", b"")) + len(scope["query_string"]) > MAX_TARGET_BYTES:
            return error_reply(414, "uri_too_long", "The request target is over 8 KB.")
        if not self.hosts.allows(headers.get("host")):
            return error_reply(
                421,
                "misdirected_request",
                "This port answers loopback names only (start with --host to serve others).",
            )

        raw_path = scope.get("raw_path", b"").decode("latin-1") or scope["path"]
        resolved = self.resolve(method, raw_path, headers)
        if isinstance(resolved, Reply):
            return resolved
        endpoint = resolved

        if refused := self._refuse_without_secret(request, endpoint, raw_path):
            return refused
        if refused := self._refuse_cross_origin(method, headers, endpoint):
            return refused
        if endpoint.aws and (refused := self._refuse_unsigned(raw_path, headers)):
            return refused

        body = await self._read_body(request)
        if isinstance(body, Reply):
            return body
        call = Call(
            method=method,
            path=raw_path,
            query=scope["query_string"].decode("latin-1"),
            headers=headers,
            body=body,
            client=(scope.get("client") or ("127.0.0.1", 0))[0],
            http_version=f"HTTP/{scope['http_version']}",
        )
        # An AWS JSON API call never waits on a function (Lambda's Invoke API, which does,
        # is not one of them: its path is not "/").
        limiter = self.aws_limiter if endpoint.aws and raw_path == "/" else self.limiter
        return await anyio.to_thread.run_sync(
            endpoint.handler, call, endpoint.params, limiter=limiter
        )

    # --- routing ---

    def resolve(self, method: str, path: str, headers: Headers) -> Endpoint | Reply:
        h = self.handlers
        if path == "/" and method == "POST":
            return Endpoint(h.aws_json, aws=True)
        if path.startswith(LAMBDA_INVOKE_PREFIX):
            found = _LAMBDA_INVOKE.match(path)
            if found is None or not self.runtime.serve_lambda_invoke:
                return error_reply(
                    404,
                    "not_found",
                    "Lambda's Invoke API is served only with --stepfunctions-endpoint or when "
                    "a function invokes another.",
                )
            if method != "POST":
                return _method_not_allowed(method, path, {"POST"})
            return Endpoint(h.lambda_invoke, {"name": unquote(found["name"])}, aws=True)
        if path.startswith("/sandbox/"):
            return self._sandbox_route(method, path)
        api = self._api_route(method, path)
        if api is not None:
            return api
        return self._static_route(method, path)

    def _sandbox_route(self, method: str, path: str) -> Endpoint | Reply:
        h = self.handlers
        routes: list[tuple[str, str, Handler]] = [
            ("GET", r"/sandbox/conversations", h.conversations),
            ("GET", r"/sandbox/messages", h.messages),
            ("GET", r"/sandbox/contacts/(?P<phone>[^/]*)", h.contact),
            ("POST", r"/sandbox/inbound", h.inbound),
            ("POST", r"/sandbox/inbound/(?P<id>[^/]+)/redeliver", h.redeliver),
            ("GET", r"/sandbox/sign-in/(?P<code>[^/]+)", h.sign_in_link),
        ]
        methods: set[str] = set()
        for route_method, pattern, handler in routes:
            found = re.fullmatch(pattern, path)
            if found is None:
                continue
            if method == route_method or (method == "HEAD" and route_method == "GET"):
                return Endpoint(handler, {k: unquote(v) for k, v in found.groupdict().items()})
            methods.add(route_method)
        if methods:
            return _method_not_allowed(method, path, methods)
        return error_reply(404, "not_found", f"No sandbox route for {method} {path}.")

    def _api_route(self, method: str, path: str) -> Endpoint | Reply | None:
        routes = self.runtime.app.routes
        matching = [
            r for r in routes if r.match(r.method if r.method != "ANY" else "GET", path) is not None
        ]
        if not matching:
            return None
        origins = frozenset(
            origin.strip()
            for r in matching
            if r.function_id in self.runtime.app.functions
            for origin in self.runtime.app.functions[r.function_id]
            .environment.get("ALLOWED_ORIGINS", "")
            .split(",")
            if origin.strip()
        )
        # API Gateway answers HEAD for a GET method; the function sees the GET.
        as_method = "GET" if method == "HEAD" else method
        for route in matching:
            params = route.match(as_method, path)
            if params is not None:
                handler = self.handlers.api_route_handler(
                    route.function_id, route.path, route.authorizer, route.api_key_required
                )
                return Endpoint(handler, params, public=True, allowed_origins=origins)
        if method == "OPTIONS":
            methods = {r.method for r in matching}
            return Endpoint(
                self.handlers.preflight_handler(methods, origins),
                public=True,
                allowed_origins=origins,
            )
        return _method_not_allowed(method, path, {r.method for r in matching} | {"OPTIONS"})

    def _static_route(self, method: str, path: str) -> Endpoint | Reply:
        target = self.handlers.static_file(path)
        if target is None:
            return error_reply(404, "not_found", f"Nothing at {path}.")
        if method not in ("GET", "HEAD"):
            return _method_not_allowed(method, path, {"GET"})
        if target.name == "index.html" and not path.endswith(("/", "/index.html")):
            # A folder named without its slash ("/console"): the browser must be at "/console/"
            # for the page's relative links (css/, js/, api/) to resolve inside the folder.
            return Reply(308, headers={"Location": path + "/"})
        relative = target.relative_to(self.runtime.web_root).as_posix()
        return Endpoint(
            self.handlers.static, {"file": str(target)}, public=relative not in PRIVATE_PAGES
        )

    # --- gates ---

    def _refuse_without_secret(
        self, request: Request, endpoint: Endpoint, path: str
    ) -> Reply | None:
        if self.secret is None or endpoint.public:
            return None
        headers = request.headers
        client = (request.scope.get("client") or ("", 0))[0]
        if security.is_loopback_address(client) and security.is_loopback_name(
            security.host_name(headers.get("host"))
        ):
            # This machine's own processes (the functions' boto3, a local browser): a page on
            # another origin is stopped by the Origin gate, a rebound name by the Host gate.
            return None
        signed = security.parse_sigv4(headers.get("authorization"))
        offered = [
            headers.get(security.SECRET_HEADER),
            request.cookies.get(security.SECRET_COOKIE),
            signed.access_key if signed else None,
        ]
        if any(security.secret_matches(value, self.secret) for value in offered):
            return None
        query = parse_qs(request.scope["query_string"].decode("latin-1"))
        given = (query.pop(security.SECRET_QUERY, None) or [""])[-1]
        if request.method == "GET" and security.secret_matches(given, self.secret):
            # A link from the banner: keep the secret in a cookie this origin alone sends.
            rest = urlencode(query, doseq=True)
            return Reply(
                303,
                headers={
                    "Location": quote(path, safe="/%+") + (f"?{rest}" if rest else ""),
                    "Set-Cookie": f"{security.SECRET_COOKIE}={self.secret}; Path=/; HttpOnly; "
                    "SameSite=Strict",
                },
            )
        return error_reply(
            401,
            "secret_required",
            "This port is served beyond this machine: give the shared secret the banner shows.",
        )

    def _refuse_cross_origin(
        self, method: str, headers: Headers, endpoint: Endpoint
    ) -> Reply | None:
        origin = headers.get("origin")
        if method in STATE_CHANGING and origin is not None:
            if security.same_origin(origin, headers.get("host")):
                return None
            if endpoint.public and origin in endpoint.allowed_origins:
                return None
            return error_reply(
                403, "cross_origin_refused", "Requests from another origin are refused here."
            )
        fetch_site = headers.get("sec-fetch-site", "")
        if (
            not endpoint.public
            and fetch_site in ("cross-site", "same-site")
            and headers.get("sec-fetch-mode") != "navigate"
        ):
            # A page on another origin (another port counts) may not even read the sandbox.
            return error_reply(
                403, "cross_origin_refused", "Requests from another origin are refused here."
            )
        return None

    def _refuse_unsigned(self, path: str, headers: Headers) -> Reply | None:
        content_type = headers.get("content-type", "").split(";")[0].strip().lower()
        if path == "/":
            target = headers.get("x-amz-target", "")
            prefix = target.partition(".")[0]
            service = AWS_JSON_SERVICES.get(prefix)
            if service is None:
                return aws_error(400, "UnknownOperationException", f"Unknown operation {target!r}.")
            expected = AWS_JSON_CONTENT_TYPES.get(prefix, AWS_JSON)
            if content_type != expected:
                return aws_error(415, "UnsupportedMediaTypeException", f"Send {expected}.")
            if prefix == cognito_idp.TARGET_PREFIX and (
                target.partition(".")[2] in cognito_idp.PUBLIC_OPERATIONS
            ):
                # Cognito authorises these by the token or the password; botocore sends them
                # unsigned (the model's smithy.api#noAuth), so no signature is asked for.
                return None
        else:
            service = security.SERVICE_LAMBDA
            if content_type not in LAMBDA_CONTENT_TYPES:
                return lambda_error(
                    415, "UnsupportedMediaTypeException", "The payload must be JSON."
                )
        authorization = headers.get("authorization")
        if not authorization:
            return aws_error(
                403, "MissingAuthenticationTokenException", "Missing Authentication Token"
            )
        signed = security.parse_sigv4(authorization)
        if signed is None:
            return aws_error(
                403, "IncompleteSignatureException", "The Authorization header is not SigV4."
            )
        if signed.service != service:
            return aws_error(
                403,
                "InvalidSignatureException",
                f"Credential should be scoped to correct service: '{service}'.",
            )
        return None

    async def _read_body(self, request: Request) -> bytes | Reply:
        declared = request.headers.get("content-length")
        if declared is not None and int(declared) > MAX_REQUEST_BYTES:
            return error_reply(
                413, "request_too_large", "The request body exceeds 10 MB.", close=True
            )
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_REQUEST_BYTES:
                return error_reply(
                    413, "request_too_large", "The request body exceeds 10 MB.", close=True
                )
        return bytes(body)


def _policy_decision(answer: Any, method_arn: str) -> tuple[bool, dict[str, str]] | None:
    """(allowed, context for the function) from an authorizer's answer, or None when it is
    not one API Gateway accepts. An explicit Deny wins over an Allow, as in IAM."""
    if not isinstance(answer, dict) or not isinstance(answer.get("principalId"), str):
        return None
    document = answer.get("policyDocument")
    statements = document.get("Statement") if isinstance(document, dict) else None
    if isinstance(statements, dict):
        statements = [statements]
    if not isinstance(statements, list):
        return None
    allowed = denied = False
    for statement in statements:
        if not isinstance(statement, dict):
            return None
        actions = statement.get("Action")
        resources = statement.get("Resource")
        actions = [actions] if isinstance(actions, str) else actions or []
        resources = [resources] if isinstance(resources, str) else resources or []
        if not any(fnmatch.fnmatchcase("execute-api:Invoke", a) for a in actions):
            continue
        if any(fnmatch.fnmatchcase(method_arn, r) for r in resources):
            if statement.get("Effect") == "Deny":
                denied = True
            elif statement.get("Effect") == "Allow":
                allowed = True
    raw_context = answer.get("context") or {}
    if not isinstance(raw_context, dict):
        return None
    context: dict[str, str] = {}
    for key, value in raw_context.items():
        if isinstance(value, (dict, list)):
            return None  # API Gateway refuses objects and arrays in the context
        context[str(key)] = str(value).lower() if isinstance(value, bool) else str(value)
    context["principalId"] = answer["principalId"]
    return allowed and not denied, context


def lambda_error(status: int, kind: str, message: str) -> Reply:
    return Reply(
        status,
        json.dumps({"Type": "User", "message": message}).encode(),
        {"Content-Type": "application/json", "x-amzn-ErrorType": kind},
    )


class Handlers:
    """The blocking work behind each route; each runs on a worker thread."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    # --- AWS JSON protocol (Step Functions, End User Messaging SMS) ---

    def aws_json(self, call: Call, params: dict[str, str]) -> Reply:
        target = call.headers.get("x-amz-target", "")
        service, _, operation = target.partition(".")
        if service == "AWSStepFunctions":
            status, payload = self.runtime.stepfunctions.handle(target, call.body)
        elif service == cognito_idp.TARGET_PREFIX:
            return self._cognito(operation, call.body)
        else:
            try:
                request = json.loads(call.body or b"{}")
                if not isinstance(request, dict):
                    raise ValueError
            except ValueError:
                status, payload = 400, {"__type": "SerializationException", "Message": "Bad JSON."}
            else:
                status, payload = self.runtime.sandbox.handle_api(operation, request)
        return json_reply(status, payload, AWS_JSON, {"x-amzn-RequestId": str(uuid.uuid4())})

    def _cognito(self, operation: str, body: bytes) -> Reply:
        headers = {"x-amzn-RequestId": str(uuid.uuid4())}
        if self.runtime.cognito is None:
            return json_reply(
                400,
                {
                    "__type": "ResourceNotFoundException",
                    "message": "The template has no user pool.",
                },
                cognito_idp.CONTENT_TYPE,
                headers,
            )
        try:
            request = json.loads(body or b"{}")
            if not isinstance(request, dict):
                raise ValueError
        except ValueError:
            status, payload = 400, {"__type": "SerializationException", "message": "Bad JSON."}
        else:
            status, payload = self.runtime.cognito.handle(operation, request)
        return json_reply(status, payload, cognito_idp.CONTENT_TYPE, headers)

    # --- Lambda's Invoke API (what Step Functions Local calls through LAMBDA_ENDPOINT) ---

    def lambda_invoke(self, call: Call, params: dict[str, str]) -> Reply:
        invocation_type = call.headers.get("x-amz-invocation-type") or "RequestResponse"
        try:
            payload = json.loads(call.body) if call.body else {}
        except ValueError:
            return lambda_error(400, "InvalidRequestContentException", "Could not parse JSON.")
        try:
            function = self.runtime.runner.function(params["name"])
        except LambdaServiceError as error:
            return lambda_error(404, "ResourceNotFoundException", error.cause)
        headers = {"Content-Type": "application/json", "X-Amz-Executed-Version": "$LATEST"}
        if invocation_type == "DryRun":
            return Reply(204, b"", headers)
        if invocation_type == "Event":
            # Not queued durably: the one asynchronous caller, the webhook nudge, is best
            # effort by design (the deliveries are in the store; the schedule sweeps them).
            threading.Thread(
                target=self._invoke_quietly, args=(function.logical_id, payload), daemon=True
            ).start()
            return Reply(202, b"", headers)
        if invocation_type != "RequestResponse":
            return lambda_error(
                400, "InvalidParameterValueException", f"Unknown invocation type {invocation_type}."
            )
        try:
            result = self.runtime.runner.invoke(function.logical_id, payload)
        except LambdaSandboxError as error:
            # A timeout or a dead worker: Lambda answers it the same way, with its own errorType.
            headers["X-Amz-Function-Error"] = "Unhandled"
            return Reply(200, json.dumps(error.payload).encode(), headers)
        except LambdaServiceError as error:
            if error.error == "Lambda.RequestTooLargeException":
                return lambda_error(413, "RequestTooLargeException", error.cause)
            raise
        except LambdaFunctionError as error:
            # Lambda answers 200 for a function error; the header is what tells it apart.
            headers["X-Amz-Function-Error"] = "Unhandled"
            result = {
                "errorMessage": error.error_message,
                "errorType": error.error_type,
                "stackTrace": error.stack_trace,
            }
        return Reply(200, json.dumps(result).encode(), headers)

    def _invoke_quietly(self, function_id: str, payload: Any) -> None:
        try:
            self.runtime.runner.invoke(function_id, payload)
        except (LambdaFunctionError, LambdaServiceError) as error:
            log.error("asynchronous invocation of %s failed: %s", function_id, error)

    # --- the template's API routes, as API Gateway's Lambda proxy integration ---

    def api_route_handler(
        self,
        function_id: str,
        resource: str,
        authorizer: str | None = None,
        api_key_required: bool = False,
    ) -> Handler:
        def handle(call: Call, params: dict[str, str]) -> Reply:
            if api_key_required and not call.headers.get("x-api-key"):
                # API Gateway's own answer for a method that requires a key and got none.
                # There is no usage plan here: the function checks the key it is given
                # against the key store, which is the real gate locally (and a second one
                # on AWS), and answers 403 invalid_api_key for an unknown or revoked key.
                reply = json_reply(
                    403,
                    {"message": "Forbidden"},
                    headers={"x-amzn-ErrorType": "ForbiddenException"},
                )
                console.api_answered(call.method, resource, call.body, reply.status, b"")
                return reply
            context = None
            if authorizer is not None:
                decided = self.authorize(call, authorizer, resource, params)
                if isinstance(decided, Reply):
                    console.api_answered(call.method, resource, call.body, decided.status, b"")
                    return decided
                context = decided
            return self.api_route(
                call, function_id, resource, params, call.query, call.body, authorizer=context
            )

        return handle

    # --- the template's Lambda authorizer, as API Gateway runs it before the route ---

    def authorize(
        self, call: Call, name: str, resource: str, params: dict[str, str]
    ) -> dict[str, str] | Reply:
        """The authorizer's context for the route's function, or API Gateway's refusal.

        As API Gateway: a missing identity header is 401 without invoking the function; an
        error "Unauthorized" is 401; a policy that does not Allow the method's ARN, or Denies
        it, is 403; any other failure is 500 (AUTHORIZER_FAILURE). Unlike API Gateway the
        result is not cached (as with `sam local start-api`): every request is decided anew.
        """
        authorizer = self.runtime.app.authorizers[name]
        for wanted in authorizer.identity_headers:
            if not (call.headers.get(wanted) or "").strip():
                return self._gateway_response("UNAUTHORIZED", {})
        method = "GET" if call.method == "HEAD" else call.method
        method_arn = (
            f"arn:aws:execute-api:{REGION}:{ACCOUNT_ID}:local/Prod/{method}/{call.path.lstrip('/')}"
        )
        event = {
            "type": "REQUEST",
            "methodArn": method_arn,
            **self._request_fields(call, resource, params, call.query),
        }
        try:
            # The base runner's invoke: an Unauthorized is the authorizer's answer, not a
            # failure to report on the terminal.
            runner = self.runtime.runner
            answer = (
                LambdaRunner.invoke(runner, authorizer.function_id, event)
                if isinstance(runner, LambdaRunner)
                else runner.invoke(authorizer.function_id, event)
            )
        except LambdaFunctionError as error:
            if error.error_message == "Unauthorized":
                return self._gateway_response("UNAUTHORIZED", {})
            log.error("authorizer %s failed: %s", name, error)
            return self._gateway_response("AUTHORIZER_FAILURE", {})
        except LambdaServiceError as error:
            log.error("authorizer %s failed: %s", name, error)
            return self._gateway_response("AUTHORIZER_FAILURE", {})
        decision = _policy_decision(answer, method_arn)
        if decision is None:
            log.error("authorizer %s returned no valid policy", name)
            return self._gateway_response("AUTHORIZER_FAILURE", {})
        allowed, context = decision
        if not allowed:
            return self._gateway_response("ACCESS_DENIED", context)
        return context

    def _gateway_response(self, kind: str, context: dict[str, str]) -> Reply:
        response = self.runtime.app.gateway_responses[kind]

        def fill(found: re.Match[str]) -> str:
            # Inside a JSON string: escaped as one, so a value cannot break the document.
            return json.dumps(context.get(found[1], ""))[1:-1]

        body = re.sub(r"\$context\.authorizer\.([A-Za-z0-9_]+)", fill, response.body)
        return Reply(
            response.status,
            body.encode(),
            {"Content-Type": "application/json", **response.headers},
        )

    def preflight_handler(self, methods: set[str], origins: frozenset[str]) -> Handler:
        def handle(call: Call, params: dict[str, str]) -> Reply:
            # API Gateway's CORS preflight (the template's Globals.Api.Cors): only the
            # configured AllowedOrigins is told it may call; anyone else gets no grant.
            origin = call.headers.get("origin", "")
            headers = {"Allow": _allow(methods | {"OPTIONS"})}
            if origin in origins:
                headers.update(
                    {
                        "Access-Control-Allow-Origin": origin,
                        "Access-Control-Allow-Methods": "GET,POST,OPTIONS",
                        "Access-Control-Allow-Headers": "Content-Type",
                        "Access-Control-Max-Age": "600",
                        "Vary": "Origin",
                    }
                )
            return Reply(204, b"", headers)

        return handle

    def api_route(
        self,
        call: Call,
        function_id: str,
        resource: str,
        params: dict[str, str],
        query: str,
        body: bytes,
        path: str | None = None,
        authorizer: dict[str, str] | None = None,
    ) -> Reply:
        method = "GET" if call.method == "HEAD" else call.method
        try:
            text, is_base64 = body.decode("utf-8"), False
        except UnicodeDecodeError:
            text, is_base64 = base64.b64encode(body).decode(), True
        event = {
            **self._request_fields(call, resource, params, query, path),
            "body": text if body else None,
            "isBase64Encoded": is_base64,
        }
        if authorizer is not None:
            event["requestContext"]["authorizer"] = authorizer
        try:
            response = self.runtime.runner.invoke(function_id, event)
        except (LambdaFunctionError, LambdaServiceError) as error:
            log.error("%s failed behind %s %s: %s", function_id, method, resource, error)
            reply = json_reply(502, {"message": "Internal server error"})
        else:
            reply = self._proxy_response(function_id, response)
        console.api_answered(method, resource, body, reply.status, reply.body)
        return reply

    def _request_fields(
        self,
        call: Call,
        resource: str,
        params: dict[str, str],
        query: str,
        path: str | None = None,
    ) -> dict[str, Any]:
        """What the proxy event and the REQUEST authorizer's event have in common."""
        method = "GET" if call.method == "HEAD" else call.method
        headers = {k: v for k, v in call.headers.items()}
        multi_headers: dict[str, list[str]] = {}
        for k, v in call.headers.items():
            multi_headers.setdefault(k, []).append(v)
        multi_query = {k: v for k, v in parse_qs(query, keep_blank_values=True).items()}
        path = path or call.path
        return {
            "resource": resource,
            "path": path,
            "httpMethod": method,
            "headers": headers or None,
            "multiValueHeaders": multi_headers or None,
            "queryStringParameters": {k: v[-1] for k, v in multi_query.items()} or None,
            "multiValueQueryStringParameters": multi_query or None,
            "pathParameters": {k: unquote(v) for k, v in params.items()} or None,
            "stageVariables": None,
            "requestContext": {
                "accountId": ACCOUNT_ID,
                "apiId": "local",
                "domainName": call.headers.get("host", "127.0.0.1"),
                "httpMethod": method,
                "path": "/Prod" + path,
                "protocol": call.http_version,
                "requestId": str(uuid.uuid4()),
                "requestTimeEpoch": int(time.time() * 1000),
                "resourcePath": resource,
                "stage": "Prod",
                "identity": {
                    "sourceIp": call.client,
                    "userAgent": call.headers.get("user-agent"),
                },
            },
        }

    def _proxy_response(self, function_id: str, response: Any) -> Reply:
        if not isinstance(response, dict) or not isinstance(response.get("statusCode"), int):
            log.error("%s returned a malformed proxy response", function_id)
            return json_reply(502, {"message": "Internal server error"})
        headers: dict[str, str] = {
            str(k): str(v) for k, v in (response.get("headers") or {}).items()
        }
        for key, values in (response.get("multiValueHeaders") or {}).items():
            headers[str(key)] = ", ".join(str(v) for v in values)
        raw = response.get("body") or ""
        body = base64.b64decode(raw) if response.get("isBase64Encoded") else str(raw).encode()
        if not any(k.lower() == "content-type" for k in headers):
            headers["Content-Type"] = "application/json"
        return Reply(response["statusCode"], body, headers)

    # --- the SMS sandbox's HTTP interface (phone simulator, tests) ---

    def conversations(self, call: Call, params: dict[str, str]) -> Reply:
        return json_reply(200, {"conversations": self.runtime.sandbox.conversations()})

    def messages(self, call: Call, params: dict[str, str]) -> Reply:
        phone = (parse_qs(call.query).get("phoneNumber") or [""])[-1]
        if not phone:
            return error_reply(400, "missing_phone_number", "Give ?phoneNumber=+12065550123.")
        return json_reply(200, {"messages": self.runtime.sandbox.messages(phone)})

    def inbound(self, call: Call, params: dict[str, str]) -> Reply:
        try:
            request = json.loads(call.body or b"null")
        except ValueError:
            return error_reply(400, "invalid_json", "The body is not valid JSON.")
        if not isinstance(request, dict):
            return error_reply(400, "body_not_object", 'Send a JSON object: {"from", "body"}.')
        try:
            inbound_id = self.runtime.sandbox.inject_inbound(
                request.get("from"), request.get("body"), request.get("to")
            )
        except SandboxError as error:
            return error_reply(error.status, error.code, error.message)
        return json_reply(202, {"inboundMessageId": inbound_id})

    def redeliver(self, call: Call, params: dict[str, str]) -> Reply:
        try:
            self.runtime.sandbox.redeliver(params["id"])
        except SandboxError as error:
            return error_reply(error.status, error.code, error.message)
        return json_reply(202, {})

    def contact(self, call: Call, params: dict[str, str]) -> Reply:
        """A contact and its ledger for the phone simulator's badge. The template keeps this
        function off the public API (it shows evidence: IP, user agent, texts); locally the
        developer reads it here, through the same handler."""
        phone = params["phone"]
        if CONTACT_STATUS_FUNCTION not in self.runtime.app.functions:
            return error_reply(404, "not_found", f"The template has no {CONTACT_STATUS_FUNCTION}.")
        if not phone or "/" in phone:
            return error_reply(400, "invalid_phone_number", "Give /sandbox/contacts/+12065550123.")
        return self.api_route(
            call,
            CONTACT_STATUS_FUNCTION,
            "/contacts/{phoneNumber}",
            {"phoneNumber": phone},
            "",
            b"",
            path=f"/contacts/{phone}",
        )

    # --- the one-time sign-in link the banner prints (local only, never deployed) ---

    def sign_in_link(self, call: Call, params: dict[str, str]) -> Reply:
        """Signs the link's user in once: the same token issue as InitiateAuth, the same
        cookie as the session function sets, then the console. Used again: a page that says
        so, and nothing else happens."""
        cognito = self.runtime.cognito
        tokens = cognito.redeem_sign_in_code(params["code"]) if cognito else None
        if tokens is None:
            return Reply(
                410,
                USED_LINK_PAGE.encode(),
                {"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store"},
                page=True,
            )
        cookie = (
            f"{SESSION_COOKIE}={tokens['AccessToken']}; Path={SESSION_COOKIE_PATH}; "
            f"Max-Age={tokens['ExpiresIn']}; HttpOnly; SameSite=Strict"
        )
        return Reply(
            303,
            headers={"Location": "/console/", "Set-Cookie": cookie, "Cache-Control": "no-store"},
        )

    # --- static web pages ---

    def static_file(self, path: str) -> Path | None:
        """The file under web/ for a URL path, or None: never outside web/, never an error."""
        relative = unquote(path).lstrip("/") or "index.html"
        if any(ord(c) < 32 for c in relative) or "\\" in relative:
            return None
        try:
            target = (self.runtime.web_root / relative).resolve()
            if target.is_dir():
                target = target / "index.html"
            if not target.is_relative_to(self.runtime.web_root) or not target.is_file():
                return None
        except (OSError, ValueError):
            # A name too long for the file system, and the like: there is nothing there.
            return None
        return target

    def static(self, call: Call, params: dict[str, str]) -> Reply:
        target = Path(params["file"])
        content_type = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        if content_type.startswith("text/") or content_type.endswith("javascript"):
            content_type += "; charset=utf-8"
        return Reply(
            200,
            target.read_bytes(),
            {"Content-Type": content_type, "Cache-Control": "no-cache"},
            page=content_type.startswith("text/html"),
        )
