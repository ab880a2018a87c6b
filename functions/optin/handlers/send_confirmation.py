"""SendConfirmation task (.waitForTaskToken): store the task token with the contact, then
text "Reply YES to confirm…". The workflow then waits for inbound_sms to answer the token.

Errors (Lambda error type = class name): OptedOut (ASL: Cancelled) when the number opted
out before the text went out, Undeliverable when the SMS service refuses the number for
good (contact REJECTED; MaxPrice and the protect configuration refuse that way too),
DailyCapReached when the number had its day's confirmation texts (contact REJECTED, reason
daily_cap), SmsUnavailable when it is worth a retry.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext

from optin import wiring
from optin.domain.errors import DomainError
from optin.domain.phone import mask
from optin.handlers.http import count_blocked_send
from optin.handlers.models import SendConfirmationEvent
from optin.observability import logger, metrics, operator_alerts, tracer


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = parse(event=event, model=SendConfirmationEvent)
    logger.append_keys(registrationId=request.registrationId, phone=mask(request.phoneNumber))
    service = wiring.dependencies().steps
    try:
        with operator_alerts():
            message_id = service.send_confirmation(
                task_token=request.taskToken,
                registration_id=request.registrationId,
                phone_number=request.phoneNumber,
                first_name=request.firstName,
                window_seconds=request.confirmationWindowSeconds,
            )
    except DomainError as error:
        logger.warning("confirmation not sent", extra={"error": type(error).__name__})
        metrics.add_metric(name="ConfirmationNotSent", unit=MetricUnit.Count, value=1)
        count_blocked_send(error)
        raise
    metrics.add_metric(name="ConfirmationSent", unit=MetricUnit.Count, value=1)
    return {"messageId": message_id}
