"""Pass: the input, shaped by the state's fields, becomes the output."""

from __future__ import annotations

from ..context import Step


def enter(step: Step) -> None:
    _, out, assign = step.lang.pass_state(step.state, step.scope(step.run.input))
    step.assign(assign)
    step.exit(out)
