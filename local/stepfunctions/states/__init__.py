"""State handlers, one module per state type; `retry.py` is Retry/Catch and `children.py`
joins Parallel branches and Map iterations. The engine looks a state's handler up here.

A state is entered (`enter`); Task, Parallel and Map then make an attempt (`attempt`) that
hands work out and waits; when the outcome arrives the handler records it (`succeeded`,
`failed`) and the engine shapes the output, or Retry/Catch take over."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..context import Step
from ..errors import StatesError
from . import choice, map, parallel, pass_, succeed_fail, task, wait


@dataclass(frozen=True)
class StateType:
    enter: Callable[[Step], None]
    attempt: Callable[[Step], None] | None = None
    # A handler with its own outcome (Wait) skips the result-to-output shaping of the others.
    outcome: Callable[[Step, dict[str, Any]], None] | None = None
    succeeded: Callable[[Step, Any], None] | None = None
    failed: Callable[[Step, StatesError, bool], None] | None = None


STATE_TYPES: dict[str, StateType] = {
    "Pass": StateType(pass_.enter),
    "Choice": StateType(choice.enter),
    "Wait": StateType(wait.enter, outcome=wait.outcome),
    "Succeed": StateType(succeed_fail.enter_succeed),
    "Fail": StateType(succeed_fail.enter_fail),
    "Task": StateType(task.enter, task.attempt, succeeded=task.succeeded, failed=task.failed),
    "Parallel": StateType(
        parallel.enter, parallel.attempt, succeeded=parallel.succeeded, failed=parallel.failed
    ),
    "Map": StateType(map.enter, map.attempt, succeeded=map.succeeded, failed=map.failed),
}
