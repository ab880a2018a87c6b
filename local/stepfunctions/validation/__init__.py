"""State machine definitions checked as AWS checks them on Create/Update/
ValidateStateMachineDefinition. One module per family of checks:

schema       required fields, state types, fields per type and per query language
transitions  StartAt/Next/Default/Catch targets, reachability, a terminal state, unique names
choices      Choice rules
paths        JSONPath, reference paths, `.$` templates, intrinsics
expressions  JSONata expressions: they parse, and read only what their place offers
fields       error names, Retry, value/path pairs, numbers, Wait, EXPRESS restrictions
resources    Task Resource ARNs and integration patterns
maps         a Map's ProcessorConfig, ItemReader/ItemBatcher/ResultWriter fields, Label
"""

from __future__ import annotations

import json
from typing import Any

from ..errors import ApiError
from . import choices, fields, maps, paths, schema, transitions
from .diagnostics import (
    ERROR,
    INVALID_JSON_DESCRIPTION,
    WARNING,
    Diagnostic,
    Findings,
    invalid_definition_message,
)
from .machines import machines

__all__ = ["ERROR", "WARNING", "Diagnostic", "parse_checked", "validate"]


def validate(
    text: Any, machine_type: str = "STANDARD"
) -> tuple[dict[str, Any] | None, list[Diagnostic]]:
    """(the parsed definition or None, every diagnostic: errors and warnings)."""
    findings = Findings()
    if not isinstance(text, str) or not text.strip():
        findings.schema("Definition must be a valid JSON object", None)
        return None, findings.items
    try:
        doc = json.loads(text)
    except ValueError as e:
        where = (
            f"line: {e.lineno}, column: {e.colno}" if isinstance(e, json.JSONDecodeError) else None
        )
        findings.error(INVALID_JSON_DESCRIPTION, str(e), where)
        return None, findings.items
    if not isinstance(doc, dict):
        findings.schema("Definition must be a valid JSON object", None)
        return None, findings.items
    if schema.check_top(doc, findings):
        found = list(machines(doc))
        for machine in found:
            schema.check_machine(machine, findings)
            transitions.check_machine(machine, findings)
            choices.check_machine(machine, findings)
            paths.check_machine(machine, findings)
            fields.check_machine(machine, machine_type, findings)
            maps.check_machine(machine, findings)
        transitions.check_unique_names(found, findings)
        maps.check_unique_labels(found, findings)
    return doc, findings.items


def parse_checked(text: Any, machine_type: str = "STANDARD") -> dict[str, Any]:
    """The parsed definition; raises AWS's InvalidDefinition when a check finds an ERROR."""
    doc, diagnostics = validate(text, machine_type)
    errors = [d for d in diagnostics if d.severity == ERROR]
    if errors or doc is None:
        raise ApiError("InvalidDefinition", invalid_definition_message(errors))
    return doc
