"""CreateContact task: the number becomes PENDING and opted out; consent "requested".

Raises AlreadyRegistered (the ASL catches that error name) when another registration is
pending for the number or it is already confirmed. A retry with the same registrationId
changes nothing.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext

from optin import wiring
from optin.domain.errors import AlreadyRegistered
from optin.domain.phone import mask
from optin.handlers.models import CreateContactEvent
from optin.observability import logger, metrics, tracer


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = parse(event=event, model=CreateContactEvent)
    logger.append_keys(registrationId=request.registrationId, phone=mask(request.phoneNumber))
    service = wiring.dependencies().steps
    try:
        status = service.create_contact(
            registration_id=request.registrationId,
            phone_number=request.phoneNumber,
            first_name=request.firstName,
            evidence=request.evidence,
            validation=request.validation,
            execution_arn=request.executionArn,
        )
    except AlreadyRegistered as error:
        logger.info("already registered", extra={"reason": error.message})
        metrics.add_metric(name="AlreadyRegistered", unit=MetricUnit.Count, value=1)
        raise
    logger.info("contact pending", extra={"status": str(status)})
    metrics.add_metric(name="ContactCreated", unit=MetricUnit.Count, value=1)
    return {"status": str(status)}
