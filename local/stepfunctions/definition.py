"""The nested machines of a definition (definitions are checked in validation/)."""

from __future__ import annotations

from typing import Any


def sub_machine(doc: dict[str, Any], branch_path: list[Any]) -> dict[str, Any]:
    """The (nested) machine a run executes: the top level, a Parallel branch or a Map processor."""
    node: Any = doc
    for key in branch_path:
        node = node[key]
    machine: dict[str, Any] = node
    return machine
