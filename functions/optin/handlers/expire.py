"""Expire task: the confirmation window closed without YES. PENDING (this registration)
-> EXPIRED, still opted out, consent "expired"; no text. If the contact moved on already
(STOP raced the timeout), nothing changes and its status is returned."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext

from optin import wiring
from optin.domain.contact import Status
from optin.domain.phone import mask
from optin.handlers.models import ExpireEvent
from optin.observability import logger, metrics, tracer


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = parse(event=event, model=ExpireEvent)
    logger.append_keys(registrationId=request.registrationId, phone=mask(request.phoneNumber))
    status = wiring.dependencies().steps.expire(
        registration_id=request.registrationId, phone_number=request.phoneNumber
    )
    logger.info("expire step done", extra={"status": str(status)})
    name = "ContactExpired" if status == Status.EXPIRED else "ExpireSkipped"
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
    return {"status": str(status)}
