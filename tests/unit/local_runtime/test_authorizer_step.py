"""The runtime's Lambda authorizer step, as API Gateway evaluates an authorizer's answer: the
policy must Allow the method's ARN and not Deny it; the context reaches the function as
strings; refusals are the template's gateway responses, filled in safely."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from starlette.datastructures import Headers

from local.runtime.http_api import Call, Handlers, Reply, Runtime, _policy_decision
from local.runtime.template import load_application
from local.stepfunctions import LambdaFunctionError

REPO = Path(__file__).resolve().parents[3]
ARN = "arn:aws:execute-api:us-east-1:123456789012:local/Prod/GET/console/api/session"


def answer(effect: str = "Allow", resource: Any = ARN, **context: Any) -> dict[str, Any]:
    return {
        "principalId": "ada",
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": effect, "Resource": resource}],
        },
        "context": context,
    }


@pytest.mark.parametrize(
    ("resource", "allowed"),
    [
        (ARN, True),
        ("arn:aws:execute-api:us-east-1:123456789012:local/Prod/*/console/*", True),
        (["arn:aws:execute-api:us-east-1:123456789012:local/Prod/POST/*"], False),
        ("arn:aws:execute-api:us-east-1:123456789012:other/Prod/*", False),
    ],
)
def test_an_allow_must_match_the_methods_arn(resource: Any, allowed: bool) -> None:
    decision = _policy_decision(answer(resource=resource), ARN)
    assert decision is not None and decision[0] is allowed


def test_a_deny_wins_and_the_context_becomes_strings() -> None:
    both = answer(role="agent", n=3, ok=True)
    both["policyDocument"]["Statement"].append(
        {"Action": "execute-api:Invoke", "Effect": "Deny", "Resource": ARN}
    )
    assert _policy_decision(both, ARN) == (
        False, {"role": "agent", "n": "3", "ok": "true", "principalId": "ada"}
    )  # fmt: skip
    allowed = _policy_decision(answer(role="viewer"), ARN)
    assert allowed == (True, {"role": "viewer", "principalId": "ada"})


@pytest.mark.parametrize(
    "bad",
    [
        None,
        "Allow",
        {"policyDocument": {"Statement": []}},  # no principalId
        {**answer(), "policyDocument": "x"},
        {**answer(), "context": {"nested": {"a": 1}}},
    ],
)
def test_answers_api_gateway_would_not_accept(bad: Any) -> None:
    assert _policy_decision(bad, ARN) is None


class Runner:
    def __init__(self, result: Any = None, error: Exception | None = None) -> None:
        self.result, self.error, self.calls = result, error, []  # type: ignore[var-annotated]

    def invoke(self, function_id: str, event: Any) -> Any:
        self.calls.append((function_id, event))
        if self.error:
            raise self.error
        return self.result


def handlers(runner: Runner) -> Handlers:
    app = load_application(REPO / "template.yaml")
    return Handlers(Runtime(app, runner, None, None, REPO / "web"))  # type: ignore[arg-type]


def call(**headers: str) -> Call:
    return Call(
        "GET", "/console/api/session", "a=1", Headers(headers), b"", "127.0.0.1", "HTTP/1.1"
    )


def decide(runner: Runner, **headers: str) -> dict[str, str] | Reply:
    return handlers(runner).authorize(
        call(**headers), "ConsoleAuthorizer", "/console/api/session", {}
    )


def test_no_identity_header_is_401_without_invoking_the_authorizer() -> None:
    runner = Runner(answer())
    reply = decide(runner)
    assert isinstance(reply, Reply) and reply.status == 401
    assert json.loads(reply.body)["error"]["code"] == "unauthenticated"
    assert runner.calls == []


def test_the_request_event_is_api_gateways() -> None:
    runner = Runner(answer(resource="arn:aws:execute-api:*"))
    assert decide(runner, cookie="console_session=t") == {"principalId": "ada"}
    ((function_id, event),) = runner.calls
    assert function_id == "ConsoleAuthorizerFunction"
    assert (event["type"], event["methodArn"], event["httpMethod"]) == ("REQUEST", ARN, "GET")
    assert event["headers"]["cookie"] == "console_session=t"
    assert event["queryStringParameters"] == {"a": "1"}


def test_unauthorized_deny_and_failure() -> None:
    unauthorized = decide(
        Runner(error=LambdaFunctionError("Exception", "Unauthorized")), cookie="c=1"
    )
    assert isinstance(unauthorized, Reply) and unauthorized.status == 401
    crashed = decide(Runner(error=LambdaFunctionError("KeyError", "boom")), cookie="c=1")
    assert isinstance(crashed, Reply) and crashed.status == 500
    garbage = decide(Runner("nonsense"), cookie="c=1")
    assert isinstance(garbage, Reply) and garbage.status == 500
    hostile = 'x", "injected": "1'
    denied = decide(
        Runner(answer("Deny", errorCode="cross_site_request", errorMessage=hostile)), cookie="c=1"
    )
    assert isinstance(denied, Reply) and denied.status == 403
    # The context is escaped into the template's JSON: it cannot add members.
    assert json.loads(denied.body) == {"error": {"code": "cross_site_request", "message": hostile}}
    assert denied.headers["Cache-Control"] == "no-store"
