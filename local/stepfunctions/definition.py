"""Parsing and validating state machine definitions (what CreateStateMachine checks)."""

from __future__ import annotations

import json
from typing import Any

from .errors import ApiError
from .languages.choice import COMPARISONS

STATE_TYPES = frozenset({"Pass", "Task", "Choice", "Wait", "Succeed", "Fail", "Parallel", "Map"})


def _problem(code: str, msg: str, where: str) -> str:
    return f"SCHEMA_VALIDATION_FAILED: {msg} at {where}" if code == "schema" else f"{code}: {msg}"


def parse_definition(text: str) -> dict[str, Any]:
    """The parsed definition; raises ApiError(InvalidDefinition) listing what is wrong."""
    try:
        doc = json.loads(text)
    except (TypeError, ValueError) as e:
        raise ApiError("InvalidDefinition", f"Invalid State Machine Definition: '{e}'") from e
    problems: list[str] = []
    if not isinstance(doc, dict):
        problems.append("SCHEMA_VALIDATION_FAILED: The definition must be a JSON object at /")
    else:
        _check_machine(doc, "", problems)
    if problems:
        raise ApiError(
            "InvalidDefinition", "Invalid State Machine Definition: '" + ", ".join(problems) + "'"
        )
    return doc


def _check_machine(doc: dict[str, Any], where: str, problems: list[str]) -> None:
    states = doc.get("States")
    start = doc.get("StartAt")
    if not isinstance(states, dict) or not states:
        problems.append(
            f"SCHEMA_VALIDATION_FAILED: These fields are required: [States] at {where}/"
        )
        return
    if not isinstance(start, str):
        problems.append(
            f"SCHEMA_VALIDATION_FAILED: These fields are required: [StartAt] at {where}/"
        )
    elif start not in states:
        problems.append(
            f"MISSING_TRANSITION_TARGET: Missing 'Next' target: {start} at {where}/StartAt"
        )
    for name, state in states.items():
        at = f"{where}/States/{name}"
        if not isinstance(state, dict):
            problems.append(f"SCHEMA_VALIDATION_FAILED: State must be an object at {at}")
            continue
        typ = state.get("Type")
        if typ not in STATE_TYPES:
            problems.append(
                f"SCHEMA_VALIDATION_FAILED: {typ!r} is not a valid state type at {at}/Type"
            )
            continue
        if len(name) > 80:
            problems.append(f"SCHEMA_VALIDATION_FAILED: State name is too long at {at}")
        for target_field in ("Next",):
            target = state.get(target_field)
            if target is not None and target not in states:
                problems.append(
                    f"MISSING_TRANSITION_TARGET: Missing 'Next' target: {target} at {at}/Next"
                )
        if typ not in ("Choice", "Succeed", "Fail"):
            has_next, has_end = "Next" in state, state.get("End") is True
            if has_next == has_end:
                problems.append(
                    "SCHEMA_VALIDATION_FAILED: "
                    + (
                        "Exactly one of Next or End is required"
                        if not has_next
                        else "Next and End are mutually exclusive"
                    )
                    + f" at {at}"
                )
        if (
            typ == "Task"
            and not isinstance(state.get("Resource"), str)
            and "Arguments" not in state
        ):
            problems.append(
                f"SCHEMA_VALIDATION_FAILED: These fields are required: [Resource] at {at}"
            )
        if typ == "Choice":
            _check_choice(state, states, at, problems)
        for i, c in enumerate(state.get("Catch") or []):
            if isinstance(c, dict) and c.get("Next") not in states:
                problems.append(
                    f"MISSING_TRANSITION_TARGET: Missing 'Next' target: {c.get('Next')} "
                    f"at {at}/Catch[{i}]/Next"
                )
        if typ == "Parallel":
            branches = state.get("Branches")
            if not isinstance(branches, list) or not branches:
                problems.append(
                    f"SCHEMA_VALIDATION_FAILED: These fields are required: [Branches] at {at}"
                )
            else:
                for i, b in enumerate(branches):
                    if isinstance(b, dict):
                        _check_machine(b, f"{at}/Branches[{i}]", problems)
        if typ == "Map":
            proc = state.get("ItemProcessor", state.get("Iterator"))
            if not isinstance(proc, dict):
                problems.append(
                    f"SCHEMA_VALIDATION_FAILED: These fields are required: [ItemProcessor] at {at}"
                )
            else:
                _check_machine(proc, f"{at}/ItemProcessor", problems)


def _check_choice(
    state: dict[str, Any], states: dict[str, Any], at: str, problems: list[str]
) -> None:
    choices = state.get("Choices")
    if not isinstance(choices, list) or not choices:
        problems.append(f"SCHEMA_VALIDATION_FAILED: These fields are required: [Choices] at {at}")
        return
    for i, rule in enumerate(choices):
        if not isinstance(rule, dict):
            continue
        if rule.get("Next") not in states:
            problems.append(
                f"MISSING_TRANSITION_TARGET: Missing 'Next' target: {rule.get('Next')} "
                f"at {at}/Choices[{i}]/Next"
            )
        if "Condition" not in rule and not _rule_ok(rule):
            problems.append(f"SCHEMA_VALIDATION_FAILED: Invalid choice rule at {at}/Choices[{i}]")
    default = state.get("Default")
    if default is not None and default not in states:
        problems.append(
            f"MISSING_TRANSITION_TARGET: Missing 'Next' target: {default} at {at}/Default"
        )


def _rule_ok(rule: dict[str, Any]) -> bool:
    if "And" in rule or "Or" in rule:
        sub = rule.get("And", rule.get("Or"))
        return isinstance(sub, list) and all(isinstance(r, dict) and _rule_ok(r) for r in sub)
    if "Not" in rule:
        return isinstance(rule["Not"], dict) and _rule_ok(rule["Not"])
    return "Variable" in rule and any(k in COMPARISONS for k in rule)


def sub_machine(doc: dict[str, Any], branch_path: list[Any]) -> dict[str, Any]:
    """The (nested) machine a run executes: the top level, a Parallel branch or a Map processor."""
    node: Any = doc
    for key in branch_path:
        node = node[key]
    return node
