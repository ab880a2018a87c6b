"""/console/api/session: sign in (POST), who is signed in (GET), sign out (DELETE).

POST {"username", "password"} signs in with the user pool and sets the session cookie
(HttpOnly, SameSite=Strict, Path=/console/api, Max-Age = the token's lifetime, Secure over
HTTPS). GET runs behind the console's authorizer and answers what it put in the request
context. DELETE signs the user out everywhere and clears the cookie, whatever state the token
is in. POST and DELETE must come from the console's own page (Origin) as JSON.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from optin import identity_wiring
from optin.domain.session import (
    SessionError,
    check_state_changing,
    cleared_cookie,
    header,
    is_https,
    session_cookie,
    token_from_cookies,
)
from optin.handlers.http import (
    DuplicateKeyError,
    add_error_handlers,
    duplicate_key_message,
    error_response,
    json_response,
    loads_strict,
)
from optin.observability import logger, metrics, tracer

app = APIGatewayRestResolver()
add_error_handlers(app)

PATH = "/console/api/session"


@app.exception_handler(SessionError)
def refused(error: SessionError) -> Response[str]:
    metrics.add_metric(name=f"ConsoleSession{type(error).__name__}", unit=MetricUnit.Count, value=1)
    return error_response(error.status, error.code, error.message)


def _headers() -> dict[str, str]:
    return dict(app.current_event.headers or {})


@app.get(PATH)
def current() -> Response[str]:
    context = (app.current_event.raw_event.get("requestContext") or {}).get("authorizer") or {}
    username, role = context.get("username"), context.get("role")
    if not username or role not in ("viewer", "agent"):
        # Only reachable without the authorizer in front (a template changed by mistake).
        return error_response(401, "unauthenticated", "Sign in to use the support console.")
    return json_response(200, {"username": username, "role": role})


@app.post(PATH)
def sign_in() -> Response[str]:
    headers = _headers()
    check_state_changing("POST", headers, identity_wiring.console_origin())
    try:
        body = loads_strict(app.current_event.body or "")
    except DuplicateKeyError as error:
        # Two passwords in one body: which one was meant is not ours to guess.
        metrics.add_metric(name="DuplicateKeyRefused", unit=MetricUnit.Count, value=1)
        return error_response(400, "duplicate_key", duplicate_key_message(error.key))
    except ValueError:
        return error_response(400, "invalid_json", "The body is not valid JSON.")
    if not isinstance(body, dict):
        return error_response(
            400, "body_not_object", 'Send a JSON object: {"username": …, "password": …}.'
        )
    username, password = body.get("username"), body.get("password")
    if not isinstance(username, str) or not isinstance(password, str) or not username.strip():
        return error_response(
            400, "missing_credentials", "Give a username and a password, both as text."
        )
    signed_in = identity_wiring.sessions().sign_in(username.strip(), password)
    logger.info("console sign-in", extra={"username": signed_in.session.username})
    metrics.add_metric(name="ConsoleSignIn", unit=MetricUnit.Count, value=1)
    cookie = session_cookie(
        signed_in.token.access_token, signed_in.token.expires_in, secure=is_https(headers)
    )
    return json_response(200, signed_in.session.as_dict(), {"Set-Cookie": cookie})


@app.delete(PATH)
def sign_out() -> Response[str]:
    headers = _headers()
    check_state_changing("DELETE", headers, identity_wiring.console_origin())
    token = token_from_cookies(header(headers, "cookie"))
    if token:
        identity_wiring.sessions().sign_out(token)
    return json_response(
        200, {"signedOut": True}, {"Set-Cookie": cleared_cookie(secure=is_https(headers))}
    )


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
