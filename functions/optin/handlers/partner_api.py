"""The partner API (API Gateway REST API, /v1, API key required):

POST   /v1/signups                  a number, a first name, a source, and the consent
                                    evidence the partner collected → 202 {id, status}
GET    /v1/signups/{id}             status, timestamps and the ledger of one sign-up
GET    /v1/signups?phoneNumber=…    the same for every sign-up of that number
DELETE /v1/signups/{id}             {"reason"}: opt the number out
GET    /v1/openapi.json             this API's OpenAPI 3.1 document (optin/api/partner-openapi.json,
                                    the one copy the reference page web/docs/partner-api/ is
                                    rendered from)

POST and DELETE take an Idempotency-Key header (Powertools' idempotency utility, keyed on the
API key id and the header, the method, path and body checked): the same key and request
replay the first answer (with Idempotent-Replayed: true) for 24 hours; the same key with
another request is a 409. Only answers the work returned are kept: a refusal (4xx raised
before or during the work) or a failure leaves nothing, so a corrected retry may reuse the key.

API Gateway's usage plan checks the key first on AWS (quota, throttle); this function checks
it again against the key store, because the store is where a key is revoked at once and
where the key id, the partner's identity, comes from. A partner sees only the sign-ups its
key created (usecases/partner.py): any other id is a 404.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyPersistenceLayerError,
    IdempotencyValidationError,
)
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from optin import wiring
from optin.domain.errors import (
    ConfigError,
    ContactNotFound,
    ResendCooldown,
    ResendLimit,
    SmsRejected,
    SmsUnavailable,
    StoreUnavailable,
    TransitionConflict,
    WorkflowUnavailable,
)
from optin.domain.messages import (
    FIRST_NAME_MAX_LENGTH,
    FIRST_NAME_RULE,
    is_safe_first_name,
    normalise_first_name,
)
from optin.domain.phone import mask
from optin.domain.rate_limits import Attempt, RateLimited, Surface
from optin.domain.send_limits import DailyCapReached
from optin.domain.webhooks import WebhookError
from optin.handlers import partner_webhooks
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
from optin.usecases.console_actions import ActionRefused, check_reason
from optin.usecases.partner import KeyRefused, PartnerSignup
from optin.usecases.signup import PhoneRejected

app = APIGatewayRestResolver()
add_error_handlers(app)
# The webhook routes (same key check, same errors' shape).
app.include_router(partner_webhooks.router)
app.exception_handler(WebhookError)(partner_webhooks.handle_webhook_error)

MAX_BODY_BYTES = 16 * 1024
_REGISTRATION_ID = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")
# Evidence field -> its longest accepted length (characters).
LIMITS = {
    "phoneNumber": 32,
    "firstName": FIRST_NAME_MAX_LENGTH,
    "source": 100,
    "disclosureText": 2000,
    "disclosureVersion": 64,
    "capturedAt": 40,
    "ip": 45,
    "userAgent": 512,
    "page": 2048,
}
_TOP = {"phoneNumber", "firstName", "source", "consent"}
_CONSENT = {"disclosureText", "disclosureVersion", "capturedAt", "ip", "userAgent", "page"}
_REQUIRED_CONSENT = ("disclosureText", "disclosureVersion", "capturedAt")
# Evidence older than this is not a sign-up happening now; a little ahead allows for clocks.
MAX_EVIDENCE_AGE = timedelta(days=30)
MAX_CLOCK_SKEW = timedelta(minutes=5)
IDEMPOTENCY_HEADER = "idempotency-key"
_IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,255}")  # printable ASCII, no spaces
IDEMPOTENCY_SECONDS = 24 * 60 * 60
# In the function's package (functions/ is the CodeUri), so the deployed function serves the
# same file the docs are rendered from.
OPENAPI_DOCUMENT = Path(__file__).resolve().parents[1] / "api" / "partner-openapi.json"


class BadRequest(Exception):
    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.field = code, message, field


@app.exception_handler(BadRequest)
def bad_request(error: BadRequest) -> Response[str]:
    metrics.add_metric(name="PartnerRequestRefused", unit=MetricUnit.Count, value=1)
    body: dict[str, Any] = {"code": error.code, "message": error.message}
    if error.field:
        body["field"] = error.field
    return json_response(400, {"error": body})


@app.exception_handler(KeyRefused)
def key_refused(error: KeyRefused) -> Response[str]:
    metrics.add_metric(name="PartnerKeyRefused", unit=MetricUnit.Count, value=1)
    return error_response(403, error.code, error.message)


@app.exception_handler(IdempotencyValidationError)
def idempotency_conflict(_error: IdempotencyValidationError) -> Response[str]:
    metrics.add_metric(name="PartnerIdempotencyConflict", unit=MetricUnit.Count, value=1)
    return error_response(
        409,
        "idempotency_key_reused",
        "This Idempotency-Key was used for a different request; use a new key for a new one.",
    )


@app.exception_handler(IdempotencyAlreadyInProgressError)
def idempotency_in_progress(_error: IdempotencyAlreadyInProgressError) -> Response[str]:
    return error_response(
        409,
        "idempotency_key_in_progress",
        "A request with this Idempotency-Key is still being handled; retry in a moment.",
        {"Retry-After": "1"},
    )


@app.exception_handler(IdempotencyPersistenceLayerError)
def idempotency_unavailable(error: IdempotencyPersistenceLayerError) -> Response[str]:
    logger.error("idempotency store failed", extra={"error": type(error).__name__})
    return error_response(
        503, "service_unavailable", "Try again in a minute.", {"Retry-After": "30"}
    )


@app.exception_handler(ContactNotFound)
def not_found(_error: ContactNotFound) -> Response[str]:
    return error_response(404, "not_found", "No sign-up with this id was created with this key.")


@app.exception_handler(PhoneRejected)
def phone_rejected(error: PhoneRejected) -> Response[str]:
    code = error.check.code or "invalid_phone_number"
    if code == "country_not_allowed":
        # Counted with the other blocked attempts, as the form's are (the console's table).
        wiring.dependencies().defences.count_blocked(code)
    return json_response(
        400, {"error": {"code": code, "message": str(error), "field": "phoneNumber"}}
    )


@app.exception_handler(ActionRefused)
def action_refused(error: ActionRefused) -> Response[str]:
    return error_response(error.status, error.code, error.message)


@app.exception_handler(DailyCapReached)
def daily_cap(error: DailyCapReached) -> Response[str]:
    count_blocked_send(error)
    wiring.dependencies().defences.count_blocked("daily_cap")
    return error_response(
        429, error.code, error.message, {"Retry-After": str(error.retry_after_seconds)}
    )


@app.exception_handler([ResendCooldown, ResendLimit])
def resend_refused(error: ResendCooldown | ResendLimit) -> Response[str]:
    return error_response(429, error.code, error.message)


@app.exception_handler(RateLimited)
def rate_limited(error: RateLimited) -> Response[str]:
    body = {
        "code": error.code,
        "message": error.message,
        "retryAfterSeconds": error.retry_after_seconds,
        "limit": {
            "scope": str(error.scope),
            "windowSeconds": error.window_seconds,
            "maximum": error.maximum,
        },
    }
    return json_response(429, {"error": body}, {"Retry-After": str(error.retry_after_seconds)})


@app.exception_handler(SmsRejected)
def undeliverable(_error: SmsRejected) -> Response[str]:
    return error_response(422, "undeliverable", "Text messages cannot be sent to this number.")


@app.exception_handler([SmsUnavailable, WorkflowUnavailable, StoreUnavailable, TransitionConflict])
def unavailable(error: Exception) -> Response[str]:
    logger.error("partner request failed for now", extra={"error": type(error).__name__})
    return error_response(
        503, "service_unavailable", "Try again in a minute.", {"Retry-After": "30"}
    )


def _partner() -> str:
    """The calling key's id (403 for a missing, unknown or revoked key)."""
    key = (app.current_event.headers or {}).get("x-api-key")
    record = wiring.dependencies().partners.authenticate(key)
    logger.append_keys(apiKey=record.key_id)
    return record.key_id


def _json_body() -> dict[str, Any]:
    raw = app.current_event.body or ""
    if len(raw.encode()) > MAX_BODY_BYTES:
        raise BadRequest("body_too_large", f"The body is over {MAX_BODY_BYTES} bytes.")
    try:
        body = loads_strict(raw)
    except DuplicateKeyError as error:
        raise BadRequest("duplicate_key", duplicate_key_message(error.key), error.key) from None
    except ValueError:
        raise BadRequest("invalid_json", "The body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise BadRequest("body_not_object", "Send a JSON object.")
    return body


def _text(data: dict[str, Any], name: str, *, required: bool) -> str | None:
    value = data.get(name)
    if value is None:
        if required:
            raise BadRequest("missing_field", f"{name} is required.", name)
        return None
    if not isinstance(value, str) or not value.strip():
        raise BadRequest("invalid_field", f"{name} must be non-empty text.", name)
    value = value.strip()
    if len(value) > LIMITS[name]:
        raise BadRequest(
            "field_too_long", f"{name} is {len(value)} characters; at most {LIMITS[name]}.", name
        )
    return value


def _unknown(data: dict[str, Any], allowed: set[str], where: str) -> None:
    extra = sorted(set(data) - allowed)
    if extra:
        raise BadRequest("unknown_field", f"{where} has fields this API does not take: {extra}.")


def _captured_at(raw: str) -> datetime:
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise BadRequest(
            "invalid_captured_at",
            "capturedAt is an ISO 8601 time with its offset, e.g. 2026-11-01T12:00:00Z.",
            "capturedAt",
        )
    moment = moment.astimezone(UTC)
    now = wiring.dependencies().clock()
    if moment > now + MAX_CLOCK_SKEW or moment < now - MAX_EVIDENCE_AGE:
        raise BadRequest(
            "invalid_captured_at",
            "capturedAt must be within the last 30 days and not in the future.",
            "capturedAt",
        )
    return moment


def parse_signup(body: dict[str, Any]) -> PartnerSignup:
    _unknown(body, _TOP, "The body")
    consent = body.get("consent")
    if not isinstance(consent, dict):
        raise BadRequest(
            "consent_required", "consent is an object with the evidence you collected.", "consent"
        )
    _unknown(consent, _CONSENT, "consent")
    phone = _text(body, "phoneNumber", required=True)
    assert phone is not None
    disclosure_text, version, captured = (
        _text(consent, name, required=True) for name in _REQUIRED_CONSENT
    )
    assert disclosure_text and version and captured
    ip = _text(consent, "ip", required=False)
    if ip is not None:
        try:
            ip = str(ipaddress.ip_address(ip))
        except ValueError:
            raise BadRequest("invalid_ip", "ip is an IPv4 or IPv6 address.", "ip") from None
    page = _text(consent, "page", required=False)
    if page is not None and (urlsplit(page).scheme not in ("http", "https") or "://" not in page):
        raise BadRequest("invalid_page", "page is the http(s) URL the person saw.", "page")
    first_name = _text(body, "firstName", required=False)
    if first_name is not None:
        # The name goes into the text we send: the form's rule, so no partner can make us
        # text a link or words of its choosing.
        if not is_safe_first_name(first_name):
            raise BadRequest("invalid_first_name", FIRST_NAME_RULE, "firstName")
        first_name = normalise_first_name(first_name)
    return PartnerSignup(
        phone_number=phone,
        first_name=first_name,
        source=_text(body, "source", required=False),
        disclosure_text=disclosure_text,
        disclosure_version=version,
        captured_at=_captured_at(captured),
        ip=ip,
        user_agent=_text(consent, "userAgent", required=False),
        page=page,
    )


def _replayed(response: Any, idempotent_data: DataRecord) -> Any:
    """Powertools' hook for an answer served from the store: say it is a replay."""
    return {**response, "replayed": True}


def _once(
    key_id: str, body: dict[str, Any], work: Callable[[], tuple[int, dict[str, Any]]]
) -> Response[str]:
    """Run `work` once per Idempotency-Key (when the request has one) and answer."""
    header = (app.current_event.headers or {}).get(IDEMPOTENCY_HEADER)
    if header is None:
        status, answer = work()
        return json_response(status, answer)
    if not _IDEMPOTENCY_KEY.fullmatch(header):
        raise BadRequest(
            "invalid_idempotency_key",
            "An Idempotency-Key is 1 to 255 printable ASCII characters without spaces.",
            "Idempotency-Key",
        )
    store = wiring.dependencies().idempotency
    if store is None:
        raise ConfigError("The partner API has no idempotency store (IDEMPOTENCY_TABLE).")
    config = IdempotencyConfig(
        # One partner's keys never meet another's: the key id is part of the key.
        event_key_jmespath="[apiKeyId, idempotencyKey]",
        payload_validation_jmespath="[method, path, body]",
        expires_after_seconds=IDEMPOTENCY_SECONDS,
        response_hook=_replayed,
    )
    config.register_lambda_context(app.lambda_context)

    def run(request: dict[str, Any]) -> dict[str, Any]:
        status, answer = work()
        return {"statusCode": status, "body": answer}

    once = idempotent_function(
        run,
        data_keyword_argument="request",
        persistence_store=store,
        config=config,
        key_prefix="partner-api",
    )
    done = once(
        request={
            "apiKeyId": key_id,
            "idempotencyKey": header,
            "method": app.current_event.http_method,
            "path": app.current_event.path,
            "body": body,
        }
    )
    headers = {"Idempotent-Replayed": "true"} if done.get("replayed") else None
    return json_response(int(done["statusCode"]), done["body"], headers)


def _registration(raw: str) -> str:
    if not _REGISTRATION_ID.fullmatch(raw):
        # Not one this API gave out: as unknown as any other.
        raise ContactNotFound("No sign-up with this id.")
    return raw.lower()


@app.post("/v1/signups")
def create_signup() -> Response[str]:
    metrics.add_metric(name="PartnerSignupRequest", unit=MetricUnit.Count, value=1)
    key_id = _partner()
    body = _json_body()
    request = parse_signup(body)

    def work() -> tuple[int, dict[str, Any]]:
        deps = wiring.dependencies()
        # Rate limits inside the idempotent work: a replay answers as the first time did, a
        # refusal leaves no record, and only a valid number is counted (usecases/defences.py).
        check = deps.signups.check_number(request.phone_number)
        if not check.acceptable or check.e164 is None:
            raise PhoneRejected(check)
        deps.defences.check_limits(Attempt(Surface.PARTNER, check.e164, request.ip, key_id))
        outcome = deps.partners.sign_up(key_id, request)
        logger.info(
            "partner sign-up",
            extra={
                "phone": mask(outcome.phone_number),
                "registrationId": outcome.registration_id,
                "outcome": str(outcome.kind),
            },
        )
        return 202, {"id": outcome.registration_id, "status": str(outcome.status)}

    return _once(key_id, body, work)


@app.get("/v1/signups/<registration_id>")
def get_signup(registration_id: str) -> Response[str]:
    key_id = _partner()
    return json_response(
        200, wiring.dependencies().partners.view(key_id, _registration(registration_id))
    )


@app.get("/v1/signups")
def find_signups() -> Response[str]:
    key_id = _partner()
    phone = app.current_event.get_query_string_value("phoneNumber")
    if not phone:
        raise BadRequest(
            "missing_field", "Give ?phoneNumber=+1… to look a number up.", "phoneNumber"
        )
    if len(phone) > LIMITS["phoneNumber"]:
        raise BadRequest("field_too_long", "phoneNumber is too long.", "phoneNumber")
    return json_response(200, {"signups": wiring.dependencies().partners.find(key_id, phone)})


@app.delete("/v1/signups/<registration_id>")
def opt_out(registration_id: str) -> Response[str]:
    key_id = _partner()
    registration = _registration(registration_id)
    body = _json_body()
    reason = check_reason(body.get("reason"))
    return _once(
        key_id,
        body,
        lambda: (200, wiring.dependencies().partners.opt_out(key_id, registration, reason)),
    )


@cache
def openapi_document() -> str:
    """The document as served: read and checked once per warm function."""
    return json.dumps(json.loads(OPENAPI_DOCUMENT.read_text(encoding="utf-8")))


@app.get("/v1/openapi.json")
def get_openapi() -> Response[str]:
    # Behind the key like every /v1 route (only the public form answers without one); the
    # reference page publishes the same document for reading without a key.
    _partner()
    return Response(
        status_code=200,
        content_type="application/json",
        body=openapi_document(),
        headers={"Cache-Control": "no-store"},
    )


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
