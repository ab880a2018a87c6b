"""The support console's read API (API Gateway REST API, behind a Lambda authorizer):

* GET /console/api/signups?q=&status=&outcome=&channel=&from=&to=&limit=&cursor=&format=&sort=
  (sort=expiry: the PENDING sign-ups soonest to expire first; status=PENDING required)
  (format=csv: every page of the filtered list as a CSV attachment, up to a cap)
* GET /console/api/signups/{registrationId}
* GET /console/api/funnel?from=YYYY-MM-DD&to=YYYY-MM-DD&format= (the daily funnel; without
  from and to, the 30 UTC days ending today)

The authorizer puts the signed-in user into requestContext.authorizer ({"principalId",
"username", "role"}). Without it nothing is answered (401); a role other than viewer or
agent is refused (403); a viewer sees phone numbers masked.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from optin import wiring
from optin.domain.contact import Status
from optin.domain.errors import ContactNotFound, StoreUnavailable, WorkflowUnavailable
from optin.domain.funnel import FunnelRange
from optin.domain.outcome import OutcomeCode
from optin.domain.session import signed_in
from optin.handlers.http import add_error_handlers, error_response, json_response
from optin.observability import logger, metrics, tracer
from optin.ports.contact_store import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, Order
from optin.usecases.console import CHANNELS, BadRequest, ListRequest

ROLES = ("viewer", "agent")
FORMATS = ("json", "csv")
# The funnel's range when the request names none: the 30 UTC days ending today.
DEFAULT_FUNNEL_DAYS = 30

app = APIGatewayRestResolver()
add_error_handlers(app)


class Unauthenticated(Exception):
    pass


class Forbidden(Exception):
    pass


def _viewer() -> bool:
    """True for a viewer, False for an agent; raises for anyone else."""
    user = signed_in(app.current_event.raw_event)
    if user is None:
        raise Unauthenticated()
    if user.role not in ROLES:
        raise Forbidden()
    logger.append_keys(user=user.username, role=user.role)
    return user.role == "viewer"


def _moment(name: str, raw: str, *, end_of_day: bool) -> datetime:
    """A date (2026-11-01: that whole day) or a date and time; naive times are UTC."""
    try:
        if len(raw) == 10:
            day = datetime.strptime(raw, "%Y-%m-%d").date()
            start = datetime.combine(day, time(), tzinfo=UTC)
            return start + timedelta(days=1, microseconds=-1) if end_of_day else start
        # An unencoded "+" in a query string arrives as a space: "…T12:00:00 01:00".
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00").replace(" ", "+"))
    except ValueError:
        raise BadRequest(
            "invalid_date",
            f"'{name}' must be a date like 2026-11-01 or a time like 2026-11-01T12:00:00Z.",
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _list_request(params: dict[str, str]) -> ListRequest:
    status = (params.get("status") or "").strip()
    if status and status.upper() != "ALL":
        if status.upper() not in Status.__members__:
            raise BadRequest(
                "invalid_status",
                f"'status' must be one of {', '.join(Status)} (or empty for all).",
            )
        statuses: tuple[Status, ...] = (Status(status.upper()),)
    else:
        statuses = tuple(Status)
    outcome_text = (params.get("outcome") or "").strip()
    outcome = None
    if outcome_text:
        if outcome_text not in {code.value for code in OutcomeCode}:
            raise BadRequest(
                "invalid_outcome", f"'outcome' must be one of {', '.join(OutcomeCode)}."
            )
        outcome = OutcomeCode(outcome_text)
    channel = (params.get("channel") or "").strip().lower() or None
    if channel is not None and channel not in CHANNELS:
        raise BadRequest("invalid_channel", "'channel' must be web or api.")
    raw_limit = (params.get("limit") or "").strip()
    limit = DEFAULT_PAGE_SIZE
    if raw_limit:
        if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= MAX_PAGE_SIZE:
            raise BadRequest(
                "invalid_limit", f"'limit' must be a whole number from 1 to {MAX_PAGE_SIZE}."
            )
        limit = int(raw_limit)
    start = params.get("from", "").strip()
    end = params.get("to", "").strip()
    updated_from = _moment("from", start, end_of_day=False) if start else None
    updated_to = _moment("to", end, end_of_day=True) if end else None
    if updated_from and updated_to and updated_from > updated_to:
        raise BadRequest("invalid_date_range", "'from' must not be later than 'to'.")
    return ListRequest(
        q=params.get("q") or None,
        statuses=statuses,
        outcome=outcome,
        channel=channel,
        updated_from=updated_from,
        updated_to=updated_to,
        limit=limit,
        cursor=(params.get("cursor") or "").strip() or None,
    )


def _format(params: dict[str, str]) -> str:
    wanted = (params.get("format") or "json").strip().lower()
    if wanted not in FORMATS:
        raise BadRequest("invalid_format", "'format' must be json or csv.")
    return wanted


def _order(params: dict[str, str]) -> Order:
    """newest (the default: last change first) or expiry (PENDING only, soonest first;
    Console refuses it for other statuses with unsupported_sort)."""
    wanted = (params.get("sort") or Order.NEWEST).strip().lower()
    try:
        return Order(wanted)
    except ValueError:
        raise BadRequest("invalid_sort", "'sort' must be newest or expiry.") from None


def _csv(body: str, name: str) -> Response[str]:
    return Response(
        status_code=200,
        content_type="text/csv; charset=utf-8",
        body=body,
        headers={
            "Cache-Control": "no-store",
            "Content-Disposition": f'attachment; filename="{name}"',
            "X-Content-Type-Options": "nosniff",
        },
    )


@app.get("/console/api/signups")
def list_signups() -> Response[str]:
    viewer = _viewer()
    params = dict(app.current_event.query_string_parameters or {})
    wanted = _format(params)
    request = replace(_list_request(params), order=_order(params))
    console = wiring.dependencies().console
    if wanted == "csv":
        metrics.add_metric(name="ConsoleExport", unit=MetricUnit.Count, value=1)
        today = console.clock().date().isoformat()
        return _csv(console.export_signups(request, viewer=viewer), f"signups-{today}.csv")
    metrics.add_metric(name="ConsoleList", unit=MetricUnit.Count, value=1)
    return json_response(200, console.list_signups(request, viewer=viewer))


@app.get("/console/api/funnel")
def funnel() -> Response[str]:
    _viewer()
    params = dict(app.current_event.query_string_parameters or {})
    wanted = _format(params)
    console = wiring.dependencies().console
    start = (params.get("from") or "").strip()
    end = (params.get("to") or "").strip()
    if not start and not end:
        today = console.clock().astimezone(UTC).date()
        start = (today - timedelta(days=DEFAULT_FUNNEL_DAYS - 1)).isoformat()
        end = today.isoformat()
    elif not start or not end:
        raise BadRequest(
            "invalid_date_range", "Give both 'from' and 'to' (dates like 2026-11-01), or neither."
        )
    try:
        span = FunnelRange.parse(start, end)
    except ValueError as error:
        raise BadRequest("invalid_date_range", str(error)) from None
    metrics.add_metric(name="ConsoleFunnel", unit=MetricUnit.Count, value=1)
    if wanted == "csv":
        name = f"funnel-{span.first.isoformat()}-{span.last.isoformat()}.csv"
        return _csv(console.funnel_csv(span), name)
    return json_response(200, console.funnel(span))


@app.get("/console/api/signups/<registration_id>")
def get_signup(registration_id: str) -> Response[str]:
    viewer = _viewer()
    metrics.add_metric(name="ConsoleSignup", unit=MetricUnit.Count, value=1)
    page = wiring.dependencies().console.signup(registration_id, viewer=viewer)
    return json_response(200, page)


@app.exception_handler(Unauthenticated)
def unauthenticated(_error: Unauthenticated) -> Response[str]:
    return error_response(401, "unauthenticated", "Sign in to use the support console.")


@app.exception_handler(Forbidden)
def forbidden(_error: Forbidden) -> Response[str]:
    return error_response(403, "forbidden", "Your account has no console role (viewer or agent).")


@app.exception_handler(BadRequest)
def bad_request(error: BadRequest) -> Response[str]:
    return error_response(400, error.code, error.message)


@app.exception_handler(ContactNotFound)
def not_found(error: ContactNotFound) -> Response[str]:
    return error_response(404, "not_found", error.message)


@app.exception_handler(StoreUnavailable)
@app.exception_handler(WorkflowUnavailable)
def unavailable(error: StoreUnavailable | WorkflowUnavailable) -> Response[str]:
    logger.warning("console read failed", extra={"error": error.message})
    return error_response(
        503, "unavailable", "The console cannot read this now. Try again in a moment."
    )


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
