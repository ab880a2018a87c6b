"""Expressions: JSONPath fields, `.$` keys of payload templates (a path or an intrinsic
function), reference paths; a JSONata state's expressions are expressions.py's."""

from __future__ import annotations

from typing import Any

from . import expressions
from .diagnostics import Findings
from .languages import (
    intrinsic_problem,
    jsonpath_problem,
    reference_path_problem,
)
from .machines import JSONATA, Machine

PATH_FIELDS = ("InputPath", "OutputPath", "ItemsPath")
REFERENCE_PATH_FIELDS = (
    "ResultPath",
    "TimeoutSecondsPath",
    "HeartbeatSecondsPath",
    "SecondsPath",
    "TimestampPath",
    "MaxConcurrencyPath",
    "ToleratedFailureCountPath",
    "ToleratedFailurePercentagePath",
)
PATH_OR_INTRINSIC_FIELDS = ("ErrorPath", "CausePath")
TEMPLATE_FIELDS = ("Parameters", "ResultSelector", "ItemSelector", "Assign")


def check_machine(machine: Machine, findings: Findings) -> None:
    for name, state in machine.states.items():
        if not isinstance(state, dict):
            continue
        at = machine.state_at(name)
        if machine.language_of(state) == JSONATA:
            _check_jsonata(state, at, findings)
        else:
            _check_jsonpath(state, at, findings)


def _check_jsonpath(state: dict[str, Any], at: str, findings: Findings) -> None:
    for field in PATH_FIELDS:
        value = state.get(field)
        if isinstance(value, str) and jsonpath_problem(value):
            findings.schema(f"The value for the field '{field}' must be a valid JSONPath", at)
    for field in REFERENCE_PATH_FIELDS:
        value = state.get(field)
        if isinstance(value, str) and reference_path_problem(value):
            findings.schema(f"The value for the field '{field}' must be a valid ReferencePath", at)
    for field in PATH_OR_INTRINSIC_FIELDS:
        value = state.get(field)
        if isinstance(value, str) and _path_or_intrinsic_problem(value):
            findings.schema(
                f"The value for the field '{field}' must be a valid JSONPath or a valid "
                "intrinsic function call",
                at,
            )
    for field in TEMPLATE_FIELDS:
        if field in state:
            check_template(state[field], f"{at}/{field}", findings)
    for i, catcher in enumerate(state.get("Catch") or []):
        if isinstance(catcher, dict):
            value = catcher.get("ResultPath")
            if isinstance(value, str) and reference_path_problem(value):
                findings.schema(
                    "The value for the field 'ResultPath' must be a valid ReferencePath",
                    f"{at}/Catch[{i}]",
                )
            if "Assign" in catcher:
                check_template(catcher["Assign"], f"{at}/Catch[{i}]/Assign", findings)
    for i, rule in enumerate(state.get("Choices") or []):
        if isinstance(rule, dict):
            _check_rule_paths(rule, f"{at}/Choices[{i}]", findings)
            if "Assign" in rule:
                check_template(rule["Assign"], f"{at}/Choices[{i}]/Assign", findings)


def _path_or_intrinsic_problem(value: str) -> str | None:
    if value.startswith("States."):
        return intrinsic_problem(value)
    return jsonpath_problem(value)


def check_template(value: Any, where: str, findings: Findings) -> None:
    """A payload template: each key ending in `.$` holds a path or an intrinsic call."""
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and key.endswith(".$"):
                if not isinstance(item, str) or _path_or_intrinsic_problem(item):
                    findings.schema(
                        f"The value for the field '{key}' must be a valid JSONPath or a valid "
                        "intrinsic function call",
                        where,
                    )
            else:
                check_template(item, where, findings)
    elif isinstance(value, list):
        for item in value:
            check_template(item, where, findings)


def _check_rule_paths(rule: dict[str, Any], where: str, findings: Findings) -> None:
    for key, value in rule.items():
        if key in ("And", "Or") and isinstance(value, list):
            for i, sub in enumerate(value):
                if isinstance(sub, dict):
                    _check_rule_paths(sub, f"{where}/{key}[{i}]", findings)
        elif key == "Not" and isinstance(value, dict):
            _check_rule_paths(value, f"{where}/Not", findings)
        elif (key == "Variable" or (key.endswith("Path") and key != "ResultPath")) and (
            isinstance(value, str) and jsonpath_problem(value)
        ):
            findings.schema(f"The value for the field '{key}' must be a valid JSONPath", where)


def _check_jsonata(state: dict[str, Any], at: str, findings: Findings) -> None:
    expressions.check_state(state, at, findings)
