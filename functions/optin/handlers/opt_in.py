"""OptIn task: YES arrived for this registration. PENDING -> CONFIRMED (opted in), consent
"confirmed" with the raw reply, then the welcome text. Idempotent on retry; if a STOP won
the race, nothing changes and the current status is returned."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext

from optin import wiring
from optin.domain.contact import Status
from optin.domain.phone import mask
from optin.handlers.models import OptInEvent
from optin.observability import logger, metrics, operator_alerts, tracer


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = parse(event=event, model=OptInEvent)
    logger.append_keys(registrationId=request.registrationId, phone=mask(request.phoneNumber))
    with operator_alerts():
        status = wiring.dependencies().steps.opt_in(
            registration_id=request.registrationId,
            phone_number=request.phoneNumber,
            first_name=request.firstName,
            reply=request.reply,
        )
    logger.info("opt-in step done", extra={"status": str(status)})
    # Always one metric: a skipped opt-in (STOP won the race) is worth seeing too.
    name = "ContactConfirmed" if status == Status.CONFIRMED else "OptInSkipped"
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
    return {"status": str(status)}
