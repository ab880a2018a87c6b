"""The partner API (API Gateway REST API, /v1, API key required):

POST   /v1/signups                  a number, a first name, a source, and the consent
                                    evidence the partner collected → 202 {id, status}
GET    /v1/signups/{id}             status, timestamps and the ledger of one sign-up
GET    /v1/signups?phoneNumber=…    the same for every sign-up of that number
DELETE /v1/signups/{id}             {"reason"}: opt the number out

API Gateway's usage plan checks the key first on AWS (quota, throttle); this function checks
it again against the key store, because the store is where a key is revoked at once and
where the key id, the partner's identity, comes from. A partner sees only the sign-ups its
key created (usecases/partner.py): any other id is a 404.
"""

from __future__ import annotations

import ipaddress
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from optin import wiring
from optin.domain.errors import (
    ContactNotFound,
    ResendCooldown,
    ResendLimit,
    SmsRejected,
    SmsUnavailable,
    StoreUnavailable,
    TransitionConflict,
    WorkflowUnavailable,
)
from optin.domain.phone import mask
from optin.handlers.http import add_error_handlers, error_response, json_response
from optin.observability import logger, metrics, tracer
from optin.usecases.console_actions import ActionRefused, check_reason
from optin.usecases.partner import KeyRefused, PartnerSignup
from optin.usecases.signup import PhoneRejected

app = APIGatewayRestResolver()
add_error_handlers(app)

MAX_BODY_BYTES = 16 * 1024
_REGISTRATION_ID = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")
# Evidence field -> its longest accepted length (characters).
LIMITS = {
    "phoneNumber": 32,
    "firstName": 50,
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


@app.exception_handler(ContactNotFound)
def not_found(_error: ContactNotFound) -> Response[str]:
    return error_response(404, "not_found", "No sign-up with this id was created with this key.")


@app.exception_handler(PhoneRejected)
def phone_rejected(error: PhoneRejected) -> Response[str]:
    code = error.check.code or "invalid_phone_number"
    return json_response(
        400, {"error": {"code": code, "message": str(error), "field": "phoneNumber"}}
    )


@app.exception_handler(ActionRefused)
def action_refused(error: ActionRefused) -> Response[str]:
    return error_response(error.status, error.code, error.message)


@app.exception_handler([ResendCooldown, ResendLimit])
def resend_refused(error: ResendCooldown | ResendLimit) -> Response[str]:
    return error_response(429, error.code, error.message)


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


def _refuse_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise BadRequest("duplicate_key", f"The field {key} appears twice.", key)
        seen[key] = value
    return seen


def _json_body() -> dict[str, Any]:
    raw = app.current_event.body or ""
    if len(raw.encode()) > MAX_BODY_BYTES:
        raise BadRequest("body_too_large", f"The body is over {MAX_BODY_BYTES} bytes.")
    try:
        body = json.loads(raw, object_pairs_hook=_refuse_duplicates)
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
    return PartnerSignup(
        phone_number=phone,
        first_name=_text(body, "firstName", required=False),
        source=_text(body, "source", required=False),
        disclosure_text=disclosure_text,
        disclosure_version=version,
        captured_at=_captured_at(captured),
        ip=ip,
        user_agent=_text(consent, "userAgent", required=False),
        page=page,
    )


def _registration(raw: str) -> str:
    if not _REGISTRATION_ID.fullmatch(raw):
        # Not one this API gave out: as unknown as any other.
        raise ContactNotFound("No sign-up with this id.")
    return raw.lower()


@app.post("/v1/signups")
def create_signup() -> Response[str]:
    metrics.add_metric(name="PartnerSignupRequest", unit=MetricUnit.Count, value=1)
    key_id = _partner()
    request = parse_signup(_json_body())
    outcome = wiring.dependencies().partners.sign_up(key_id, request)
    logger.info(
        "partner sign-up",
        extra={
            "phone": mask(outcome.phone_number),
            "registrationId": outcome.registration_id,
            "outcome": str(outcome.kind),
        },
    )
    return json_response(202, {"id": outcome.registration_id, "status": str(outcome.status)})


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
    reason = check_reason(_json_body().get("reason"))
    return json_response(200, wiring.dependencies().partners.opt_out(key_id, registration, reason))


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
