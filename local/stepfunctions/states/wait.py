"""Wait: a durable timer; the run waits in the store, not in a thread."""

from __future__ import annotations

from typing import Any

from ..context import Step


def enter(step: Step) -> None:
    due, out, assign = step.lang.wait_state(step.state, step.scope(step.run.input), step.now())
    step.assign(assign)
    step.wait()
    step.run.phase = "waiting"
    step.timer(due, "wait", {"output": out})


def outcome(step: Step, pending: dict[str, Any]) -> None:
    """The timer fired (engine.fire_timer): go on with the output computed on entry."""
    step.exit(pending.get("output"))
