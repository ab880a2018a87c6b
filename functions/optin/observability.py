"""Powertools Logger, Metrics and Tracer shared by every handler.

Created at import on purpose: they carry no per-function configuration beyond the
service name and namespace, which template.yaml sets the same for every function.
Phone numbers are never logged in clear (optin.domain.phone.mask) and never used as
metric dimensions; message bodies are never logged at INFO.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

from optin.domain.errors import SmsConfigurationError

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME") or "sms-optin"

logger = Logger(service=SERVICE)
metrics = Metrics(
    service=SERVICE,
    namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or "SmsOptin",
)
# X-Ray on AWS (template: Tracing: Active); Powertools turns it off under SAM local, which the
# local runtime imitates (AWS_SAM_LOCAL=true), and outside Lambda.
tracer = Tracer(service=SERVICE)


# The alarm SmsConfigurationErrorAlarm (template.yaml) watches this metric: End User
# Messaging refused a call for a reason that is about the account, not the number.
SMS_CONFIGURATION_ERROR_METRIC = "SmsConfigurationError"


def count_configuration_error(error: SmsConfigurationError) -> None:
    """Tell the operator: log the refusal and count it for the alarm."""
    logger.error("End User Messaging refuses: configuration", extra={"error": error.message})
    metrics.add_metric(name=SMS_CONFIGURATION_ERROR_METRIC, unit=MetricUnit.Count, value=1)


@contextmanager
def operator_alerts() -> Iterator[None]:
    """Counts an SmsConfigurationError on its way out of a handler, then lets it go on (the
    state machine's retry, or SNS's redelivery and dead-letter queue, take it from there)."""
    try:
        yield
    except SmsConfigurationError as error:
        count_configuration_error(error)
        raise


# Blocked sign-up attempts: one metric, one dimension, the reason (rate_limit_ip_hour,
# captcha_invalid, …). Never the number or the address: those stay out of dimensions.
BLOCKED_METRIC = "SignupBlocked"


def count_blocked_attempt(reason: str) -> None:
    """Emit SignupBlocked{reason} now, in its own EMF document (a dimension added to the
    shared `metrics` would tag every other metric of the invocation too)."""
    from aws_lambda_powertools.metrics import single_metric

    with single_metric(
        name=BLOCKED_METRIC,
        unit=MetricUnit.Count,
        value=1,
        namespace=metrics.namespace,
    ) as metric:
        metric.add_dimension(name="reason", value=reason)
