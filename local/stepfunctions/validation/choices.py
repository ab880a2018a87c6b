"""Choice rules: a JSONPath rule needs a Variable and exactly one comparison (or And/Or/Not);
a JSONata rule needs a Condition; a nested rule has no Next."""

from __future__ import annotations

from typing import Any

from .diagnostics import Findings
from .languages import COMPARISONS
from .machines import JSONATA, Machine

RULE_FIELDS = frozenset({"Variable", "And", "Or", "Not", "Comment"})


def check_machine(machine: Machine, findings: Findings) -> None:
    for name, state in machine.states.items():
        if not isinstance(state, dict) or state.get("Type") != "Choice":
            continue
        rules = state.get("Choices")
        if not isinstance(rules, list):
            continue
        jsonata = machine.language_of(state) == JSONATA
        for i, rule in enumerate(rules):
            where = f"{machine.state_at(name)}/Choices[{i}]"
            if not isinstance(rule, dict):
                findings.schema("Choice rule must be a JSON object", where)
                continue
            if "Next" not in rule:
                findings.schema("These fields are required: [Next]", where)
            if jsonata:
                _check_jsonata_rule(rule, where, findings)
            else:
                _check_rule(rule, where, findings, top=True)


def _check_jsonata_rule(rule: dict[str, Any], where: str, findings: Findings) -> None:
    if "Condition" not in rule:
        findings.schema("These fields are required: [Condition]", where)
    for key in rule:
        if key not in ("Condition", "Next", "Comment", "Assign", "Output"):
            findings.schema(f"Field '{key}' is not supported", where)


def _check_rule(rule: dict[str, Any], where: str, findings: Findings, top: bool) -> None:
    if not top and "Next" in rule:
        findings.schema("Field 'Next' is not supported", where)
    if "Condition" in rule:
        findings.schema(
            "The QueryLanguage is set to 'JSONPath', but field 'Condition' is only supported "
            "for the 'JSONata' QueryLanguage",
            where,
        )
        return
    combinators = [k for k in ("And", "Or", "Not") if k in rule]
    comparisons = [k for k in rule if k in COMPARISONS]
    unknown = [
        k
        for k in rule
        if k not in RULE_FIELDS and k not in COMPARISONS and k not in ("Next", "Assign")
    ]
    for key in unknown:
        findings.schema(f"Field '{key}' is not supported", where)
    if combinators:
        if len(combinators) > 1 or comparisons or "Variable" in rule:
            findings.schema("A choice rule must have exactly one comparison or combinator", where)
        for key in combinators:
            value = rule[key]
            subs = [value] if key == "Not" else value
            empty = not isinstance(subs, list) or not subs
            if empty or (key == "Not" and not isinstance(value, dict)):
                findings.schema("Value cannot be empty", f"{where}/{key}")
                continue
            for j, sub in enumerate(subs):
                sub_where = f"{where}/Not" if key == "Not" else f"{where}/{key}[{j}]"
                if isinstance(sub, dict):
                    _check_rule(sub, sub_where, findings, top=False)
                else:
                    findings.schema("Choice rule must be a JSON object", sub_where)
        return
    if "Variable" not in rule:
        findings.schema("These fields are required: [Variable]", where)
    if len(comparisons) != 1:
        findings.schema("A choice rule must have exactly one comparison or combinator", where)
