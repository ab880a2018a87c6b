"""Choice: the first matching rule (or Default) names the next state. The rules themselves
are evaluated by the query language (languages/choice.py for JSONPath)."""

from __future__ import annotations

from ..context import Step


def enter(step: Step) -> None:
    target, out, assign = step.lang.choice_state(step.state, step.scope(step.run.input))
    step.assign(assign)
    step.exit(out, next_state=target)
