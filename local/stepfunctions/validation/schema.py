"""The shape of a definition: required fields, state types, the fields each state type takes
and which query language each field belongs to (AWS's SCHEMA_VALIDATION_FAILED findings)."""

from __future__ import annotations

from typing import Any

from .diagnostics import INVALID_STATE_NAME, Findings
from .machines import JSONATA, JSONPATH, Machine

# The order AWS lists them in its message
STATE_TYPES = ("Task", "Wait", "Pass", "Succeed", "Fail", "Choice", "Parallel", "Map")
MACHINE_FIELDS = frozenset(
    {"StartAt", "States", "Comment", "Version", "TimeoutSeconds", "QueryLanguage"}
)
BRANCH_FIELDS = frozenset({"StartAt", "States", "Comment", "ProcessorConfig"})

_IO = {"InputPath", "OutputPath", "Output", "Assign"}
_RESULT = {"Parameters", "ResultSelector", "ResultPath", "Arguments"}
_ERRORS = {"Retry", "Catch"}
_FLOW = {"Next", "End"}
FIELDS: dict[str, frozenset[str]] = {
    "Pass": frozenset(_IO | _FLOW | {"Parameters", "ResultPath", "Result"}),
    "Task": frozenset(
        _IO
        | _FLOW
        | _RESULT
        | _ERRORS
        | {"Resource", "Credentials", "TimeoutSeconds", "TimeoutSecondsPath"}
        | {"HeartbeatSeconds", "HeartbeatSecondsPath"}
    ),
    "Choice": frozenset(_IO | {"Choices", "Default"}),
    "Wait": frozenset(_IO | _FLOW | {"Seconds", "SecondsPath", "Timestamp", "TimestampPath"}),
    "Succeed": frozenset({"InputPath", "OutputPath", "Output"}),
    "Fail": frozenset({"Error", "ErrorPath", "Cause", "CausePath"}),
    "Parallel": frozenset(_IO | _FLOW | _RESULT | _ERRORS | {"Branches"}),
    "Map": frozenset(
        _IO
        | _FLOW
        | _ERRORS
        | {"Parameters", "ResultSelector", "ResultPath"}
        | {"ItemProcessor", "Iterator", "ItemsPath", "Items", "ItemSelector", "ItemReader"}
        | {"ResultWriter", "ItemBatcher", "MaxConcurrency", "MaxConcurrencyPath", "Label"}
        | {"ToleratedFailureCount", "ToleratedFailureCountPath"}
        | {"ToleratedFailurePercentage", "ToleratedFailurePercentagePath"}
    ),
}
COMMON_FIELDS = frozenset({"Type", "Comment", "QueryLanguage"})

# Fields one query language has and the other does not (AWS's JSONata documentation)
JSONPATH_ONLY = frozenset(
    {"InputPath", "OutputPath", "Parameters", "ResultSelector", "ResultPath", "Result"}
    | {"ItemsPath", "MaxConcurrencyPath", "TimeoutSecondsPath", "HeartbeatSecondsPath"}
    | {"SecondsPath", "TimestampPath", "ErrorPath", "CausePath"}
    | {"ToleratedFailureCountPath", "ToleratedFailurePercentagePath"}
)
JSONATA_ONLY = frozenset({"Arguments", "Output", "Items"})

REQUIRED: dict[str, tuple[str, ...]] = {
    "Choice": ("Choices",),
    "Parallel": ("Branches",),
}
MAX_STATE_NAME = 80


def check_top(doc: dict[str, Any], findings: Findings) -> bool:
    """The top level; False when there is no States object to look into."""
    missing = [f for f in ("States", "StartAt") if f not in doc]
    if missing:
        findings.schema(f"These fields are required: [{', '.join(missing)}]", "/")
    for key in doc:
        if key not in MACHINE_FIELDS:
            findings.schema(f"Field '{key}' is not supported", "/")
    language = doc.get("QueryLanguage")
    if language is not None and language not in (JSONPATH, JSONATA):
        findings.schema(
            "The field 'QueryLanguage' should have one of these values: [JSONPath, JSONata]",
            "/QueryLanguage",
        )
    return isinstance(doc.get("States"), dict)


def check_machine(machine: Machine, findings: Findings) -> None:
    body, where = machine.body, machine.where
    if where:
        missing = [f for f in ("States", "StartAt") if f not in body]
        if missing:
            findings.schema(f"These fields are required: [{', '.join(missing)}]", where)
        for key in body:
            if key == "QueryLanguage":
                # AWS: a branch or processor takes the machine's language, never its own
                findings.schema("Field 'QueryLanguage' is not supported", where)
            elif key not in BRANCH_FIELDS:
                findings.schema(f"Field '{key}' is not supported", where)
    states = body.get("States")
    if "States" in body and (not isinstance(states, dict) or not states):
        findings.schema("Value cannot be empty", f"{where}/States")
    start = body.get("StartAt")
    if "StartAt" in body and not isinstance(start, str):
        findings.schema("The field 'StartAt' must be a string", f"{where}/StartAt")
    for name, state in machine.states.items():
        _check_state(machine, name, state, findings)


def _check_state(machine: Machine, name: str, state: Any, findings: Findings) -> None:
    at = machine.state_at(name)
    if len(name) > MAX_STATE_NAME or not name:
        findings.error(
            INVALID_STATE_NAME, f"State name must be 1 to {MAX_STATE_NAME} characters", at
        )
    if not isinstance(state, dict):
        findings.schema("State must be a JSON object", at)
        return
    typ = state.get("Type")
    if typ not in STATE_TYPES:
        findings.schema(
            f"The field 'Type' should have one of these values: [{', '.join(STATE_TYPES)}]",
            f"{at}/Type",
        )
        return
    allowed = FIELDS[typ] | COMMON_FIELDS
    for key in state:
        if key not in allowed:
            findings.schema(f"Field '{key}' is not supported", at)
    required = list(REQUIRED.get(typ, ()))
    if typ == "Task" and "Resource" not in state:
        required.append("Resource")
    if typ == "Map" and "ItemProcessor" not in state and "Iterator" not in state:
        required.append("ItemProcessor")
    missing = [f for f in required if f not in state]
    if missing:
        findings.schema(f"These fields are required: [{', '.join(missing)}]", at)
    for key in ("Branches", "Choices"):
        if key in state and (not isinstance(state[key], list) or not state[key]):
            findings.schema("Value cannot be empty", f"{at}/{key}")
    _check_flow(typ, state, at, findings)
    _check_language(machine, state, at, findings)


def _check_flow(typ: str, state: dict[str, Any], at: str, findings: Findings) -> None:
    if typ in ("Choice", "Succeed", "Fail"):
        return  # a Next or End there is an unsupported field, reported above
    has_next, end = "Next" in state, state.get("End")
    if "End" in state and not isinstance(end, bool):
        findings.schema("The field 'End' must be a boolean", f"{at}/End")
    if has_next and end is True:
        findings.schema("There should only be one of the following fields: [Next, End]", at)
    elif not has_next and end is not True:
        findings.schema("These fields are required: [Next or End=true]", at)
    if has_next and not isinstance(state["Next"], str):
        findings.schema("The field 'Next' must be a string", f"{at}/Next")


def _check_language(machine: Machine, state: dict[str, Any], at: str, findings: Findings) -> None:
    own = state.get("QueryLanguage")
    if own is not None and own not in (JSONPATH, JSONATA):
        findings.schema(
            "The field 'QueryLanguage' should have one of these values: [JSONPath, JSONata]",
            f"{at}/QueryLanguage",
        )
    if own == JSONPATH and machine.top_language == JSONATA:
        findings.schema(
            "'QueryLanguage' can not be 'JSONPath' if set to 'JSONata' for whole state machine",
            at,
        )
    language = machine.language_of(state)
    foreign = JSONPATH_ONLY if language == JSONATA else JSONATA_ONLY
    for key in state:
        if key in foreign:
            findings.schema(
                f"The QueryLanguage is set to '{language}', but field '{key}' is only "
                f"supported for the '{JSONATA if language == JSONPATH else JSONPATH}' "
                "QueryLanguage",
                at,
            )
