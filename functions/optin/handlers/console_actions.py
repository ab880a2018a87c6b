"""The support console's agent actions (API Gateway REST API, behind the Lambda authorizer):

POST /console/api/signups/{registrationId}/{resend|cancel|expire|opt-out|repair}
with the JSON body {"reason": "<why, 1..500 characters>"}.

A separate function from the read API (handlers/console.py) because it may write contacts,
send texts and stop executions, which the read API's role must not allow. The authorizer
may answer from its cache without looking at the request again, so this handler checks the
request's origin itself (check_state_changing) before anything else; then the user (401
without one), the role (403 unless agent), the reason. It answers with the sign-up's page,
as GET /console/api/signups/{registrationId} does, after the action.
"""

from __future__ import annotations

import re
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from optin import identity_wiring, wiring
from optin.domain.errors import (
    ContactNotFound,
    ResendCooldown,
    ResendLimit,
    SmsError,
    SmsRejected,
    StoreUnavailable,
    TransitionConflict,
    WorkflowUnavailable,
)
from optin.domain.send_limits import DailyCapReached
from optin.domain.session import SessionError, check_state_changing, signed_in
from optin.handlers.http import (
    DuplicateKeyError,
    add_error_handlers,
    count_blocked_send,
    duplicate_key_message,
    error_response,
    json_response,
    loads_strict,
)
from optin.observability import logger, metrics, tracer
from optin.usecases.console_actions import Action, ActionRefused, AgentRequest, check_reason

app = APIGatewayRestResolver()
add_error_handlers(app)

BASE = "/console/api/signups/<registration_id>"
_REGISTRATION_ID = re.compile(r"[A-Za-z0-9_-]{1,80}")


class Unauthenticated(Exception):
    pass


class Forbidden(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _agent() -> str:
    """The signed-in agent's username; raises for nobody, a viewer or an unknown role."""
    user = signed_in(app.current_event.raw_event)
    if user is None:
        raise Unauthenticated()
    logger.append_keys(user=user.username, role=user.role)
    if user.role == "viewer":
        raise Forbidden("Viewers can look but not act: ask an agent to do this.")
    if user.role != "agent":
        raise Forbidden("Your account has no console role (viewer or agent).")
    return user.username


def _reason() -> str:
    try:
        body = loads_strict(app.current_event.body or "")
    except DuplicateKeyError as error:
        metrics.add_metric(name="DuplicateKeyRefused", unit=MetricUnit.Count, value=1)
        raise ActionRefused("duplicate_key", duplicate_key_message(error.key), status=400) from None
    except ValueError:
        raise ActionRefused(
            "invalid_json", 'The body is not valid JSON: send {"reason": "…"}.', status=400
        ) from None
    if not isinstance(body, dict):
        raise ActionRefused("body_not_object", 'Send a JSON object: {"reason": "…"}.', status=400)
    return check_reason(body.get("reason"))


def _act(registration_id: str, action: Action) -> Response[str]:
    # Counted before any refusal: refused requests (cross-site ones above all) show too.
    metrics.add_metric(name="ConsoleActionRequest", unit=MetricUnit.Count, value=1)
    check_state_changing(
        app.current_event.http_method,
        dict(app.current_event.headers or {}),
        identity_wiring.console_origin(),
    )
    username = _agent()
    if not _REGISTRATION_ID.fullmatch(registration_id):
        raise ActionRefused(
            "invalid_registration_id",
            "A registrationId is letters, digits, dashes and underscores (at most 80).",
            status=400,
        )
    why = _reason()
    deps = wiring.dependencies()
    outcome = deps.console_actions.act(AgentRequest(action, registration_id, username, why))
    metrics.add_metric(name="ConsoleAction", unit=MetricUnit.Count, value=1)
    if outcome == "retry":
        metrics.add_metric(name="ConsoleActionRetried", unit=MetricUnit.Count, value=1)
    # An agent's page: numbers unmasked.
    return json_response(200, deps.console.signup(registration_id, viewer=False))


@app.post(f"{BASE}/resend")
def resend(registration_id: str) -> Response[str]:
    return _act(registration_id, Action.RESEND)


@app.post(f"{BASE}/cancel")
def cancel(registration_id: str) -> Response[str]:
    return _act(registration_id, Action.CANCEL)


@app.post(f"{BASE}/expire")
def expire(registration_id: str) -> Response[str]:
    return _act(registration_id, Action.EXPIRE)


@app.post(f"{BASE}/opt-out")
def opt_out(registration_id: str) -> Response[str]:
    return _act(registration_id, Action.OPT_OUT)


@app.post(f"{BASE}/repair")
def repair(registration_id: str) -> Response[str]:
    return _act(registration_id, Action.REPAIR)


@app.exception_handler(SessionError)
def session_refused(error: SessionError) -> Response[str]:
    return error_response(error.status, error.code, error.message)


@app.exception_handler(Unauthenticated)
def unauthenticated(_error: Unauthenticated) -> Response[str]:
    return error_response(401, "unauthenticated", "Sign in to use the support console.")


@app.exception_handler(Forbidden)
def forbidden(error: Forbidden) -> Response[str]:
    return error_response(403, "forbidden", error.message)


@app.exception_handler(ActionRefused)
def refused(error: ActionRefused) -> Response[str]:
    return error_response(error.status, error.code, error.message)


@app.exception_handler(ContactNotFound)
def not_found(error: ContactNotFound) -> Response[str]:
    return error_response(404, "not_found", error.message)


@app.exception_handler(ResendCooldown)
def cooldown(error: ResendCooldown) -> Response[str]:
    wait = error.retry_after_seconds
    return json_response(
        429,
        {"error": {"code": "cooldown", "message": error.message, "retryAfterSeconds": wait}},
        {"Retry-After": str(wait)},
    )


@app.exception_handler(DailyCapReached)
def daily_cap(error: DailyCapReached) -> Response[str]:
    count_blocked_send(error)
    wait = error.retry_after_seconds
    return json_response(
        429,
        {"error": {"code": error.code, "message": error.message, "retryAfterSeconds": wait}},
        {"Retry-After": str(wait)},
    )


@app.exception_handler(ResendLimit)
def send_limit(error: ResendLimit) -> Response[str]:
    return error_response(409, "send_limit", error.message)


@app.exception_handler(SmsRejected)
def undeliverable(error: SmsRejected) -> Response[str]:
    logger.warning("console resend refused by the SMS service", extra={"error": error.code})
    count_blocked_send(error)
    return error_response(
        409, "undeliverable", "The SMS service refused to text this number; nothing was sent."
    )


@app.exception_handler(SmsError)
@app.exception_handler(StoreUnavailable)
@app.exception_handler(WorkflowUnavailable)
@app.exception_handler(TransitionConflict)
def unavailable(
    error: SmsError | StoreUnavailable | WorkflowUnavailable | TransitionConflict,
) -> Response[str]:
    logger.warning("console action could not finish", extra={"error": error.message})
    return error_response(
        503,
        "unavailable",
        "This could not be finished now. Try again in a moment: repeating the same request "
        "is safe (it is never done twice).",
    )


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
