"""WebhookDispatchFunction: sends due webhook deliveries (usecases/webhooks.py).

Invoked by its one-minute schedule (EventBridge) and, asynchronously, by a save that wrote a
delivery (the nudge). Both do the same: claim each due delivery with a lease, POST it once,
log the attempt. Whatever the event says, nothing in it is trusted or needed."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from optin import wiring
from optin.observability import logger, metrics, tracer


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    source = event.get("source") if isinstance(event, dict) else None
    counts = wiring.dependencies().webhooks.dispatch()
    logger.info("webhook sweep", extra={"trigger": source, **counts})
    for name, metric in (
        ("delivered", "WebhookDelivered"),
        ("retrying", "WebhookRetrying"),
        ("failed", "WebhookFailed"),
    ):
        if counts[name]:
            metrics.add_metric(name=metric, unit=MetricUnit.Count, value=counts[name])
    return counts
