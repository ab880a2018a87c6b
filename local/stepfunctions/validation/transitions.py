"""The graph of each machine: StartAt and every Next/Default/Catch target name a state of the
same machine, every state is reachable, some state ends the machine, and state names are
unique across the whole definition (AWS: MISSING_TRANSITION_TARGET, MISSING_END_STATE,
DUPLICATE_STATE_NAME)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .diagnostics import (
    DUPLICATE_STATE_NAME,
    MISSING_END_STATE,
    MISSING_TRANSITION_TARGET,
    Findings,
)
from .machines import Machine


def targets(state: dict[str, Any], at: str) -> Iterator[tuple[Any, str]]:
    """(target name, location of the field naming it) for every transition out of a state."""
    if "Next" in state:
        yield state["Next"], f"{at}/Next"
    if "Default" in state:
        yield state["Default"], f"{at}/Default"
    for field in ("Choices", "Catch"):
        entries = state.get(field)
        if isinstance(entries, list):
            for i, entry in enumerate(entries):
                if isinstance(entry, dict) and "Next" in entry:
                    yield entry["Next"], f"{at}/{field}[{i}]/Next"


def _ends(state: dict[str, Any]) -> bool:
    return state.get("Type") in ("Succeed", "Fail") or state.get("End") is True


def check_machine(machine: Machine, findings: Findings) -> None:
    states = machine.states
    if not states:
        return
    start = machine.body.get("StartAt")
    if isinstance(start, str) and start not in states:
        findings.error(
            MISSING_TRANSITION_TARGET,
            f"Missing 'Next' target: {start}",
            f"{machine.where}/StartAt",
        )
    edges: dict[str, list[str]] = {}
    for name, state in states.items():
        if not isinstance(state, dict):
            continue
        edges[name] = []
        for target, where in targets(state, machine.state_at(name)):
            if isinstance(target, str) and target in states:
                edges[name].append(target)
            elif isinstance(target, str):
                findings.error(MISSING_TRANSITION_TARGET, f"Missing 'Next' target: {target}", where)
    if not isinstance(start, str) or start not in states:
        return
    reached = {start}
    frontier = [start]
    while frontier:
        for target in edges.get(frontier.pop(), []):
            if target not in reached:
                reached.add(target)
                frontier.append(target)
    if not any(isinstance(s, dict) and _ends(s) for s in states.values()):
        findings.error(MISSING_END_STATE, "Workflow has no terminal state", None)
        return
    for name in states:
        if name not in reached:
            findings.error(
                MISSING_TRANSITION_TARGET,
                f'State "{name}" is not reachable.',
                machine.state_at(name),
            )


def check_unique_names(all_machines: list[Machine], findings: Findings) -> None:
    """The ASL spec: state names are unique within the whole state machine, branches too."""
    seen: set[str] = set()
    for machine in all_machines:
        for name in machine.states:
            if name in seen:
                findings.error(
                    DUPLICATE_STATE_NAME, f"Duplicate State name: '{name}'", machine.state_at(name)
                )
            seen.add(name)
