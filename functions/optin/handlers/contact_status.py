"""GET /contacts/{phoneNumber}: a contact's status and consent ledger (support console).

The number is URL-encoded in the path (%2B12065550100); "+12065550100" works too.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from optin import wiring
from optin.domain.clock import to_iso
from optin.domain.errors import ContactNotFound
from optin.domain.phone import check_number, mask
from optin.handlers.http import add_error_handlers, error_response, json_response
from optin.observability import logger, metrics, tracer

app = APIGatewayRestResolver()
add_error_handlers(app)


@app.get("/contacts/<phone_number>")
def get_contact(phone_number: str) -> Response[str]:
    metrics.add_metric(name="ContactLookup", unit=MetricUnit.Count, value=1)
    raw = unquote(phone_number)
    # Look-ups are not limited to the allowed countries: the contact may predate a change.
    check = check_number(raw, ("US", "CA", *wiring.settings().allowed_countries))
    e164 = check.e164
    if e164 is None:
        if check.code == "country_not_allowed":
            return error_response(404, "not_found", "No contact with this phone number.")
        return error_response(
            400,
            "invalid_phone_number",
            check.reason or "That doesn't look like a phone number.",
        )
    logger.append_keys(phone=mask(e164))
    try:
        contact, events = wiring.dependencies().support.contact_with_events(e164)
    except ContactNotFound:
        return error_response(404, "not_found", "No contact with this phone number.")
    return json_response(
        200,
        {
            "phoneNumber": contact.phone_number,
            "status": str(contact.status),
            "optedIn": contact.opted_in,
            "registrationId": contact.registration_id,
            "firstName": contact.first_name,
            "executionArn": contact.execution_arn,
            "sendCount": contact.send_count,
            "lastSentAt": to_iso(contact.last_sent_at) if contact.last_sent_at else None,
            "createdAt": to_iso(contact.created_at),
            "updatedAt": to_iso(contact.updated_at),
            "events": [event.as_dict() for event in events],
        },
    )


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
