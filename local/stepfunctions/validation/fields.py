"""Field values and pairs: error names in Retry/Catch, HeartbeatSeconds below TimeoutSeconds,
one of each value/path pair, Wait's single timer, timestamps, numbers in range, and what an
EXPRESS state machine cannot run."""

from __future__ import annotations

from typing import Any, TypeGuard

from .diagnostics import NO_DOLLAR, NO_PATH, PASS_RESULT_IS_STATIC, Findings
from .languages import is_timestamp, jsonata_expression
from .machines import JSONATA, Machine
from .resources import check_task_resource

# The States.* errors AWS defines (error handling docs); any other States.* name is refused
STATES_ERRORS = frozenset(
    {
        "States.ALL",
        "States.BranchFailed",
        "States.DataLimitExceeded",
        "States.ExceedToleratedFailureThreshold",
        "States.HeartbeatTimeout",
        "States.Http.Socket",
        "States.IntrinsicFailure",
        "States.ItemReaderFailed",
        "States.NoChoiceMatched",
        "States.ParameterPathFailure",
        "States.Permissions",
        "States.QueryEvaluationError",
        "States.ResultPathMatchFailure",
        "States.ResultWriterFailed",
        "States.Runtime",
        "States.TaskFailed",
        "States.Timeout",
    }
)
# Value / path pairs of which a state may hold one (JSONPath; JSONata has only the value)
EXCLUSIVE = (
    ("TimeoutSeconds", "TimeoutSecondsPath"),
    ("HeartbeatSeconds", "HeartbeatSecondsPath"),
    ("MaxConcurrency", "MaxConcurrencyPath"),
    ("ToleratedFailureCount", "ToleratedFailureCountPath"),
    ("ToleratedFailurePercentage", "ToleratedFailurePercentagePath"),
    ("Error", "ErrorPath"),
    ("Cause", "CausePath"),
    ("Parameters", "Arguments"),
    ("Items", "ItemsPath"),
)
_HANDLER = {"Retry": "Retrier", "Catch": "Catcher"}
HANDLER_FIELDS = {
    "Retry": frozenset(
        {"ErrorEquals", "IntervalSeconds", "MaxAttempts", "BackoffRate", "MaxDelaySeconds"}
        | {"JitterStrategy", "Comment"}
    ),
    "Catch": frozenset({"ErrorEquals", "Next", "ResultPath", "Output", "Assign", "Comment"}),
}
WAIT_FIELDS = ("Seconds", "SecondsPath", "Timestamp", "TimestampPath")
POSITIVE_INTEGERS = ("TimeoutSeconds", "HeartbeatSeconds")
NON_NEGATIVE_INTEGERS = ("Seconds", "MaxConcurrency", "ToleratedFailureCount")


def check_machine(machine: Machine, machine_type: str, findings: Findings) -> None:
    for name, state in machine.states.items():
        if not isinstance(state, dict):
            continue
        at = machine.state_at(name)
        _check_error_handlers(state, at, findings)
        for pair in EXCLUSIVE:
            if all(f in state for f in pair):
                findings.schema(
                    f"There should only be one of the following fields: [{', '.join(pair)}]", at
                )
        _check_numbers(state, at, findings)
        if state.get("Type") == "Wait":
            _check_wait(state, at, findings)
        if state.get("Type") == "Task":
            _check_task(state, at, machine_type, findings)
        if machine.language_of(state) != JSONATA:
            _check_no_dollar(state, at, findings)
            _check_static_paths(state, at, findings)


def _check_error_handlers(state: dict[str, Any], at: str, findings: Findings) -> None:
    for field in ("Retry", "Catch"):
        handlers = state.get(field, [])
        if not isinstance(handlers, list):
            findings.schema(f"The field '{field}' must be an array", f"{at}/{field}")
            continue
        for i, handler in enumerate(handlers):
            where = f"{at}/{field}[{i}]"
            if not isinstance(handler, dict):
                findings.schema("Value must be a JSON object", where)
                continue
            for key in handler:
                if key not in HANDLER_FIELDS[field]:
                    findings.schema(f"Field '{key}' is not supported", where)
            required = ["ErrorEquals"] + (["Next"] if field == "Catch" else [])
            missing = [f for f in required if f not in handler]
            if missing:
                findings.schema(f"These fields are required: [{', '.join(missing)}]", where)
            names = handler.get("ErrorEquals", [])
            if not isinstance(names, list) or ("ErrorEquals" in handler and not names):
                findings.schema("Value cannot be empty", f"{where}/ErrorEquals")
                continue
            for name in names:
                if not isinstance(name, str):
                    findings.schema("Error names must be strings", f"{where}/ErrorEquals")
                elif name.startswith("States.") and name not in STATES_ERRORS:
                    findings.schema(f"Unrecognized error name: {name}", f"{where}/ErrorEquals")
            if "States.ALL" in names:
                if len(names) > 1:
                    findings.schema(
                        "States.ALL must appear alone in ErrorEquals", f"{where}/ErrorEquals"
                    )
                if i != len(handlers) - 1:
                    findings.schema(
                        f"States.ALL must be in the last {_HANDLER[field]}",
                        where,
                    )
            if field == "Retry":
                _check_retrier(handler, where, findings)


def _check_retrier(retrier: dict[str, Any], where: str, findings: Findings) -> None:
    limits = {"IntervalSeconds": 1, "MaxAttempts": 0, "MaxDelaySeconds": 1}
    for field, minimum in limits.items():
        value = retrier.get(field)
        if field in retrier and _is_int(value) and value < minimum:
            findings.schema(f"Minimum value is {minimum}", f"{where}/{field}")
    rate = retrier.get("BackoffRate")
    if isinstance(rate, (int, float)) and not isinstance(rate, bool) and rate < 1.0:
        findings.schema("Minimum value is 1.0", f"{where}/BackoffRate")
    jitter = retrier.get("JitterStrategy")
    if jitter is not None and jitter not in ("FULL", "NONE"):
        findings.schema(
            "The field 'JitterStrategy' should have one of these values: [FULL, NONE]",
            f"{where}/JitterStrategy",
        )


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_numbers(state: dict[str, Any], at: str, findings: Findings) -> None:
    for field in POSITIVE_INTEGERS + NON_NEGATIVE_INTEGERS:
        value = state.get(field)
        if field not in state or jsonata_expression(value) is not None:
            continue
        minimum = 1 if field in POSITIVE_INTEGERS else 0
        if not _is_int(value):
            findings.schema(f"The field '{field}' must be an integer", f"{at}/{field}")
        elif value < minimum:
            findings.schema(f"Minimum value is {minimum}", f"{at}/{field}")
    percentage = state.get("ToleratedFailurePercentage")
    if isinstance(percentage, (int, float)) and not isinstance(percentage, bool):
        if percentage < 0:
            findings.schema("Minimum value is 0.0", f"{at}/ToleratedFailurePercentage")
        elif percentage > 100:
            findings.schema("Maximum value is 100.0", f"{at}/ToleratedFailurePercentage")
    heartbeat, timeout = state.get("HeartbeatSeconds"), state.get("TimeoutSeconds")
    if _is_int(heartbeat) and _is_int(timeout) and heartbeat >= timeout:
        findings.schema("HeartbeatSeconds must be smaller than TimeoutSeconds", at)


def _check_wait(state: dict[str, Any], at: str, findings: Findings) -> None:
    present = [f for f in WAIT_FIELDS if f in state]
    if len(present) > 1:
        findings.schema(
            f"There should only be one of the following fields: [{', '.join(present)}]", at
        )
    elif not present:
        findings.schema(f"Exactly one of these fields is required: [{', '.join(WAIT_FIELDS)}]", at)
    timestamp = state.get("Timestamp")
    literal = isinstance(timestamp, str) and jsonata_expression(timestamp) is None
    if literal and not is_timestamp(str(timestamp)):
        findings.schema("String does not match RFC3339 timestamp", f"{at}/Timestamp")


def _check_task(state: dict[str, Any], at: str, machine_type: str, findings: Findings) -> None:
    resource = state.get("Resource")
    if "Resource" in state and not isinstance(resource, str):
        findings.schema("The field 'Resource' must be a string", f"{at}/Resource")
        return
    if isinstance(resource, str):
        check_task_resource(resource, f"{at}/Resource", findings)
    credentials = state.get("Credentials")
    if "Credentials" in state and not (
        isinstance(credentials, dict) and ("RoleArn" in credentials or "RoleArn.$" in credentials)
    ):
        # AWS's sentence, the only one it gives for Credentials (an unknown field included)
        findings.schema("The field 'RoleArn' is required but was missing", f"{at}/Credentials")
    if machine_type != "EXPRESS" or not isinstance(resource, str):
        return
    # AWS's messages, trailing spaces included
    if resource.endswith(".waitForTaskToken"):
        findings.schema(
            "Express state machine does not support '.waitForTaskToken' service integration ",
            f"{at}/Resource",
        )
    elif resource.endswith(".sync") or ".sync:" in resource:
        findings.schema(
            "Express state machine does not support '.sync' service integration",
            f"{at}/Resource",
        )
    elif ":activity:" in resource:
        findings.schema("Express state machine does not support Activity ARN", f"{at}/Resource")


def _check_no_dollar(state: dict[str, Any], at: str, findings: Findings) -> None:
    """A warning AWS gives: a template value that looks like a path, on a key without `.$`."""
    for field in ("Parameters", "ResultSelector", "ItemSelector"):
        template = state.get(field)
        if not isinstance(template, dict):
            continue
        for key, value in template.items():
            if (
                isinstance(key, str)
                and not key.endswith(".$")
                and isinstance(value, str)
                and (value.startswith("$.") or value.startswith("States."))
            ):
                findings.warning(
                    NO_DOLLAR,
                    f"The value of the field '{key}' looks like a JSONPath or an intrinsic "
                    "function; end the field name with '.$' to evaluate it",
                    f"{at}/{field}/{key}",
                )


def _looks_like_path(value: Any) -> bool:
    return isinstance(value, str) and (value.startswith("$.") or value.startswith("$$."))


def _check_static_paths(state: dict[str, Any], at: str, findings: Findings) -> None:
    """AWS's other two warnings: a path where only a literal is taken."""
    result = state.get("Result")
    dollar_keys = isinstance(result, dict) and any(str(k).endswith(".$") for k in result)
    if state.get("Type") == "Pass" and dollar_keys:
        findings.warning(
            PASS_RESULT_IS_STATIC,
            "The Result of a Pass state is static: '.$' fields are not evaluated there; "
            "use Parameters to select from the input",
            f"{at}/Result",
        )
    if state.get("Type") == "Fail":
        for field in ("Error", "Cause"):
            if _looks_like_path(state.get(field)):
                findings.warning(
                    NO_PATH,
                    f"The value of the field '{field}' looks like a path; "
                    f"use '{field}Path' to evaluate it",
                    f"{at}/{field}",
                )
