"""The step context: everything one step of one run works with, in one object.

A step runs inside one store transaction (`conn`); what must happen only after that commits
(step another run, call a Lambda, wake the timer thread) is collected in `fx`.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .errors import StatesError
from .languages import QueryLanguage, Scope
from .records import Execution, Run

if TYPE_CHECKING:
    from .engine import Engine


def compact_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


@dataclass
class Effects:
    """Work a transaction hands out, started only after it commits."""

    runs: list[int] = field(default_factory=list)
    invokes: list[tuple[int, int]] = field(default_factory=list)
    timers: list[float] = field(default_factory=list)
    # Activities with a newly scheduled task: their waiting GetActivityTask polls are woken.
    activities: list[str] = field(default_factory=list)

    def extend(self, other: Effects) -> None:
        self.runs.extend(other.runs)
        self.invokes.extend(other.invokes)
        self.timers.extend(other.timers)
        self.activities.extend(other.activities)


@dataclass
class Step:
    """One step of one run: the execution, the run, the state it is in and the language that
    state's expressions are written in, inside the transaction that persists the step."""

    engine: Engine
    conn: sqlite3.Connection
    ex: Execution
    run: Run
    state: dict[str, Any]
    lang: QueryLanguage
    fx: Effects

    @property
    def type(self) -> str:
        return str(self.state["Type"])

    def now(self) -> float:
        return self.engine.clock.now()

    def scope(self, data: Any, token: str | None = None) -> Scope:
        return Scope(
            data, self.engine.context_builder(self.ex, self.run, token), self.run.variables
        )

    def event(self, type_: str, details: dict[str, Any] | None) -> int:
        return self.engine.event(self.conn, self.run, type_, details)

    def timer(self, due: float, kind: str, payload: Any = None) -> None:
        """A timer of this run's current wait (its seq): a newer wait makes it stale."""
        self.engine.add_timer(self.conn, self.fx, due, kind, self.run, self.ex.arn, payload)

    def assign(self, assign: dict[str, Any] | None) -> None:
        if assign:
            self.run.variables = {**self.run.variables, **assign}

    def exit(self, output: Any, next_state: str | None = None, end: bool = False) -> None:
        self.engine.exit_state(self, output, next_state=next_state, end=end)

    def finish(self, output: Any = None, error: StatesError | None = None) -> None:
        self.engine.finish(self.conn, self.ex, self.run, self.fx, output=output, error=error)

    def resolve(self, pending: dict[str, Any] | None, phase: str = "outcome") -> None:
        self.engine.resolve(self.conn, self.run, pending, self.fx, phase=phase)

    def spawn(
        self,
        branch: list[Any],
        start: str,
        idx: int,
        input_value: Any,
        ctx: dict[str, Any],
        phase: str,
    ) -> Run:
        """A child run (a Parallel branch or a Map iteration) of this run's current attempt."""
        parent = self.run
        child = Run(
            id=0,
            exec_arn=parent.exec_arn,
            parent_id=parent.id,
            parent_seq=parent.seq,
            idx=idx,
            branch=branch,
            state=start,
            phase=phase,
            seq=0,
            input=input_value,
            variables=dict(parent.variables),
            ctx=ctx,
            last_event=parent.last_event,
        )
        self.engine.store.insert_run(self.conn, child)
        return child

    def wait(self) -> None:
        """The run now waits for something outside the step (a timer, a call, children): a
        new seq, so outcomes of any earlier wait are ignored."""
        self.run.seq += 1
