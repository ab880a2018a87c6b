"""Task `Resource` values: a string that is no ARN at all is a schema error (AWS: `Value is not
a valid resource ARN`); an ARN that names no Lambda function, activity, optimized integration,
HTTP Task or AWS SDK integration, or asks a service for an integration pattern it does not
offer, is AWS's INVALID_RESOURCE.

Which patterns each optimized service offers is AWS's table ("Integrating optimized services
with Step Functions"); actions are not listed per service, so any camelCase action of a known
service is accepted rather than refusing one AWS has."""

from __future__ import annotations

import re

from .diagnostics import INVALID_RESOURCE, Findings

REQUEST_RESPONSE = ""
SYNC = ".sync"
SYNC_2 = ".sync:2"
CALLBACK = ".waitForTaskToken"

_RR_CALLBACK = frozenset({REQUEST_RESPONSE, CALLBACK})
_RR_SYNC = frozenset({REQUEST_RESPONSE, SYNC})
_ALL = frozenset({REQUEST_RESPONSE, SYNC, CALLBACK})
# Service prefix in arn:aws:states:::SERVICE:ACTION -> the patterns AWS offers for it
OPTIMIZED: dict[str, frozenset[str]] = {
    "apigateway": _RR_CALLBACK,
    "athena": _RR_SYNC,
    "batch": _RR_SYNC,
    "bedrock": _ALL,
    "codebuild": _RR_SYNC,
    "databrew": _RR_SYNC,
    "dynamodb": frozenset({REQUEST_RESPONSE}),
    "ecs": _ALL,
    "eks": _ALL,
    "elasticmapreduce": _RR_SYNC,
    "emr-containers": _RR_SYNC,
    "emr-serverless": _RR_SYNC,
    "events": _RR_CALLBACK,
    "glue": _RR_SYNC,
    "lambda": _RR_CALLBACK,
    "mediaconvert": _RR_SYNC,
    "sagemaker": _RR_SYNC,
    "sns": _RR_CALLBACK,
    "sqs": _RR_CALLBACK,
    # Step Functions' own StartExecution also has .sync:2 (output as JSON, not a string)
    "states": _ALL | {SYNC_2},
    "http": frozenset({REQUEST_RESPONSE}),
}
# AWS SDK integrations: Request Response and callbacks, never .sync (AWS's table)
SDK_PATTERNS = _RR_CALLBACK

_PARTITION = r"aws(?:-cn|-us-gov|-iso(?:-[a-z])?)?"
_REGION = r"[a-z]{2}(?:-[a-z]+)+-\d"
_ACCOUNT = r"\d{12}"
ARN = re.compile(r"arn:[a-z-]+:[a-z0-9-]+:[^:]*:[^:]*:.+")
LAMBDA_FUNCTION = re.compile(
    rf"arn:{_PARTITION}:lambda:{_REGION}:{_ACCOUNT}:function:[A-Za-z0-9_-]{{1,64}}"
    r"(?::(?:\$LATEST|[A-Za-z0-9_-]{1,128}))?"
)
ACTIVITY = re.compile(rf"arn:{_PARTITION}:states:{_REGION}:{_ACCOUNT}:activity:[^:\s]{{1,80}}")
INTEGRATION = re.compile(
    rf"arn:{_PARTITION}:states:::(?P<service>[a-z0-9-]+):(?P<action>[a-zA-Z][a-zA-Z0-9]*)"
    r"(?P<pattern>\.sync:2|\.sync|\.waitForTaskToken)?"
)
SDK = re.compile(
    rf"arn:{_PARTITION}:states:::aws-sdk:(?P<service>[a-z0-9]+):(?P<action>[a-z][a-zA-Z0-9]*)"
    r"(?P<pattern>\.sync:2|\.sync|\.waitForTaskToken)?"
)


def is_known(resource: str) -> bool:
    """True for every Resource form AWS runs in a Task state."""
    if LAMBDA_FUNCTION.fullmatch(resource) or ACTIVITY.fullmatch(resource):
        return True
    sdk = SDK.fullmatch(resource)
    if sdk:
        return (sdk["pattern"] or REQUEST_RESPONSE) in SDK_PATTERNS
    optimized = INTEGRATION.fullmatch(resource)
    if optimized and optimized["service"] in OPTIMIZED:
        return (optimized["pattern"] or REQUEST_RESPONSE) in OPTIMIZED[optimized["service"]]
    return False


def check_task_resource(resource: str, where: str, findings: Findings) -> None:
    if not ARN.fullmatch(resource):
        findings.schema("Value is not a valid resource ARN", where)
    elif not is_known(resource):
        # AWS's sentence, recorded from CreateStateMachine
        findings.error(
            INVALID_RESOURCE,
            f"The resource provided {resource} is not recognized. The value is not a valid "
            "resource ARN, or the resource is not available in this region.",
            where,
        )
