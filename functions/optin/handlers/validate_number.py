"""ValidateNumber task: is this number acceptable for texts? Offline (phonenumbers).

A refused number whose sign-up reserved it leaves its contact REJECTED (not PENDING).

Always answers with every key of NumberCheck.as_payload(), acceptable or not: the state
machine's ResultSelector reads acceptable, e164 and reason, and a Choice decides.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from optin import wiring
from optin.domain.phone import mask
from optin.handlers.models import ValidateNumberEvent
from optin.observability import logger, metrics, tracer


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        request = parse(event=event, model=ValidateNumberEvent)
        raw, registration_id = request.phoneNumber, request.registrationId
    except ValidationError:
        raw, registration_id = None, None  # not even an object: answered as "no number"
    check = wiring.dependencies().steps.check_number(raw, registration_id=registration_id)
    logger.info(
        "number checked",
        extra={
            "phone": mask(check.e164 or (raw if isinstance(raw, str) else None)),
            "acceptable": check.acceptable,
            "code": check.code,
            "lineType": check.line_type,
        },
    )
    metrics.add_metric(
        name="NumberAccepted" if check.acceptable else "NumberRejected",
        unit=MetricUnit.Count,
        value=1,
    )
    return check.as_payload()
