"""Inbound texts: End User Messaging two-way SMS, published to SNS.

Each record's Sns.Message is a JSON string (originationNumber, destinationNumber,
messageKeyword, messageBody, inboundMessageId, previousPublishedMessageId). A record that
is not that shape is logged (masked) and dropped; it is never retried. Transient failures
(SMS or Step Functions unavailable) do raise, so the platform retries the event, and
every step is idempotent (a repeated inboundMessageId changes nothing).
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from optin import wiring
from optin.domain.phone import mask
from optin.handlers.models import EumInboundMessage, SnsRecord
from optin.observability import logger, metrics, operator_alerts, tracer
from optin.usecases.inbound import InboundSms


class MalformedRecord(ValueError):
    pass


def _describe(record: object) -> dict[str, Any]:
    """What may be logged about a record we could not read: shape, never content."""
    info: dict[str, Any] = {"recordType": type(record).__name__}
    if isinstance(record, dict):
        info["keys"] = sorted(str(key) for key in record)[:20]
        sns = record.get("Sns")
        message = sns.get("Message") if isinstance(sns, dict) else None
        if isinstance(message, str):
            try:
                payload = json.loads(message)
            except ValueError:
                payload = None
            if isinstance(payload, dict):
                info["messageKeys"] = sorted(str(key) for key in payload)[:20]
                number = payload.get("originationNumber")
                if isinstance(number, str):
                    info["phone"] = mask(number)
    return info


def _read(record: object) -> InboundSms:
    if not isinstance(record, dict):
        raise MalformedRecord("the record is not an object")
    try:
        sns = parse(event=record, model=SnsRecord).Sns
        payload = json.loads(sns.Message)
        if not isinstance(payload, dict):
            raise MalformedRecord("Sns.Message is not a JSON object")
        message = EumInboundMessage.model_validate(payload)
    except (ValidationError, ValueError, TypeError) as error:
        raise MalformedRecord(type(error).__name__) from error
    return InboundSms(
        origination_number=message.originationNumber,
        destination_number=message.destinationNumber,
        body=message.messageBody,
        inbound_message_id=message.inboundMessageId,
        keyword=message.messageKeyword,
        previous_published_message_id=message.previousPublishedMessageId,
        received_at=sns.Timestamp,
    )


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    records = event.get("Records") if isinstance(event, dict) else None
    if not isinstance(records, list):
        logger.warning("event without Records dropped", extra=_describe(event))
        metrics.add_metric(name="InboundDropped", unit=MetricUnit.Count, value=1)
        return {"processed": 0, "dropped": 1, "actions": []}

    service = wiring.dependencies().inbound
    actions: list[str] = []
    dropped = 0
    for index, record in enumerate(records):
        try:
            sms = _read(record)
        except MalformedRecord as error:
            dropped += 1
            logger.warning(
                "malformed inbound record dropped",
                extra={"index": index, "error": str(error), **_describe(record)},
            )
            metrics.add_metric(name="InboundDropped", unit=MetricUnit.Count, value=1)
            continue
        with operator_alerts():
            action = service.handle(sms)
        actions.append(action)
        # The body is personal data: only at DEBUG.
        logger.debug("inbound body", extra={"body": sms.body})
        logger.info(
            "inbound handled",
            extra={
                "phone": mask(sms.origination_number),
                "inboundMessageId": sms.inbound_message_id,
                "action": action,
            },
        )
        metrics.add_metric(name="InboundHandled", unit=MetricUnit.Count, value=1)
        # closed_reply: a sign-up whose execution was over was expired (execution_ended).
        if action in ("confirmed", "opted_out", "resubscribed", "duplicate", "closed_reply"):
            metrics.add_metric(name=f"Inbound_{action}", unit=MetricUnit.Count, value=1)
    return {"processed": len(actions), "dropped": dropped, "actions": actions}
