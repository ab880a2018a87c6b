"""Succeed and Fail: the two terminal states."""

from __future__ import annotations

from ..context import Step
from ..errors import StatesError


def enter_succeed(step: Step) -> None:
    out = step.lang.succeed_state(step.state, step.scope(step.run.input))
    step.exit(out, end=True)


def enter_fail(step: Step) -> None:
    error, cause = step.lang.fail_state(step.state, step.scope(step.run.input))
    step.finish(error=StatesError(error, cause))
