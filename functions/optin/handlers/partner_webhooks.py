"""The partner API's webhook routes (a Powertools Router that handlers/partner_api.py includes,
so they share its app, its key check and its error handlers):

PUT    /v1/webhook[?rotate=true]              {"url", "events"?} → 200 the endpoint; its
                                              `secret` only when first set or rotated
GET    /v1/webhook                            → 200 the endpoint (no secret) or 404 no_webhook
DELETE /v1/webhook                            → 204
POST   /v1/webhook/test                       → 202 {"deliveryId"}: a webhook.test event
GET    /v1/webhook/deliveries?status=&limit=&cursor=   → 200 {"deliveries", "nextCursor"}
GET    /v1/webhook/deliveries/{id}            → 200 the delivery (404 for another key's)
POST   /v1/webhook/deliveries/{id}/replay     → 202 the delivery, queued again now

The secret is returned, never logged; the URL is not logged either (it may carry a token).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.metrics import MetricUnit

from optin import wiring
from optin.domain.webhooks import WebhookError
from optin.handlers.http import (
    DuplicateKeyError,
    duplicate_key_message,
    error_response,
    json_response,
    loads_strict,
)
from optin.observability import logger, metrics

router = Router()  # type: ignore[no-untyped-call]  # Powertools leaves __init__ untyped

MAX_BODY_BYTES = 8 * 1024


def handle_webhook_error(error: WebhookError) -> Response[str]:
    """Registered on the app by partner_api (a Router's own handlers are not merged)."""
    metrics.add_metric(name="WebhookRequestRefused", unit=MetricUnit.Count, value=1)
    return error_response(error.status, error.code, error.message)


def _partner() -> str:
    key = (router.current_event.headers or {}).get("x-api-key")
    record = wiring.dependencies().partners.authenticate(key)
    logger.append_keys(apiKey=record.key_id)
    return record.key_id


def _json_body() -> dict[str, Any]:
    headers = router.current_event.headers or {}
    content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
    if content_type.split(";", 1)[0].strip().lower() != "application/json":
        raise WebhookError(
            "unsupported_media_type", "Send the body as Content-Type: application/json.", 415
        )
    raw = router.current_event.body or ""
    if len(raw.encode()) > MAX_BODY_BYTES:
        raise WebhookError("body_too_large", f"The body is over {MAX_BODY_BYTES} bytes.")
    try:
        body = loads_strict(raw)
    except DuplicateKeyError as error:
        raise WebhookError("duplicate_key", duplicate_key_message(error.key)) from None
    except ValueError:
        raise WebhookError("invalid_json", "The body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise WebhookError("body_not_object", "Send a JSON object.")
    return body


def _rotate() -> bool:
    raw = router.current_event.get_query_string_value("rotate")
    if raw is None or raw == "false":
        return False
    if raw == "true":
        return True
    raise WebhookError("invalid_rotate", "rotate is true or false.")


@router.put("/v1/webhook")
def put_webhook() -> Response[str]:
    key_id = _partner()
    body = _json_body()
    view = wiring.dependencies().webhooks.set_endpoint(key_id, body, rotate=_rotate())
    return json_response(200, view)


@router.get("/v1/webhook")
def get_webhook() -> Response[str]:
    return json_response(200, wiring.dependencies().webhooks.endpoint(_partner()))


@router.delete("/v1/webhook")
def delete_webhook() -> Response[str]:
    wiring.dependencies().webhooks.delete_endpoint(_partner())
    return Response(status_code=204, headers={"Cache-Control": "no-store"})


@router.post("/v1/webhook/test")
def test_webhook() -> Response[str]:
    delivery_id = wiring.dependencies().webhooks.send_test(_partner())
    return json_response(202, {"deliveryId": delivery_id})


@router.get("/v1/webhook/deliveries")
def list_deliveries() -> Response[str]:
    key_id = _partner()
    event = router.current_event
    page = wiring.dependencies().webhooks.deliveries(
        key_id,
        status=event.get_query_string_value("status"),
        limit=event.get_query_string_value("limit"),
        cursor=event.get_query_string_value("cursor"),
    )
    return json_response(200, page)


@router.get("/v1/webhook/deliveries/<delivery_id>")
def get_delivery(delivery_id: str) -> Response[str]:
    return json_response(200, wiring.dependencies().webhooks.delivery(_partner(), delivery_id))


@router.post("/v1/webhook/deliveries/<delivery_id>/replay")
def replay_delivery(delivery_id: str) -> Response[str]:
    replayed = wiring.dependencies().webhooks.replay(_partner(), delivery_id)
    metrics.add_metric(name="WebhookReplayed", unit=MetricUnit.Count, value=1)
    return json_response(202, replayed)
