"""Joining child runs (Parallel branches, Map iterations): when one finishes, record it,
fail the parent on a failure it does not tolerate, start a pending Map iteration, or, when
all are done, hand the parent their results in order."""

from __future__ import annotations

import json
import sqlite3
from typing import TYPE_CHECKING, Any

from .. import errors
from ..context import Effects
from ..definition import sub_machine
from ..records import Execution, Run
from . import map as map_state

if TYPE_CHECKING:
    from ..engine import Engine


def child_done(
    engine: Engine, conn: sqlite3.Connection, ex: Execution, child: Run, fx: Effects
) -> None:
    store = engine.store
    parent = store.load_run(conn, child.parent_id or 0)
    if parent is None or parent.seq != child.parent_seq or parent.phase != "children":
        return
    machine = sub_machine(engine.definition(ex), parent.branch)
    is_map = machine["States"][parent.state]["Type"] == "Map"
    failed = child.status == "FAILED"
    if is_map:
        name = "MapIterationFailed" if failed else "MapIterationSucceeded"
        engine.event(conn, parent, name, {"name": parent.state, "index": child.idx})
    rows = store.children(conn, parent.id, parent.seq)
    if failed:
        n_failed = sum(1 for r in rows if r["status"] == "FAILED")
        if not (is_map and map_state.tolerates(parent, n_failed)):
            err = child.result or {}
            if is_map and map_state.has_tolerance(parent):
                err = {
                    "error": errors.EXCEED_TOLERATED_FAILURE,
                    "cause": "The specified tolerated failure threshold was exceeded",
                }
            store.abort_descendants(conn, parent.id)
            engine.resolve(conn, parent, {"error": err.get("error"), "cause": err.get("cause")}, fx)
            store.save_run(conn, parent)
            return
    waiting = [r for r in rows if r["phase"] == "pending"]
    running = [r for r in rows if r["phase"] not in ("done", "pending")]
    if waiting:
        map_state.start_next(engine, conn, parent, waiting[0]["id"], fx)
        store.save_run(conn, parent)
        return
    if running:
        store.save_run(conn, parent)
        return
    engine.resolve(conn, parent, {"result": _results(rows)}, fx)
    store.save_run(conn, parent)


def _results(rows: list[Any]) -> list[Any]:
    """Outputs in branch/item order; a tolerated failed item is its Error and Cause."""
    results: list[Any] = []
    for r in rows:
        res = json.loads(r["result"]) if r["result"] else {}
        if r["status"] == "FAILED":
            results.append({"Error": res.get("error"), "Cause": res.get("cause")})
        else:
            results.append(res.get("output"))
    return results
