"""RedriveExecution: an execution that FAILED, TIMED_OUT or ABORTED continues from where it
stopped, in the same history, with the definition and input it started with.

The runs an execution leaves behind say where each thread of control stopped (its state, that
state's input, its variables), so a redrive puts them back to work rather than starting over:
the execution's run re-enters the state it stopped in; a Parallel or inline Map it stopped in
is entered again with only its unsuccessful branches or iterations re-run (each of those from
the state where it stopped, recursively) and the successful ones' results kept. A state that
failed with States.DataLimitExceeded is re-run whole, as AWS documents. Retry counters start
again at 0, and the execution's and each state's TimeoutSeconds count from the redrive.

Everything is written in one transaction and the re-entered runs are stepped only after it
commits, like StartExecution: a kill -9 at any point after the answer loses nothing (recovery
steps the runs the redrive queued).
"""

from __future__ import annotations

import re
import sqlite3
from typing import Any

from . import arns, errors
from .context import Effects, compact_json
from .definition import sub_machine
from .engine import Engine
from .errors import ApiError
from .records import Execution, Run
from .store import Store

REDRIVABLE = "REDRIVABLE"
NOT_REDRIVABLE = "NOT_REDRIVABLE"

# AWS's conditions (API reference, RedriveExecution; developer guide, "Redriving executions").
REDRIVABLE_PERIOD_SECONDS = 14 * 24 * 3600
MAX_OPEN_SECONDS = 365 * 24 * 3600
MAX_HISTORY_EVENTS = 24_999
# "idempotent responses for the last 10 client tokens ... valid for up to 15 minutes"
KEPT_CLIENT_TOKENS = 10
CLIENT_TOKEN_SECONDS = 15 * 60
_CLIENT_TOKEN = re.compile(r"[!-~]{1,64}")

# redriveStatusReason, in AWS's words (DescribeExecution's documentation lists them); the
# EXPRESS one is ours: AWS has no DescribeExecution of an EXPRESS execution to report it.
RUNNING_REASON = "Execution is RUNNING and cannot be redriven"
SUCCEEDED_REASON = "Execution is SUCCEEDED and cannot be redriven"
DELETED_REASON = "State machine is in DELETING status"
EXPRESS_REASON = "Executions of an EXPRESS state machine cannot be redriven"
MAX_TIME_REASON = "Execution has exceeded the max execution time"
PERIOD_REASON = "Execution redrivable period exceeded"
EVENT_LIMIT_REASON = "Execution history event limit exceeded"

COMPOUND_TYPES = ("Parallel", "Map")


def redrive_status(
    store: Store, conn: sqlite3.Connection, row: sqlite3.Row, now: float
) -> tuple[str, str | None]:
    """(redriveStatus, redriveStatusReason) of an execution row; the reason is None when it is
    REDRIVABLE. RedriveExecution refuses exactly what this calls NOT_REDRIVABLE."""
    if row["status"] == "RUNNING":
        return NOT_REDRIVABLE, RUNNING_REASON
    if row["status"] == "SUCCEEDED":
        return NOT_REDRIVABLE, SUCCEEDED_REASON
    machine = store.state_machine(conn, row["sm_arn"])
    if machine is None:
        return NOT_REDRIVABLE, DELETED_REASON
    if machine["type"] == "EXPRESS":
        return NOT_REDRIVABLE, EXPRESS_REASON
    if now - float(row["start"]) > MAX_OPEN_SECONDS:
        return NOT_REDRIVABLE, MAX_TIME_REASON
    if row["stop"] is not None and now - float(row["stop"]) > REDRIVABLE_PERIOD_SECONDS:
        return NOT_REDRIVABLE, PERIOD_REASON
    if store.last_event_id(conn, row["arn"]) >= MAX_HISTORY_EVENTS:
        return NOT_REDRIVABLE, EVENT_LIMIT_REASON
    return REDRIVABLE, None


def describe_fields(
    store: Store, conn: sqlite3.Connection, row: sqlite3.Row, now: float
) -> dict[str, Any]:
    """DescribeExecution's redrive members."""
    status, reason = redrive_status(store, conn, row, now)
    out: dict[str, Any] = {"redriveCount": row["redrive_count"], "redriveStatus": status}
    if reason is not None:
        out["redriveStatusReason"] = reason
    if row["redrive_date"] is not None:
        out["redriveDate"] = row["redrive_date"]
    return out


def list_item_fields(row: sqlite3.Row) -> dict[str, Any]:
    """ListExecutions' redrive members of one item."""
    out: dict[str, Any] = {"redriveCount": row["redrive_count"]}
    if row["redrive_date"] is not None:
        out["redriveDate"] = row["redrive_date"]
    return out


def redrive_filter(value: object) -> bool | None:
    """ListExecutions' redriveFilter: True for REDRIVEN, False for NOT_REDRIVEN, None for all."""
    if value is None:
        return None
    if value == "REDRIVEN":
        return True
    if value == "NOT_REDRIVEN":
        return False
    raise ApiError(
        "ValidationException",
        f"1 validation error detected: Value '{value}' at 'redriveFilter' failed to satisfy "
        "constraint: Member must satisfy enum value set: [REDRIVEN, NOT_REDRIVEN]",
    )


def _check_client_token(token: object) -> str | None:
    if token is None:
        return None
    if not isinstance(token, str) or not 1 <= len(token) <= 64:
        raise ApiError(
            "ValidationException",
            "1 validation error detected: Value at 'clientToken' failed to satisfy constraint: "
            "Member must have length between 1 and 64",
        )
    if not _CLIENT_TOKEN.fullmatch(token):
        raise ApiError(
            "ValidationException",
            "1 validation error detected: Value at 'clientToken' failed to satisfy constraint: "
            "Member must satisfy regular expression pattern: [!-~]+",
        )
    return token


def redrive_execution(
    store: Store, engine: Engine, arn: object, client_token: object
) -> dict[str, Any]:
    """The RedriveExecution operation: {"redriveDate": ...}."""
    token = _check_client_token(client_token)
    arns.parse_execution_arn(arn)
    exec_arn = str(arn)
    fx = Effects()
    with store.tx() as conn:
        row = store.execution_row(conn, exec_arn)
        if row is None:
            raise ApiError("ExecutionDoesNotExist", f"Execution Does Not Exist: '{exec_arn}'")
        now = engine.clock.now()
        if token is not None:
            earlier = store.redrive_token(conn, exec_arn, token, now - CLIENT_TOKEN_SECONDS)
            if earlier is not None:
                return {"redriveDate": earlier}
        status, reason = redrive_status(store, conn, row, now)
        ex = store.load_execution(conn, exec_arn)
        root = store.root_run(conn, exec_arn)
        if status != REDRIVABLE or ex is None or root is None:
            why = reason or "Execution has no run to redrive"
            raise ApiError("ExecutionNotRedrivable", f"{why}: '{exec_arn}'")
        ex.status, ex.redrive_count, ex.redrive_date = "RUNNING", ex.redrive_count + 1, now
        store.reopen_execution(conn, exec_arn, ex.redrive_count, now)
        redriven = store.add_event(
            conn, exec_arn, "ExecutionRedriven", {"redriveCount": ex.redrive_count}
        )
        _Reviver(engine, conn, ex, fx, now).revive(root, redriven)
        # AWS resets the execution's TimeoutSeconds on a redrive: it counts from now.
        timeout = engine.definition(ex).get("TimeoutSeconds")
        if isinstance(timeout, (int, float)) and timeout > 0:
            engine.add_timer(conn, fx, now + timeout, "exec_timeout", None, exec_arn)
        if token is not None:
            store.add_redrive_token(conn, exec_arn, token, now, KEPT_CLIENT_TOKENS)
    engine.apply(fx)
    return {"redriveDate": now}


class _Reviver:
    """Puts the stopped runs of one execution back to work, inside the redrive's transaction."""

    def __init__(
        self, engine: Engine, conn: sqlite3.Connection, ex: Execution, fx: Effects, now: float
    ) -> None:
        self.engine = engine
        self.store = engine.store
        self.conn = conn
        self.ex = ex
        self.fx = fx
        self.now = now

    def revive(self, run: Run, last_event: int, phase: str = "enter") -> None:
        """The run goes back into the state it stopped in: re-entered (`enter`), or left for
        Map's MaxConcurrency to start (`pending`)."""
        state = sub_machine(self.engine.definition(self.ex), run.branch)["States"][run.state]
        failure = run.result if isinstance(run.result, dict) else {}
        run.status, run.result, run.pending = "RUNNING", None, None
        run.action, run.action_pending = None, 0
        run.retriers, run.retry_count = [], 0
        # A new wait: an answer to the stopped attempt (a Lambda call still in flight when the
        # execution was stopped) carries the old seq and is ignored.
        run.seq += 1
        run.last_event = last_event
        children: list[Run] = []
        if (
            phase == "enter"
            and state["Type"] in COMPOUND_TYPES
            and failure.get("error") != errors.DATA_LIMIT_EXCEEDED
        ):
            children = self.store.last_children(self.conn, run.id)
        if children:
            self._rejoin(run, state, children)
        else:
            run.phase = phase
            if phase == "enter":
                self.fx.runs.append(run.id)
        self.store.save_run(self.conn, run)

    def _rejoin(self, run: Run, state: dict[str, Any], children: list[Run]) -> None:
        """Enter the Parallel or Map again and wait for its children: the successful ones as
        they ended, the others revived."""
        kind = state["Type"]
        run.entered_time = self.now
        run.entered_event = self.engine.event(
            self.conn,
            run,
            f"{kind}StateEntered",
            {
                "name": run.state,
                "input": compact_json(run.input),
                "inputDetails": {"truncated": False},
            },
        )
        run.retriers = [0] * len(state.get("Retry") or [])
        if kind == "Map":
            self.engine.event(self.conn, run, "MapStateStarted", {"length": len(children)})
        else:
            self.engine.event(self.conn, run, "ParallelStateStarted", None)
        self.store.move_children(self.conn, run.id, children[0].parent_seq or 0, run.seq)
        again = [c for c in children if c.status != "SUCCEEDED"]
        if not again:
            # Every branch had succeeded (the state itself failed after them, or the execution
            # stopped before it joined them): only the state's outcome is left to do.
            run.phase = "outcome"
            run.pending = {"result": [(c.result or {}).get("output") for c in children]}
            self.fx.runs.append(run.id)
            return
        run.phase = "children"
        limit = int(run.extra.get("max_concurrency") or 0) if kind == "Map" else 0
        for i, child in enumerate(again):
            if limit > 0 and i >= limit:
                self.revive(child, run.last_event or 0, phase="pending")
                continue
            if kind == "Map":
                self.engine.event(
                    self.conn, run, "MapIterationStarted", {"name": run.state, "index": child.idx}
                )
            self.revive(child, run.last_event or 0)
