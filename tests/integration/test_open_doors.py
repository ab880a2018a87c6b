"""No open doors on the runtime's port, even on localhost (issue 6, point 3).

Each defect the attacker's trial found is reproduced here as the request it made, against the
real front door (uvicorn + the runtime's ASGI app) with recording fakes behind it, so a test
fails if the request reaches a function, the engine or the SMS sandbox.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from local.runtime import security
from local.runtime.config import parse_args
from local.runtime.http_api import Runtime, make_server
from local.runtime.sms_sandbox import SmsSandbox
from local.runtime.template import load_application
from local.stepfunctions import LambdaServiceError

REPO = Path(__file__).resolve().parents[2]
OTHER_ORIGIN = "http://127.0.0.1:9"  # another port on this machine: same site, not same origin
SIGNED = (
    "AWS4-HMAC-SHA256 Credential=local/20260101/us-east-1/{service}/aws4_request, "
    "SignedHeaders=host;x-amz-date, Signature=" + "0" * 64
)


@dataclass
class Fn:
    logical_id: str


@dataclass
class RecordingRunner:
    calls: list[tuple[str, Any]] = field(default_factory=list)

    def function(self, name: str) -> Fn:
        if name not in ("CreateContactFunction", "OptInFunction", "SignupFunction"):
            raise LambdaServiceError("Lambda.ResourceNotFoundException", f"no {name}")
        return Fn(name)

    def invoke(self, name: str, payload: Any) -> Any:
        if payload == {"too": "big"}:
            # What the real runner raises for a request over Lambda's 6 MB.
            raise LambdaServiceError(
                "Lambda.RequestTooLargeException",
                "Request must be smaller than 6291456 bytes for the InvokeFunction operation",
            )
        self.calls.append((name, payload))
        if isinstance(payload, dict) and "httpMethod" in payload:
            return {"statusCode": 202, "body": json.dumps({"ok": True})}
        return {"ok": True}


@dataclass
class RecordingStepFunctions:
    endpoint: str | None = "http://127.0.0.1:1"
    targets: list[str] = field(default_factory=list)

    def handle(self, target: str, body: bytes) -> tuple[int, dict[str, Any]]:
        self.targets.append(target)
        return 200, {}


@dataclass
class Door:
    port: int
    runner: RecordingRunner
    stepfunctions: RecordingStepFunctions
    sandbox: SmsSandbox

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, str], Any]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            raw = response.read()
            found = {k.lower(): v for k, v in response.getheaders()}
        finally:
            connection.close()
        try:
            parsed: Any = json.loads(raw) if raw else None
        except ValueError:
            parsed = raw.decode(errors="replace")
        return response.status, found, parsed

    def acted(self) -> bool:
        return bool(self.runner.calls or self.stepfunctions.targets or self.sandbox.conversations())


def start_door(tmp_path: Path, **options: Any) -> Iterator[Door]:
    runner = RecordingRunner()
    stepfunctions = RecordingStepFunctions()
    sandbox = SmsSandbox(tmp_path / "sms.db", "+12065550142", lambda payload: None)
    app = load_application(REPO / "template.yaml")
    runtime = Runtime(app, runner, stepfunctions, sandbox, REPO / "web", **options)  # type: ignore[arg-type]
    server = make_server(runtime, options.get("bind_host", "127.0.0.1"), 0).start()
    try:
        yield Door(server.server_address[1], runner, stepfunctions, sandbox)
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def door(tmp_path: Path) -> Iterator[Door]:
    yield from start_door(tmp_path)


@pytest.fixture
def exposed(tmp_path: Path) -> Iterator[Door]:
    """As --host 0.0.0.0 runs it (bound to loopback here: the rules are the same)."""
    yield from start_door(tmp_path, bind_host="0.0.0.0", secret="s3cret")


# --- the forged double opt-in: a page on another origin, fetch(…, {mode: "no-cors"}) ---


@pytest.mark.parametrize("function", ["CreateContactFunction", "OptInFunction"])
def test_a_no_cors_fetch_from_another_origin_cannot_invoke_a_lambda(
    door: Door, function: str
) -> None:
    # What a no-cors fetch can send: text/plain, the page's Origin, no Authorization.
    status, _, body = door.request(
        "POST",
        f"/2015-03-31/functions/{function}/invocations",
        b'{"phoneNumber": "+12065550100"}',
        {"Content-Type": "text/plain;charset=UTF-8", "Origin": OTHER_ORIGIN},
    )
    assert status == 403, body
    assert body["error"]["code"] == "cross_origin_refused"
    assert not door.acted()


def test_the_invoke_api_refuses_unsigned_calls_and_other_content_types(door: Door) -> None:
    path = "/2015-03-31/functions/OptInFunction/invocations"
    unsigned = door.request("POST", path, b"{}", {"Content-Type": "application/json"})
    forged_shape = door.request("POST", path, b"{}", {"Authorization": "AWS4-HMAC-SHA256 x"})
    wrong_service = door.request(
        "POST", path, b"{}", {"Authorization": SIGNED.format(service="states")}
    )
    form = door.request(
        "POST",
        path,
        b"a=b",
        {
            "Content-Type": "application/x-www-form-urlencoded",
            "Authorization": SIGNED.format(service="lambda"),
        },
    )
    get = door.request("GET", path, None, {"Authorization": SIGNED.format(service="lambda")})

    assert unsigned[0] == 403 and unsigned[2]["__type"] == "MissingAuthenticationTokenException"
    assert forged_shape[0] == 403 and forged_shape[2]["__type"] == "IncompleteSignatureException"
    assert wrong_service[0] == 403 and wrong_service[2]["__type"] == "InvalidSignatureException"
    assert form[0] == 415
    assert get[0] == 405 and get[1]["allow"] == "POST"
    assert not door.acted()


def test_a_signed_sdk_call_invokes_the_function(door: Door) -> None:
    client: Any = boto3.client(
        "lambda",
        endpoint_url=f"http://127.0.0.1:{door.port}",
        region_name="us-east-1",
        aws_access_key_id="any",
        aws_secret_access_key="any",
        config=Config(retries={"max_attempts": 1}),
    )
    result = client.invoke(FunctionName="OptInFunction", Payload=b'{"a": 1}')
    assert json.loads(result["Payload"].read()) == {"ok": True}
    assert door.runner.calls == [("OptInFunction", {"a": 1})]
    # Over Lambda's 6 MB: AWS's 413 and error type, as the SDK reads them.
    with pytest.raises(client.exceptions.RequestTooLargeException) as refused:
        client.invoke(FunctionName="OptInFunction", Payload=b'{"too": "big"}')
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413


def test_the_invoke_api_is_not_served_without_an_external_step_functions(tmp_path: Path) -> None:
    for door in start_door(tmp_path, serve_lambda_invoke=False):
        status, _, body = door.request(
            "POST",
            "/2015-03-31/functions/OptInFunction/invocations",
            b"{}",
            {"Authorization": SIGNED.format(service="lambda")},
        )
        assert status == 404, body
        assert not door.acted()


# --- Step Functions: UpdateStateMachine, task tokens ---


@pytest.mark.parametrize("operation", ["UpdateStateMachine", "GetExecutionHistory"])
def test_the_step_functions_api_refuses_what_a_browser_can_send(door: Door, operation: str) -> None:
    body = json.dumps({"stateMachineArn": "arn:aws:states:us-east-1:123456789012:x"}).encode()
    no_cors = door.request(
        "POST", "/", body, {"Content-Type": "text/plain", "Origin": OTHER_ORIGIN}
    )
    # Even a page that could set the target (it cannot without a preflight) gets no further.
    unsigned = door.request(
        "POST",
        "/",
        body,
        {
            "Content-Type": "application/x-amz-json-1.0",
            "X-Amz-Target": f"AWSStepFunctions.{operation}",
        },
    )
    wrong_type = door.request(
        "POST",
        "/",
        body,
        {
            "Content-Type": "text/plain",
            "X-Amz-Target": f"AWSStepFunctions.{operation}",
            "Authorization": SIGNED.format(service="states"),
        },
    )
    assert no_cors[0] == 403
    assert unsigned[0] == 403 and unsigned[2]["__type"] == "MissingAuthenticationTokenException"
    assert wrong_type[0] == 415
    assert door.stepfunctions.targets == []


def test_a_preflight_for_the_aws_apis_grants_nothing(door: Door) -> None:
    status, headers, _ = door.request(
        "OPTIONS",
        "/",
        None,
        {"Origin": OTHER_ORIGIN, "Access-Control-Request-Method": "POST"},
    )
    assert status == 405
    assert "access-control-allow-origin" not in headers


def test_signed_step_functions_and_sms_calls_pass(door: Door) -> None:
    sfn = door.request(
        "POST",
        "/",
        b"{}",
        {
            "Content-Type": "application/x-amz-json-1.0",
            "X-Amz-Target": "AWSStepFunctions.ListStateMachines",
            "Authorization": SIGNED.format(service="states"),
        },
    )
    sms_wrong_scope = door.request(
        "POST",
        "/",
        b"{}",
        {
            "Content-Type": "application/x-amz-json-1.0",
            "X-Amz-Target": "PinpointSMSVoiceV2.SendTextMessage",
            "Authorization": SIGNED.format(service="states"),
        },
    )
    assert sfn[0] == 200
    assert door.stepfunctions.targets == ["AWSStepFunctions.ListStateMachines"]
    assert sms_wrong_scope[0] == 403


# --- the sandbox and the pages: Origin, Host (DNS rebinding), headers ---


def test_a_cross_origin_form_post_cannot_text_in_a_yes(door: Door) -> None:
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "application/json"):
        status, _, body = door.request(
            "POST",
            "/sandbox/inbound",
            b'{"from": "+12065550100", "body": "YES"}',
            {"Content-Type": content_type, "Origin": OTHER_ORIGIN},
        )
        assert status == 403, body
    null_origin = door.request(
        "POST", "/sandbox/inbound", b"{}", {"Content-Type": "text/plain", "Origin": "null"}
    )
    assert null_origin[0] == 403
    assert not door.acted()


def test_a_same_origin_page_and_a_non_browser_client_may_text_in(door: Door) -> None:
    own = f"http://127.0.0.1:{door.port}"
    payload = b'{"from": "+12065550100", "body": "YES"}'
    page = door.request(
        "POST", "/sandbox/inbound", payload, {"Content-Type": "application/json", "Origin": own}
    )
    curl = door.request("POST", "/sandbox/inbound", payload, {"Content-Type": "application/json"})
    assert page[0] == 202 and curl[0] == 202
    assert len(door.sandbox.messages("+12065550100")) == 2


def test_another_origin_cannot_read_the_sandbox(door: Door) -> None:
    status, _, body = door.request(
        "GET",
        "/sandbox/conversations",
        None,
        {"Sec-Fetch-Site": "same-site", "Sec-Fetch-Mode": "no-cors", "Origin": OTHER_ORIGIN},
    )
    assert status == 403, body


def test_the_public_sign_up_api_answers_its_allowed_origin_only(door: Door) -> None:
    allowed = door.request(
        "POST",
        "/signups",
        b"{}",
        {"Content-Type": "application/json", "Origin": "https://example.com"},
    )
    other = door.request(
        "POST", "/signups", b"{}", {"Content-Type": "text/plain", "Origin": OTHER_ORIGIN}
    )
    preflight = door.request(
        "OPTIONS",
        "/signups",
        None,
        {"Origin": "https://example.com", "Access-Control-Request-Method": "POST"},
    )
    assert allowed[0] == 202
    assert other[0] == 403
    assert [name for name, _ in door.runner.calls] == ["SignupFunction"]
    assert preflight[0] == 204
    assert preflight[1]["access-control-allow-origin"] == "https://example.com"


@pytest.mark.parametrize("path", ["/", "/sandbox/conversations", "/disclosure", "/simulator.html"])
def test_a_dns_rebound_host_is_refused(door: Door, path: str) -> None:
    status, headers, body = door.request("GET", path, None, {"Host": f"evil.example:{door.port}"})
    assert status == 421
    assert headers["content-type"] == "application/json"
    assert body["error"]["code"] == "misdirected_request"
    assert not door.acted()


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "[::1]"])
def test_loopback_names_are_served(door: Door, host: str) -> None:
    status, _, _ = door.request("GET", "/sandbox/conversations", None, {"Host": f"{host}:80"})
    assert status == 200


@pytest.mark.parametrize("path", ["/", "/simulator.html", "/sandbox/conversations", "/nope"])
def test_every_answer_carries_the_browser_protections(door: Door, path: str) -> None:
    _, headers, _ = door.request("GET", path)
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["x-frame-options"] == "DENY"


def test_pages_allow_no_inline_script() -> None:
    # The CSP forbids inline script and style: the pages must have none to keep working.
    for page in (REPO / "web").glob("*.html"):
        text = page.read_text()
        assert "<script>" not in text and " style=" not in text and "<style" not in text, page
        assert " onclick=" not in text and "javascript:" not in text, page
    assert "'unsafe-inline'" not in security.PAGE_CSP


# --- --host 0.0.0.0: the shared secret ---


def test_an_exposed_port_needs_the_secret_for_all_but_the_public_form(exposed: Door) -> None:
    lan = {"Host": "192.168.1.5"}  # as a request from another machine names this one
    sandbox = exposed.request("GET", "/sandbox/conversations", None, lan)
    simulator = exposed.request("GET", "/simulator.html", None, lan)
    form = exposed.request("GET", "/", None, lan)
    disclosure = exposed.request("GET", "/disclosure", None, lan)
    wrong = exposed.request("GET", "/sandbox/conversations", None, {**lan, "X-Local-Secret": "no"})
    right = exposed.request(
        "GET", "/sandbox/conversations", None, {**lan, "X-Local-Secret": "s3cret"}
    )
    assert sandbox[0] == 401 and sandbox[2]["error"]["code"] == "secret_required"
    assert simulator[0] == 401
    assert wrong[0] == 401
    assert form[0] == 200 and disclosure[0] == 202  # the fake function answers 202
    assert right[0] == 200


def test_the_secret_link_sets_a_strict_cookie_and_the_sdk_may_use_it_as_key(exposed: Door) -> None:
    lan = {"Host": "192.168.1.5"}
    status, headers, _ = exposed.request(
        "GET", "/simulator.html?local_secret=s3cret&x=1", None, lan
    )
    assert status == 303
    assert headers["location"] == "/simulator.html?x=1"
    assert "SameSite=Strict" in headers["set-cookie"] and "HttpOnly" in headers["set-cookie"]
    cookie = exposed.request(
        "GET", "/simulator.html", None, {**lan, "Cookie": "local_secret=s3cret"}
    )
    assert cookie[0] == 200
    signed = SIGNED.replace("Credential=local", "Credential=s3cret").format(service="states")
    unsigned_key = SIGNED.format(service="states")
    aws = {
        **lan,
        "Content-Type": "application/x-amz-json-1.0",
        "X-Amz-Target": "AWSStepFunctions.ListStateMachines",
    }
    assert exposed.request("POST", "/", b"{}", {**aws, "Authorization": unsigned_key})[0] == 401
    assert exposed.request("POST", "/", b"{}", {**aws, "Authorization": signed})[0] == 200


def test_this_machine_needs_no_secret_by_a_loopback_name(exposed: Door) -> None:
    # The functions' own boto3 calls come back over loopback with a loopback Host.
    assert exposed.request("GET", "/sandbox/conversations")[0] == 200


def test_the_banner_warns_and_shows_the_secret_only_when_exposed() -> None:
    exposed = "\n".join(security.banner_lines("0.0.0.0", "http://127.0.0.1:8000", "abc"))
    assert "WARNING" in exposed and "abc" in exposed
    assert security.banner_lines("127.0.0.1", "http://127.0.0.1:8000", None) == []
    assert parse_args(["--host", "0.0.0.0", "--secret", "xyz"]).secret == "xyz"
    assert parse_args([]).secret is None
