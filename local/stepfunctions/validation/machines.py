"""The (nested) state machines of a definition: the top level, each Parallel branch and each
Map processor, with the location AWS reports for them."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

JSONPATH = "JSONPath"
JSONATA = "JSONata"


@dataclass(frozen=True)
class Machine:
    body: dict[str, Any]
    where: str  # "" for the top level, else e.g. "/States/P/Branches[0]"
    top_language: str  # nested states inherit the top level's QueryLanguage, not the Map's

    @property
    def states(self) -> dict[str, Any]:
        states = self.body.get("States")
        return states if isinstance(states, dict) else {}

    def state_at(self, name: str) -> str:
        return f"{self.where}/States/{name}"

    def language_of(self, state: dict[str, Any]) -> str:
        own = state.get("QueryLanguage")
        return own if own in (JSONPATH, JSONATA) else self.top_language


def top_language(doc: dict[str, Any]) -> str:
    return JSONATA if doc.get("QueryLanguage") == JSONATA else JSONPATH


def processor_field(state: dict[str, Any]) -> str:
    return "ItemProcessor" if "ItemProcessor" in state else "Iterator"


def machines(doc: dict[str, Any]) -> Iterator[Machine]:
    """Every machine of the definition, outermost first."""
    language = top_language(doc)
    pending = [Machine(doc, "", language)]
    while pending:
        machine = pending.pop(0)
        yield machine
        for name, state in machine.states.items():
            if not isinstance(state, dict):
                continue
            at = machine.state_at(name)
            if state.get("Type") == "Parallel" and isinstance(state.get("Branches"), list):
                for i, branch in enumerate(state["Branches"]):
                    if isinstance(branch, dict):
                        pending.append(Machine(branch, f"{at}/Branches[{i}]", language))
            elif state.get("Type") == "Map":
                field = processor_field(state)
                if isinstance(state.get(field), dict):
                    pending.append(Machine(state[field], f"{at}/{field}", language))


def depth(where: str) -> int:
    """How many Parallel/Map levels a machine is nested in."""
    return where.count("/States/")
