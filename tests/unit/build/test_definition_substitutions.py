"""Every `${name}` in a state machine definition has a DefinitionSubstitutions entry, and every
entry is used. A missing one deploys as the literal text `${name}` (a Task whose Resource is
not an ARN fails at run time); an unused one usually means a renamed placeholder.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import pytest

from tests.unit.build import cfn

PLACEHOLDER = re.compile(r"\$\{([^}]*)\}")
# What CloudFormation substitutes: a plain key (letters, digits, _ . : -). `${ Name }` or an
# empty `${}` would stay in the definition as text.
KEY = re.compile(r"^[A-Za-z0-9_.:-]+$")


@dataclass(frozen=True)
class Definition:
    state_machine: str
    text: str
    substitutions: frozenset[str]


def definitions(template: dict[str, Any]) -> list[Definition]:
    found = []
    machines = cfn.resources(
        template, "AWS::Serverless::StateMachine", "AWS::StepFunctions::StateMachine"
    )
    for name, resource in machines.items():
        properties = resource.get("Properties") or {}
        if isinstance(properties.get("DefinitionUri"), str):
            text = (cfn.ROOT / properties["DefinitionUri"]).read_text()
        elif isinstance(properties.get("DefinitionString"), str):
            text = properties["DefinitionString"]
        elif isinstance(properties.get("Definition"), dict):
            text = json.dumps(properties["Definition"])
        else:
            raise AssertionError(f"{name}: no definition this check can read")
        keys = frozenset((properties.get("DefinitionSubstitutions") or {}).keys())
        found.append(Definition(name, text, keys))
    return found


def problems(definition: Definition) -> list[str]:
    used = set(PLACEHOLDER.findall(definition.text))
    found = [
        f"`${{{key}}}` is not a substitutable name" for key in sorted(used) if not KEY.match(key)
    ]
    found += [
        f"`${{{key}}}` has no DefinitionSubstitutions entry"
        for key in sorted(used - definition.substitutions)
        if KEY.match(key)
    ]
    found += [
        f"DefinitionSubstitutions.{key} is never used"
        for key in sorted(definition.substitutions - used)
    ]
    return found


DEFINITIONS = definitions(cfn.load())


def test_the_template_has_a_state_machine_with_substitutions() -> None:
    assert DEFINITIONS
    assert all(d.substitutions for d in DEFINITIONS)


@pytest.mark.parametrize("definition", DEFINITIONS, ids=lambda d: d.state_machine)
def test_substitutions_match_placeholders(definition: Definition) -> None:
    assert problems(definition) == []


def test_a_missing_an_unused_and_a_malformed_substitution_are_reported() -> None:
    text = json.dumps(
        {"A": {"Resource": "${UsedArn}"}, "B": {"Resource": "${MissingArn}"}, "C": "${ Bad }"}
    )
    definition = Definition("M", text, frozenset({"UsedArn", "UnusedArn"}))
    assert problems(definition) == [
        "`${ Bad }` is not a substitutable name",
        "`${MissingArn}` has no DefinitionSubstitutions entry",
        "DefinitionSubstitutions.UnusedArn is never used",
    ]


def test_inline_definitions_and_definition_strings_are_read() -> None:
    template = {
        "Resources": {
            "Inline": {
                "Type": "AWS::Serverless::StateMachine",
                "Properties": {
                    "Definition": {"StartAt": "X", "States": {"X": {"Resource": "${Fn}"}}},
                    "DefinitionSubstitutions": {"Fn": {"Fn::GetAtt": "F.Arn"}},
                },
            },
            "Raw": {
                "Type": "AWS::StepFunctions::StateMachine",
                "Properties": {"DefinitionString": '{"Comment": "${Other}"}'},
            },
        }
    }
    inline, raw = definitions(template)
    assert problems(inline) == []
    assert problems(raw) == ["`${Other}` has no DefinitionSubstitutions entry"]
