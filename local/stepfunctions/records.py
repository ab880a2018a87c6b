"""Rows of the store as Python objects: executions and runs (threads of control). The SQL
that reads and writes them is in store.py."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# Most of a run's JSON columns hold nothing (no variables, retriers, pending outcome, action or
# Map context) and are written at every step: those skip the JSON module both ways.
_EMPTY_TEXT = {"{}": dict, "[]": list}


def _load(text: str | None, default: Any = None) -> Any:
    if text is None:
        return default
    empty = _EMPTY_TEXT.get(text)
    return empty() if empty is not None else json.loads(text)


def _dump(value: Any) -> str | None:
    if value is None:
        return None
    if not value and type(value) is dict:
        return "{}"
    if not value and type(value) is list:
        return "[]"
    return json.dumps(value)


@dataclass
class Execution:
    arn: str
    sm_arn: str
    sm_name: str
    name: str
    status: str
    input: str
    start: float
    definition: str
    role_arn: str
    # What DescribeStateMachineForExecution reports of the machine as it was at the start.
    sm_revision: str | None = None
    sm_updated: float | None = None
    # Set when started by a version ARN, or by an alias ARN (then both).
    version_arn: str | None = None
    alias_arn: str | None = None
    # RedriveExecution (redrive.py): how many times, and when last; the context object shows both.
    redrive_count: int = 0
    redrive_date: float | None = None


EXECUTION_COLUMNS = (
    "arn",
    "sm_arn",
    "sm_name",
    "name",
    "status",
    "input",
    "start",
    "definition",
    "role_arn",
    "sm_revision",
    "sm_updated",
    "version_arn",
    "alias_arn",
    "redrive_count",
    "redrive_date",
)


RUN_COLUMNS = (
    "id",
    "exec_arn",
    "parent_id",
    "parent_seq",
    "idx",
    "branch",
    "state",
    "phase",
    "seq",
    "input",
    "variables",
    "retriers",
    "retry_count",
    "entered_event",
    "entered_time",
    "pending",
    "action",
    "action_pending",
    "status",
    "result",
    "ctx",
    "last_event",
    "extra",
)
_JSON_COLUMNS = {"branch", "input", "variables", "retriers", "pending", "action", "result"}
_JSON_COLUMNS |= {"ctx", "extra"}


@dataclass
class Run:
    """A thread of control: the execution itself, a Parallel branch or a Map iteration."""

    id: int
    exec_arn: str
    parent_id: int | None
    parent_seq: int | None
    idx: int | None
    branch: list[Any]
    state: str
    phase: str  # enter | attempt | outcome | waiting | invoking | children | pending | done
    seq: int
    input: Any
    variables: dict[str, Any] = field(default_factory=dict)
    retriers: list[int] = field(default_factory=list)
    retry_count: int = 0
    entered_event: int | None = None
    entered_time: float | None = None
    pending: dict[str, Any] | None = None
    action: dict[str, Any] | None = None
    action_pending: int = 0
    status: str = "RUNNING"
    result: Any = None
    ctx: dict[str, Any] = field(default_factory=dict)
    last_event: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Run:
        values = {k: (_load(row[k]) if k in _JSON_COLUMNS else row[k]) for k in RUN_COLUMNS}
        values["variables"] = values["variables"] or {}
        values["retriers"] = values["retriers"] or []
        values["ctx"] = values["ctx"] or {}
        values["extra"] = values["extra"] or {}
        return cls(**values)

    def column_values(self) -> dict[str, Any]:
        """Every column but the id, as stored."""
        return {
            k: _dump(getattr(self, k)) if k in _JSON_COLUMNS else getattr(self, k)
            for k in RUN_COLUMNS[1:]
        }

    def mutable_column_values(self) -> list[Any]:
        """The columns a step may change (MUTABLE_RUN_COLUMNS), as stored, in that order."""
        return [
            _dump(getattr(self, k)) if k in _JSON_COLUMNS else getattr(self, k)
            for k in MUTABLE_RUN_COLUMNS
        ]


# What a run is a part of never changes after insert. Leaving those columns out of the UPDATE
# matters: SQLite rewrites the index entries of every indexed column an UPDATE sets, changed or
# not, so saving them wrote two index pages (runs_by_exec, runs_by_parent) per transition.
IMMUTABLE_RUN_COLUMNS = frozenset({"exec_arn", "parent_id", "parent_seq", "idx", "branch"})
MUTABLE_RUN_COLUMNS = tuple(c for c in RUN_COLUMNS[1:] if c not in IMMUTABLE_RUN_COLUMNS)
