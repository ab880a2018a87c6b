"""JSON responses and the error shape every API route uses:
`{"error": {"code": "machine_readable", "message": "A sentence for a person."}}`."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.metrics import MetricUnit

from optin.domain.errors import ConfigError
from optin.domain.send_limits import COUNTRY_BLOCKED, DailyCapReached, SendBlocked
from optin.observability import logger, metrics


class DuplicateKeyError(ValueError):
    """A JSON object names one key twice. json.loads keeps the last value silently, so
    `{"consent": false, "consent": true}` would read as consent given while a log, proxy or
    WAF that keeps the first sees a refusal: such bodies are refused, never guessed at."""

    def __init__(self, key: str) -> None:
        super().__init__(f"duplicate key {key!r}")
        self.key = key


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise DuplicateKeyError(key)
        seen[key] = value
    return seen


def loads_strict(raw: str | bytes) -> Any:
    """json.loads, refusing a key repeated in any object of the document (nested ones too).
    Raises DuplicateKeyError (a ValueError) for a repeated key, ValueError for bad JSON."""
    return json.loads(raw, object_pairs_hook=_unique_keys)


def duplicate_key_message(key: str) -> str:
    """The sentence every API answers a repeated key with (code `duplicate_key`)."""
    # The key is the caller's own text: quoted through JSON and cut short, it stays one
    # readable line whatever it contains.
    shown = json.dumps(key[:64])
    return f"The key {shown} appears more than once in the body; send each key once."


# One metric per brake, so a dashboard can tell them apart without a dimension (numbers
# never go in dimensions, and a per-invocation dimension would tag every other metric too).
_BLOCKED_METRICS = {COUNTRY_BLOCKED: "SendBlockedByProtectConfiguration"}


def count_blocked_send(error: Exception) -> None:
    """Count a confirmation text a defence stopped: the daily cap, MaxPrice or the protect
    configuration. Other errors are not counted here."""
    # A use case may wrap the SMS refusal (SendConfirmation raises Undeliverable from it).
    cause = error.__cause__
    if not isinstance(error, DailyCapReached | SendBlocked) and isinstance(cause, SendBlocked):
        error = cause
    if isinstance(error, DailyCapReached):
        name = "DailyCapReached"
    elif isinstance(error, SendBlocked):
        name = _BLOCKED_METRICS.get(error.reason, "SendBlockedByMaxPrice")
    else:
        return
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)


def json_response(
    status: int, body: dict[str, Any], headers: dict[str, str] | None = None
) -> Response[str]:
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=json.dumps(body),
        headers={"Cache-Control": "no-store", **(headers or {})},
    )


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> Response[str]:
    return json_response(status, {"error": {"code": code, "message": message}}, headers)


def add_error_handlers(app: APIGatewayRestResolver) -> None:
    """What every API function answers for an unknown route or an error nothing else caught."""

    @app.not_found
    def not_found(_error: NotFoundError) -> Response[str]:
        metrics.add_metric(name="RouteNotFound", unit=MetricUnit.Count, value=1)
        return error_response(404, "not_found", "There is nothing at this address.")

    @app.exception_handler(ConfigError)
    def config_error(error: ConfigError) -> Response[str]:
        logger.error("configuration error", extra={"error": error.message})
        return error_response(
            500, "configuration_error", "The service is not configured correctly."
        )

    @app.exception_handler(Exception)
    def unexpected(_error: Exception) -> Response[str]:
        # Logged with its traceback; the caller gets a sentence, never the trace.
        logger.exception("unexpected error")
        return error_response(500, "internal_error", "Something went wrong on our side.")
