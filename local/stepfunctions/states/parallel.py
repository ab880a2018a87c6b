"""Parallel: one child run per branch, all started at once; joined in states/children.py."""

from __future__ import annotations

from typing import Any

from ..context import Step
from ..errors import StatesError


def enter(step: Step) -> None:
    step.run.phase = "attempt"


def attempt(step: Step) -> None:
    run = step.run
    branch_input = step.lang.parallel_input(step.state, step.scope(run.input))
    step.event("ParallelStateStarted", None)
    step.wait()
    run.phase = "children"
    base = [*run.branch, "States", run.state, "Branches"]
    for i, branch in enumerate(step.state["Branches"]):
        child = step.spawn([*base, i], branch["StartAt"], i, branch_input, run.ctx, "enter")
        step.fx.runs.append(child.id)


def succeeded(step: Step, result: Any) -> None:
    step.event("ParallelStateSucceeded", None)


def failed(step: Step, err: StatesError, timeout: bool) -> None:
    step.event("ParallelStateFailed", None)
