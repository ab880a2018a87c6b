"""POST /signups (and GET /disclosure): the sign-up API.

Bad input always gets a 4xx with `{"error": {"code", "message"}}`, and nothing is
stored and nothing is texted. The number check runs here too (not only in the workflow)
so a person typing a bad number hears about it at once.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import ipaddress
import os
import re
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, CORSConfig, Response
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from optin import wiring
from optin.domain.errors import (
    ContactNotFound,
    DisclosureOutdated,
    ResendCooldown,
    ResendLimit,
    SmsConfigurationError,
    SmsRejected,
    SmsUnavailable,
    StoreUnavailable,
    TransitionConflict,
    WorkflowUnavailable,
)
from optin.domain.messages import FIRST_NAME_RULE, disclosure
from optin.domain.phone import mask
from optin.domain.rate_limits import Attempt, RateLimited, Surface
from optin.domain.send_limits import DailyCapReached
from optin.handlers.http import (
    DuplicateKeyError,
    add_error_handlers,
    count_blocked_send,
    duplicate_key_message,
    error_response,
    json_response,
    loads_strict,
)
from optin.handlers.models import (
    API_CLIENT_MAX_LENGTH,
    DISCLOSURE_VERSION_MAX_LENGTH,
    FORWARDED_FOR_MAX_LENGTH,
    PAGE_MAX_LENGTH,
    PHONE_NUMBER_MAX_LENGTH,
    USER_AGENT_MAX_LENGTH,
    SignupBody,
    keep_head,
    keep_tail,
)
from optin.observability import count_configuration_error, logger, metrics, tracer
from optin.usecases.defences import CaptchaRefused
from optin.usecases.signup import PhoneRejected, SignupKind, SignupRequest

MAX_BODY_BYTES = 16 * 1024
_REGISTRATION_ID = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")


def _cors() -> CORSConfig | None:
    """CORS for the origins the stack names (AllowedOrigins), never "*". The form itself is
    served by CloudFront on the API's own origin and needs none. A Lambda's environment is
    fixed for its lifetime, so this is read once."""
    origins = [
        origin.strip()
        for origin in os.environ.get("ALLOWED_ORIGINS", "").split(",")
        if origin.strip() and origin.strip() != "*"
    ]
    if not origins:
        return None
    return CORSConfig(
        allow_origin=origins[0], extra_origins=origins[1:], allow_headers=[], max_age=600
    )


app = APIGatewayRestResolver(cors=_cors())
add_error_handlers(app)


class BadRequest(Exception):
    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        # The body field the error is about, so a form can put the sentence beside it.
        self.field = field


# Sentences for a person, by field: the form shows them beside the field, so they name no
# field ids, rules or status codes.
_FIELD_MESSAGES = {
    "firstName": FIRST_NAME_RULE,
    "page": "The page address sent with the sign-up must start with https:// or http://.",
    "disclosureVersion": "The terms version sent with the sign-up is not one we know.",
}


_TOO_LONG_MESSAGES = {
    "firstName": FIRST_NAME_RULE,
    "phoneNumber": (
        f"The phone number is longer than the {PHONE_NUMBER_MAX_LENGTH} characters a phone "
        "number can take."
    ),
    "page": (
        f"The page address sent with the sign-up is longer than the {PAGE_MAX_LENGTH} "
        "characters allowed."
    ),
    "disclosureVersion": (
        f"The terms version sent with the sign-up is longer than the "
        f"{DISCLOSURE_VERSION_MAX_LENGTH} characters allowed."
    ),
}


def _header(name: str) -> str | None:
    # Powertools' event headers are case-insensitive.
    value = app.current_event.headers.get(name)
    return value.strip() if isinstance(value, str) and value.strip() else None


def _raw_body() -> bytes:
    event = app.current_event
    body = event.body or ""
    if event.is_base64_encoded:
        try:
            return base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise BadRequest(
                400, "invalid_json", "The request body could not be decoded."
            ) from None
    return body.encode("utf-8")


def _read_body() -> SignupBody:
    raw = _raw_body()
    if len(raw) > MAX_BODY_BYTES:
        raise BadRequest(
            413, "body_too_large", f"The request body is larger than {MAX_BODY_BYTES // 1024} KB."
        )
    media_type = (_header("Content-Type") or "").split(";", 1)[0].strip().lower()
    if media_type != "application/json":
        raise BadRequest(
            415,
            "unsupported_media_type",
            "Send the sign-up as JSON with the header Content-Type: application/json.",
        )
    try:
        data = loads_strict(raw.decode("utf-8"))
    except DuplicateKeyError as error:
        metrics.add_metric(name="DuplicateKeyRefused", unit=MetricUnit.Count, value=1)
        raise BadRequest(
            400, "duplicate_key", duplicate_key_message(error.key), field=error.key
        ) from None
    except (UnicodeDecodeError, ValueError):
        raise BadRequest(400, "invalid_json", "The request body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise BadRequest(
            400,
            "body_not_object",
            'The request body must be a JSON object, like {"phoneNumber": …}.',
        )
    try:
        return SignupBody.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(part) for part in first.get("loc", ())) or "body"
        if first.get("type") == "string_too_long":
            limit = (first.get("ctx") or {}).get("max_length")
            metrics.add_metric(name="FieldTooLong", unit=MetricUnit.Count, value=1)
            message = _TOO_LONG_MESSAGES.get(
                field, f"The field {field} is longer than the {limit} characters allowed."
            )
            raise BadRequest(400, "field_too_long", message, field=field) from None
        message = _FIELD_MESSAGES.get(field, f"The field {field} is not valid.")
        raise BadRequest(400, "invalid_field", message, field=field) from None


def client_ip(headers: dict[str, str], source_ip: str | None, secret: str) -> str | None:
    """The address the rate limits count the form's caller by.

    Behind the stack's CloudFront distribution API Gateway's sourceIp is CloudFront's edge,
    shared by everyone that edge serves; the viewer's address is in CloudFront-Viewer-Address
    (`ip:port`). Anyone may send that header straight to the API, so it is believed only on
    a request that carries the distribution's own X-Origin-Verify secret. Otherwise (locally,
    a direct call) the source address is the caller."""
    lowered = {name.lower(): value for name, value in headers.items()}
    presented = lowered.get("x-origin-verify") or ""
    if not secret or secret.startswith("{{resolve:") or not presented:
        return source_ip
    if not hmac.compare_digest(presented.encode(), secret.encode()):
        return source_ip
    viewer = (lowered.get("cloudfront-viewer-address") or "").strip()
    host = viewer.rsplit(":", 1)[0].strip("[]") if ":" in viewer else viewer
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return source_ip


def _api_client() -> str | None:
    """X-Api-Client is written by the caller itself (a partner's code), so one too long is
    the caller's mistake to hear about, not ours to cut."""
    value = _header("X-Api-Client")
    if value is not None and len(value) > API_CLIENT_MAX_LENGTH:
        metrics.add_metric(name="FieldTooLong", unit=MetricUnit.Count, value=1)
        raise BadRequest(
            400,
            "field_too_long",
            f"The X-Api-Client header is longer than the {API_CLIENT_MAX_LENGTH} characters "
            "allowed.",
            field="X-Api-Client",
        )
    return value


@app.get("/disclosure")
def get_disclosure() -> Response[str]:
    settings = wiring.settings()

    text = disclosure(settings)
    metrics.add_metric(name="DisclosureServed", unit=MetricUnit.Count, value=1)
    return json_response(
        200,
        {
            "version": text.version,
            "text": text.text,
            "programName": settings.program_name,
            "termsUrl": settings.terms_url,
            "privacyUrl": settings.privacy_url,
        },
    )


@app.exception_handler(BadRequest)
def bad_request(error: BadRequest) -> Response[str]:
    return _bad_request(error.status, error.code, error.message, field=error.field)


@app.exception_handler(PhoneRejected)
def phone_rejected(error: PhoneRejected) -> Response[str]:
    if error.check.code == "country_not_allowed":
        # A pumper's premium and far-away numbers: counted with the other blocked attempts.
        wiring.dependencies().defences.count_blocked("country_not_allowed")
    return _bad_request(
        400, error.check.code or "invalid_phone_number", str(error), field="phoneNumber"
    )


@app.exception_handler(DisclosureOutdated)
def disclosure_outdated(error: DisclosureOutdated) -> Response[str]:
    return _bad_request(409, error.code, error.message)


@app.exception_handler(ResendCooldown)
def resend_cooldown(error: ResendCooldown) -> Response[str]:
    metrics.add_metric(name="ResendThrottled", unit=MetricUnit.Count, value=1)
    # The seconds in the body too: a page cannot read Retry-After from a cross-origin
    # answer unless it is exposed, and the form counts them down.
    return _error(
        429,
        error.code,
        error.message,
        extra={"retryAfterSeconds": error.retry_after_seconds},
        headers={"Retry-After": str(error.retry_after_seconds)},
    )


@app.exception_handler(ResendLimit)
def resend_limit(error: ResendLimit) -> Response[str]:
    metrics.add_metric(name="ResendThrottled", unit=MetricUnit.Count, value=1)
    return error_response(429, error.code, error.message)


@app.exception_handler(CaptchaRefused)
def captcha_refused(error: CaptchaRefused) -> Response[str]:
    logger.info("sign-up refused", extra={"code": error.code, "reason": error.reason})
    return _error(400, error.code, error.message, extra={"field": "altcha"})


@app.exception_handler(RateLimited)
def rate_limited(error: RateLimited) -> Response[str]:
    logger.info("sign-up rate limited", extra={"reason": error.reason})
    return _error(
        429,
        error.code,
        error.message,
        extra={
            "retryAfterSeconds": error.retry_after_seconds,
            "limit": {
                "scope": str(error.scope),
                "windowSeconds": error.window_seconds,
                "maximum": error.maximum,
            },
        },
        headers={"Retry-After": str(error.retry_after_seconds)},
    )


@app.exception_handler(DailyCapReached)
def daily_cap(error: DailyCapReached) -> Response[str]:
    count_blocked_send(error)
    wiring.dependencies().defences.count_blocked("daily_cap")
    return _error(
        429,
        error.code,
        error.message,
        extra={"retryAfterSeconds": error.retry_after_seconds},
        headers={"Retry-After": str(error.retry_after_seconds)},
    )


@app.exception_handler(SmsRejected)
def undeliverable(error: SmsRejected) -> Response[str]:
    # MaxPrice and the protect configuration answer here too: to the person, the number
    # cannot be texted; the metric tells the operator which brake it was.
    count_blocked_send(error)
    return error_response(422, "undeliverable", "We can't send text messages to this number.")


@app.exception_handler(SmsConfigurationError)
def sms_misconfigured(error: SmsConfigurationError) -> Response[str]:
    # The account, not the person: the operator's alarm counts this metric.
    count_configuration_error(error)
    return _unavailable()


@app.exception_handler([SmsUnavailable, WorkflowUnavailable, StoreUnavailable, TransitionConflict])
def unavailable(error: Exception) -> Response[str]:
    logger.error("sign-up failed for now", extra={"error": type(error).__name__})
    return _unavailable()


def _unavailable() -> Response[str]:
    return error_response(
        503,
        "service_unavailable",
        "We couldn't take the sign-up just now. Please try again in a minute.",
        {"Retry-After": "30"},
    )


@app.post("/signups")
def create_signup() -> Response[str]:
    metrics.add_metric(name="SignupRequest", unit=MetricUnit.Count, value=1)
    body = _read_body()
    service = wiring.dependencies().signups
    # Phone first, then consent, the order of the form's fields.
    check = service.check_number(body.phoneNumber)
    if not check.acceptable:
        raise PhoneRejected(check)
    if body.consent is not True:
        raise BadRequest(
            400,
            "consent_required",
            "Tick the box to agree to receive text messages; we can't sign you up without it.",
            field="consent",
        )

    identity = app.current_event.request_context.identity
    api_client = _api_client()
    source_ip = identity.source_ip if identity else None
    # The pumping defences, once the request is known to be a well-formed sign-up and
    # before anything is stored or texted (usecases/defences.py). The CAPTCHA comes after
    # the number check, so a typo does not use up the person's solved challenge.
    defences = wiring.dependencies().defences
    defences.check_captcha(body.altcha)
    assert check.e164 is not None
    counted_ip = client_ip(
        dict(app.current_event.headers or {}),
        source_ip,
        wiring.dependencies().settings.origin_verify_secret,
    )
    defences.check_limits(Attempt(Surface.FORM, check.e164, counted_ip))
    # The headers below are written by the browser and the proxies on the way, not typed
    # by the person: an overlong one is cut to a bounded size and the sign-up goes on (a
    # refusal would turn away someone who did nothing wrong). See docs/security.md.
    user_agent = _header("User-Agent") or (identity.user_agent if identity else None)
    outcome = service.signup(
        SignupRequest(
            phone_number=body.phoneNumber,
            first_name=body.firstName,
            disclosure_version=body.disclosureVersion,
            ip=source_ip,
            user_agent=keep_head(user_agent, USER_AGENT_MAX_LENGTH),
            page=body.page or keep_head(_header("Referer"), PAGE_MAX_LENGTH),
            api_client=api_client,
            # Behind CloudFront the source IP is CloudFront's: the viewer is in this header
            # (kept as received, since a client can prepend to it). Each proxy appends, so
            # the end is the trustworthy part: an overlong value keeps its tail.
            forwarded_for=keep_tail(_header("X-Forwarded-For"), FORWARDED_FOR_MAX_LENGTH),
        )
    )
    logger.info(
        "sign-up handled",
        extra={
            "phone": mask(outcome.phone_number),
            "registrationId": outcome.registration_id,
            "outcome": str(outcome.kind),
        },
    )
    if outcome.kind == SignupKind.ALREADY_CONFIRMED:
        metrics.add_metric(name="SignupAlreadyConfirmed", unit=MetricUnit.Count, value=1)
        return json_response(
            200,
            {
                "status": "CONFIRMED",
                "phoneNumber": outcome.phone_number,
                "message": "already subscribed",
            },
        )
    if outcome.kind == SignupKind.RESENT:
        metrics.add_metric(name="ConfirmationResent", unit=MetricUnit.Count, value=1)
        message = "We sent the confirmation text again. Reply YES to it to confirm."
    elif outcome.kind == SignupKind.IN_PROGRESS:
        message = "Your confirmation text is on its way. Reply YES to it to confirm."
    else:
        metrics.add_metric(name="SignupStarted", unit=MetricUnit.Count, value=1)
        message = "Check your phone: reply YES to the text we sent you to confirm."
    return json_response(
        202,
        {
            "status": "PENDING",
            "phoneNumber": outcome.phone_number,
            "registrationId": outcome.registration_id,
            "resent": outcome.kind == SignupKind.RESENT,
            "message": message,
        },
    )


@app.get("/signups/challenge")
def get_challenge() -> Response[str]:
    """The form's proof-of-work challenge (ALTCHA's JSON), or `{"captcha": "off"}` when the
    stack does not ask for one. Never cached: each challenge is good for one sign-up."""
    challenge = wiring.dependencies().defences.challenge()
    if challenge is None:
        return json_response(200, {"captcha": "off"})
    return json_response(200, challenge)


@app.get("/signups/<registration_id>")
def get_signup(registration_id: str) -> Response[str]:
    """A sign-up's own status, by the registrationId its 202 answer gave. The number comes
    back masked: whoever holds the id learns no more than the form already showed."""
    if not _REGISTRATION_ID.fullmatch(registration_id):
        raise BadRequest(
            400, "invalid_registration_id", "The registrationId is not one this API gave out."
        )
    try:
        found = wiring.dependencies().signups.status(registration_id.lower())
    except ContactNotFound:
        return error_response(
            404,
            "not_found",
            "No current sign-up has this registrationId (a newer sign-up may have replaced it).",
        )
    return json_response(
        200,
        {
            "registrationId": found.registration_id,
            "status": str(found.status),
            "phoneNumber": mask(found.phone_number),
        },
    )


def _bad_request(
    status: int, code: str, message: str, *, field: str | None = None
) -> Response[str]:
    logger.info("sign-up refused", extra={"code": code, "status": status, "field": field})
    metrics.add_metric(name="SignupRefused", unit=MetricUnit.Count, value=1)
    return _error(status, code, message, extra={"field": field} if field else None)


def _error(
    status: int,
    code: str,
    message: str,
    *,
    extra: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response[str]:
    """The shared error shape (handlers.http.error_response) with this API's additive keys."""
    body = {"code": code, "message": message, **(extra or {})}
    return json_response(status, {"error": body}, headers)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
