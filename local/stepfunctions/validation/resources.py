"""Task `Resource` values, as AWS refuses them (SCHEMA_VALIDATION_FAILED both): a string that is
no ARN at all (`Value is not a valid resource ARN`), and an ARN AWS does not recognise (`The
resource provided ... is not recognized...`, recorded on AWS for `dynamodb:query`): one that names
no Lambda function, activity, optimized integration action, HTTP Task or AWS SDK action, or asks
for an integration pattern the service does not offer (AWS's table, "Integrating optimized
services with Step Functions").

The actions of an optimized service are listed where AWS's list is short and settled; for the
services with long or growing lists (SageMaker, EKS, EMR, CodeBuild, Bedrock, ...) any camelCase
action is accepted rather than refusing one AWS has. Where two sources disagree on a pattern, it
is accepted."""

from __future__ import annotations

import re

from .diagnostics import Findings

REQUEST_RESPONSE = ""
SYNC = ".sync"
SYNC_2 = ".sync:2"
CALLBACK = ".waitForTaskToken"

_RR = frozenset({REQUEST_RESPONSE})
_RR_CALLBACK = frozenset({REQUEST_RESPONSE, CALLBACK})
_RR_SYNC = frozenset({REQUEST_RESPONSE, SYNC})
_ALL = frozenset({REQUEST_RESPONSE, SYNC, CALLBACK})
_ANY_ACTION = None
# Service prefix in arn:aws:states:::SERVICE:ACTION -> (its actions, or None for any camelCase
# action; the patterns AWS offers for it)
OPTIMIZED: dict[str, tuple[frozenset[str] | None, frozenset[str]]] = {
    "apigateway": (frozenset({"invoke"}), _RR_CALLBACK),
    "athena": (
        frozenset({"startQueryExecution", "stopQueryExecution", "getQueryExecution"})
        | {"getQueryResults"},
        _RR_SYNC,
    ),
    # AWS's table gives Batch no callback pattern; other recorded sources run one: accepted
    "batch": (frozenset({"submitJob"}), _ALL),
    "bedrock": (_ANY_ACTION, _ALL),
    "codebuild": (_ANY_ACTION, _RR_SYNC),
    "databrew": (frozenset({"startJobRun"}), _RR_SYNC),
    "dynamodb": (frozenset({"getItem", "putItem", "updateItem", "deleteItem"}), _RR),
    "ecs": (frozenset({"runTask"}), _ALL),
    "eks": (_ANY_ACTION, _ALL),
    "elasticmapreduce": (_ANY_ACTION, _RR_SYNC),
    "emr-containers": (_ANY_ACTION, _RR_SYNC),
    "emr-serverless": (_ANY_ACTION, _RR_SYNC),
    "events": (frozenset({"putEvents"}), _RR_CALLBACK),
    "glue": (frozenset({"startJobRun"}), _RR_SYNC),
    "lambda": (frozenset({"invoke"}), _RR_CALLBACK),
    "mediaconvert": (frozenset({"createJob"}), _RR_SYNC),
    "sagemaker": (_ANY_ACTION, _RR_SYNC),
    "sns": (frozenset({"publish"}), _RR_CALLBACK),
    "sqs": (frozenset({"sendMessage"}), _RR_CALLBACK),
    # Step Functions' own StartExecution also has .sync:2 (output as JSON, not a string)
    "states": (frozenset({"startExecution"}), _ALL | {SYNC_2}),
    "http": (frozenset({"invoke"}), _RR),
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
    if not optimized or optimized["service"] not in OPTIMIZED:
        return False
    actions, patterns = OPTIMIZED[optimized["service"]]
    if actions is not None and optimized["action"] not in actions:
        return False
    return (optimized["pattern"] or REQUEST_RESPONSE) in patterns


def check_task_resource(resource: str, where: str, findings: Findings) -> None:
    if not ARN.fullmatch(resource):
        findings.schema("Value is not a valid resource ARN", where)
    elif not is_known(resource):
        # AWS's code and sentence, recorded from CreateStateMachine
        findings.schema(
            f"The resource provided {resource} is not recognized. The value is not a valid "
            "resource ARN, or the resource is not available in this region.",
            where,
        )
