"""API Gateway Lambda REQUEST authorizer for the support console's routes.

Allows a request whose session cookie holds an access token the user pool accepts, for a user
in the viewer or agent group, with the signed-in user as context (the shared contract:
principalId, username, role). No cookie or a token that does not work: Unauthorized (401).
A user in no group, or a state-changing request without the console's own Origin and a JSON
content type: Deny (403) with errorCode/errorMessage in the context, which the template's
ACCESS_DENIED gateway response puts in the API's error shape.

API Gateway caches the answer per Cookie value (ReauthorizeEvery), for every method: so the
Allow covers the console's routes, and a cached Allow skips the Origin check here. Functions
that change something therefore apply the same rule themselves
(optin.domain.session.check_state_changing), as the session function does.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from optin import identity_wiring
from optin.domain.session import (
    CrossSiteRequest,
    NoRole,
    TokenRejected,
    check_state_changing,
    header,
    token_from_cookies,
)
from optin.observability import logger, metrics, tracer

# API Gateway answers 401 for a Lambda authorizer that fails with exactly this message.
UNAUTHORIZED = "Unauthorized"


class Unauthorized(Exception):
    def __init__(self) -> None:
        super().__init__(UNAUTHORIZED)


def _resource(method_arn: str) -> str:
    """Every console route of the stage the request came to: the cached answer is reused for
    the user's next requests, whatever route and method they go to."""
    api, _, rest = method_arn.partition("/")
    stage = rest.split("/", 1)[0]
    return f"{api}/{stage}/*/console/*"


def _policy(
    effect: str, principal: str, method_arn: str, context: dict[str, str]
) -> dict[str, Any]:
    return {
        "principalId": principal,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Action": "execute-api:Invoke",
                    "Effect": effect,
                    "Resource": _resource(method_arn) if effect == "Allow" else method_arn,
                }
            ],
        },
        "context": context,
    }


def authorize(event: dict[str, Any]) -> dict[str, Any]:
    headers = event.get("headers") or {}
    method_arn = str(event.get("methodArn") or "")
    token = token_from_cookies(header(headers, "cookie"))
    if not token:
        raise Unauthorized()
    try:
        session = identity_wiring.sessions().current(token)
    except TokenRejected:
        metrics.add_metric(name="ConsoleTokenRejected", unit=MetricUnit.Count, value=1)
        raise Unauthorized() from None
    except NoRole as refusal:
        return _policy(
            "Deny",
            "unknown",
            method_arn,
            {"errorCode": refusal.code, "errorMessage": refusal.message},
        )
    try:
        check_state_changing(
            str(event.get("httpMethod") or ""), headers, identity_wiring.console_origin()
        )
    except CrossSiteRequest as refusal:
        metrics.add_metric(name="ConsoleCrossSiteRefused", unit=MetricUnit.Count, value=1)
        return _policy(
            "Deny",
            session.username,
            method_arn,
            {"errorCode": refusal.code, "errorMessage": refusal.message},
        )
    logger.append_keys(username=session.username, role=session.role)
    return _policy("Allow", session.username, method_arn, session.authorizer_context())


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return authorize(event)
