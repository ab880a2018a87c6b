"""Retry and Catch of Task, Parallel and Map: which retrier or catcher matches an error, the
back-off (IntervalSeconds × BackoffRate^attempt, capped by MaxDelaySeconds, with FULL jitter),
and where the run goes next."""

from __future__ import annotations

import random
from typing import Any

from .. import errors
from ..context import Step
from ..errors import StatesError

# Only these state types have Retry and Catch; an error anywhere else fails the run.
RETRYABLE_TYPES = frozenset({"Task", "Parallel", "Map"})


def error_matches(names: list[str], error: str | None) -> bool:
    for n in names:
        if n == error:
            return True
        if n == errors.ALL and error not in errors.NOT_MATCHED_BY_ALL:
            return True
        if n == errors.TASK_FAILED and error not in errors.NOT_MATCHED_BY_ALL | {errors.TIMEOUT}:
            return True
    return False


def backoff_seconds(retrier: dict[str, Any], attempt: int) -> float:
    """The wait before retry number `attempt + 1` of this retrier."""
    delay = float(retrier.get("IntervalSeconds", 1)) * float(retrier.get("BackoffRate", 2.0)) ** (
        attempt
    )
    if "MaxDelaySeconds" in retrier:
        delay = min(delay, float(retrier["MaxDelaySeconds"]))
    if retrier.get("JitterStrategy") == "FULL":
        delay = random.uniform(0, delay)
    return delay


def handle_failure(step: Step, err: StatesError) -> None:
    """Retry, Catch or fail the run, as the state's Retry and Catch fields say."""
    run, state = step.run, step.state
    if step.type not in RETRYABLE_TYPES:
        step.finish(error=err)
        return
    retriers = state.get("Retry") or []
    if len(run.retriers) < len(retriers):
        run.retriers = run.retriers + [0] * (len(retriers) - len(run.retriers))
    i = matching(retriers, err.error)
    if i is not None and run.retriers[i] < retriers[i].get("MaxAttempts", 3):
        delay = backoff_seconds(retriers[i], run.retriers[i])
        run.retriers[i] += 1
        run.retry_count += 1
        step.wait()
        run.phase = "waiting"
        run.pending = None
        step.timer(step.now() + delay, "retry")
        return
    catchers = state.get("Catch") or []
    c = matching(catchers, err.error)
    if c is not None:
        out, assign = step.lang.catch_output(catchers[c], step.scope(run.input), error_output(err))
        step.assign(assign)
        step.exit(out, next_state=catchers[c]["Next"])
        return
    step.finish(error=err)


def matching(handlers: list[dict[str, Any]], error: str | None) -> int | None:
    """The index of the first retrier or catcher whose ErrorEquals matches: only that one
    applies (a matching retrier that is exhausted hands the error to Catch, not to the next
    retrier)."""
    for i, handler in enumerate(handlers):
        if error_matches(handler.get("ErrorEquals", []), error):
            return i
    return None


def error_output(err: StatesError) -> dict[str, Any]:
    """What a catcher passes on: {"Error", "Cause"}, without Cause when there is none."""
    if err.cause is None:
        return {"Error": err.error}
    return {"Error": err.error, "Cause": err.cause}
