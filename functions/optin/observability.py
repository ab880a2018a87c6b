"""Powertools Logger, Metrics and Tracer shared by every handler.

Created at import on purpose: they carry no per-function configuration beyond the
service name and namespace, which template.yaml sets the same for every function.
Phone numbers are never logged in clear (optin.domain.phone.mask) and never used as
metric dimensions; message bodies are never logged at INFO.
"""

from __future__ import annotations

import os

from aws_lambda_powertools import Logger, Metrics, Tracer

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME") or "sms-optin"

logger = Logger(service=SERVICE)
metrics = Metrics(
    service=SERVICE,
    namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or "SmsOptin",
)
# X-Ray on AWS (template: Tracing: Active); Powertools turns it off under SAM local, which the
# local runtime imitates (AWS_SAM_LOCAL=true), and outside Lambda.
tracer = Tracer(service=SERVICE)
