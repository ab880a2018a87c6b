"""Map (inline): one child run per item; DISTRIBUTED mode is states/distributed_map.py.
MaxConcurrency: the first N items start at once, the rest wait in phase "pending" and each
finished iteration starts the next one (`start_next`). ToleratedFailureCount/Percentage: how
many failed items still succeed."""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING, Any

from ..context import Effects, Step
from ..errors import StatesError
from ..languages import Scope
from ..records import Run
from . import distributed_map

if TYPE_CHECKING:
    from ..engine import Engine


def enter(step: Step) -> None:
    step.run.phase = "attempt"


def attempt(step: Step) -> None:
    if distributed_map.is_distributed(step.state):
        distributed_map.attempt(step)
        return
    run, state = step.run, step.state
    scope = step.scope(run.input)
    plan = step.lang.map_plan(state, scope)
    items, max_conc = plan.items, plan.max_concurrency
    step.event("MapStateStarted", {"length": len(items)})
    step.wait()
    run.extra = {
        "tolerated_count": plan.tolerated_count,
        "tolerated_percentage": plan.tolerated_percentage,
        "total": len(items),
        # A redrive (redrive.py) starts the unsuccessful iterations again under the same limit.
        "max_concurrency": max_conc,
    }
    if not items:
        step.resolve({"result": []})
        return
    run.phase = "children"
    proc_key = "ItemProcessor" if "ItemProcessor" in state else "Iterator"
    processor = state[proc_key]
    branch = [*run.branch, "States", run.state, proc_key]
    for i, item in enumerate(items):
        item_ctx = {**run.ctx, "Map": {"Item": {"Index": i, "Value": item}}}
        item_scope = Scope(scope.data, {**scope.context, "Map": item_ctx["Map"]}, run.variables)
        item_input = step.lang.map_item_input(state, item_scope, item)
        active = max_conc <= 0 or i < max_conc
        child = step.spawn(
            branch,
            processor["StartAt"],
            i,
            item_input,
            item_ctx,
            "enter" if active else "pending",
        )
        if active:
            step.event("MapIterationStarted", {"name": run.state, "index": i})
            step.fx.runs.append(child.id)


def has_tolerance(parent: Run) -> bool:
    return bool(parent.extra.get("tolerated_count")) or bool(
        parent.extra.get("tolerated_percentage")
    )


def tolerates(parent: Run, n_failed: int) -> bool:
    return within_tolerance(
        parent.extra.get("tolerated_count"),
        parent.extra.get("tolerated_percentage"),
        parent.extra.get("total") or 1,
        n_failed,
    )


def within_tolerance(count: Any, pct: Any, total: int, n_failed: int) -> bool:
    """Whether n_failed of total iterations still let the Map succeed (no tolerance: none do)."""
    count, pct, total = count or 0, pct or 0, total or 1
    if not count and not pct:
        return False
    ok_count = bool(count) and n_failed <= count
    ok_pct = bool(pct) and (n_failed * 100.0 / total) <= pct
    return ok_count or ok_pct


def start_next(
    engine: Engine, conn: sqlite3.Connection, parent: Run, run_id: int, fx: Effects
) -> None:
    """An iteration finished: the first pending one takes its place (MaxConcurrency)."""
    nxt = engine.store.load_run(conn, run_id)
    if nxt is None:
        return
    nxt.phase = "enter"
    nxt.last_event = parent.last_event
    engine.store.save_run(conn, nxt)
    engine.event(conn, parent, "MapIterationStarted", {"name": parent.state, "index": nxt.idx})
    fx.runs.append(nxt.id)


def succeeded(step: Step, result: Any) -> None:
    step.event("MapStateSucceeded", None)


def failed(step: Step, err: StatesError, timeout: bool) -> None:
    step.event("MapStateFailed", None)
