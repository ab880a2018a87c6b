"""Map runs: what a Distributed Map state starts (states/distributed_map.py decides the child
inputs). A map run is a row of the store with one row per child execution; each child is an
ordinary execution of the item processor (its own history, describable, listable by its map
run), started as MaxConcurrency allows and joined back into the Map state's run here.

The engine calls `execution_ended` whenever an execution ends (finish, stop, timeout): a child
execution's end advances its map run (start the next pending child, fail on the tolerated
failure threshold, or hand the Map state its results), and a parent's end aborts its map runs
and their children. The API operations (DescribeMapRun, ListMapRuns, UpdateMapRun and
ListExecutions of a map run) are at the end."""

from __future__ import annotations

import json
import sqlite3
import uuid
from typing import TYPE_CHECKING, Any

from . import errors, paging
from .context import Effects, Step
from .errors import ApiError
from .records import Execution, Run
from .store import Row, Store

if TYPE_CHECKING:
    from .engine import Engine

# Step Functions runs at most 10,000 child executions of a map run at once; MaxConcurrency 0
# (the default) means that many.
MAX_CHILDREN_AT_ONCE = 10_000
# Items that count against the tolerated failure threshold (AWS: failed or timed out; a
# child stopped by StopExecution fails its items too).
FAILED_STATUSES = ("FAILED", "TIMED_OUT", "ABORTED")
EXCEEDED_CAUSE = "The specified tolerated failure threshold was exceeded"
EXECUTION_STATUSES = ("RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED", "PENDING_REDRIVE")


def map_run_arn(region: str, account: str, sm_name: str, label: str, run_id: str) -> str:
    return f"arn:aws:states:{region}:{account}:mapRun:{sm_name}/{label}:{run_id}"


def parse_map_run_arn(arn: object) -> str:
    """The ARN itself when it has a map run's form; raises InvalidArn."""
    if isinstance(arn, str):
        parts = arn.split(":")
        if (
            len(parts) == 8
            and parts[:3] == ["arn", "aws", "states"]
            and parts[5] == "mapRun"
            and "/" in parts[6]
            and parts[7]
        ):
            return arn
    raise ApiError("InvalidArn", f"Invalid Arn: 'Resource type not valid in this context: {arn}'")


def is_child_execution_arn(arn: str) -> bool:
    """Child executions are the only ones whose machine part is labelled (`Machine/Label`)."""
    parts = arn.split(":")
    return len(parts) == 8 and "/" in parts[6]


# ---------------------------------------------------------------- the engine's side


def start(
    step: Step,
    children: list[tuple[Any, int]],
    max_concurrency: int,
    tolerated_count: int,
    tolerated_percentage: float,
    label: str | None,
    child_definition: dict[str, Any],
    failure: errors.StatesError | None = None,
) -> None:
    """Start the map run of the Map state's current attempt. children: (input, number of items)
    per child execution, in item order. failure: the map run fails at once (an ItemReader or
    ResultWriter this engine cannot serve)."""
    engine, conn, ex, run = step.engine, step.conn, step.ex, step.run
    now = engine.clock.now()
    part = label or str(uuid.uuid4())
    arn = map_run_arn(engine.region, engine.account_id, ex.sm_name, part, str(uuid.uuid4()))
    engine.store.insert_map_run(
        conn,
        {
            "arn": arn,
            "exec_arn": ex.arn,
            "sm_arn": f"{ex.sm_arn}/{part}",
            "run_id": run.id,
            "run_seq": run.seq,
            "status": "RUNNING",
            "start": now,
            "max_concurrency": max_concurrency,
            "tolerated_count": tolerated_count,
            "tolerated_percentage": tolerated_percentage,
            "definition": json.dumps(child_definition),
        },
    )
    step.event("MapRunStarted", {"mapRunArn": arn})
    run.phase = "children"
    run.extra = {"map_run": arn}
    if failure is not None:
        engine.store.end_map_run(conn, arn, "FAILED", now, failure.error, failure.cause)
        step.event("MapRunFailed", _error_details(failure.error, failure.cause))
        step.resolve({"error": failure.error, "cause": failure.cause})
        return
    machine = ex.sm_name + "/" + part
    engine.store.insert_map_run_children(
        conn,
        arn,
        [(_child_execution_arn(engine, machine), items, value) for value, items in children],
    )
    _advance(engine, conn, arn, step.fx, run)


def _child_execution_arn(engine: Engine, machine: str) -> str:
    return f"arn:aws:states:{engine.region}:{engine.account_id}:execution:{machine}:{uuid.uuid4()}"


def execution_ended(
    engine: Engine,
    conn: sqlite3.Connection,
    exec_arn: str,
    status: str,
    result: dict[str, Any],
    fx: Effects,
) -> None:
    """An execution ended (any way): abort the map runs it was running, and if it is a child
    execution, move its own map run on. result: {"output"} or {"error", "cause"}. Called
    before its end is recorded, so that aborted map runs precede it in the history."""
    for mr in engine.store.running_map_runs(conn, exec_arn):
        _abort(engine, conn, mr, fx)
    if not is_child_execution_arn(exec_arn):
        return
    child = engine.store.map_run_child_of(conn, exec_arn)
    if child is None or child["status"] != "RUNNING":
        return
    engine.store.set_map_run_child(conn, child["map_run_arn"], child["idx"], status, result)
    _advance(engine, conn, child["map_run_arn"], fx)


def _advance(
    engine: Engine, conn: sqlite3.Connection, arn: str, fx: Effects, parent: Run | None = None
) -> None:
    """Fail the map run past its threshold, start pending children while there is room, or,
    with every child done, hand the Map state its results. parent: the Map state's run when
    the caller holds it (the step that starts the map run has not saved it yet)."""
    store = engine.store
    mr = store.map_run(conn, arn)
    if mr is None or mr["status"] != "RUNNING":
        return
    if parent is None:
        parent = store.load_run(conn, mr["run_id"])
    if parent is None or parent.seq != mr["run_seq"] or parent.phase != "children":
        # The Map state stopped waiting (its branch was aborted): nobody wants the results.
        _abort(engine, conn, mr, fx)
        return
    counts = store.map_run_counts(conn, arn)
    if _threshold_exceeded(mr, counts):
        now = engine.clock.now()
        store.end_map_run(conn, arn, "FAILED", now, errors.EXCEED_TOLERATED_FAILURE, EXCEEDED_CAUSE)
        _abort_children(engine, conn, arn, fx)
        engine.event(
            conn,
            parent,
            "MapRunFailed",
            _error_details(errors.EXCEED_TOLERATED_FAILURE, EXCEEDED_CAUSE),
        )
        engine.resolve(
            conn, parent, {"error": errors.EXCEED_TOLERATED_FAILURE, "cause": EXCEEDED_CAUSE}, fx
        )
        store.save_run(conn, parent)
        return
    running = counts.get("RUNNING", (0, 0))[0]
    pending = counts.get("PENDING", (0, 0))[0]
    if pending:
        room = (mr["max_concurrency"] or MAX_CHILDREN_AT_ONCE) - running
        if room > 0:
            _start_children(engine, conn, mr, room, fx)
        return
    if running:
        return
    store.end_map_run(conn, arn, "SUCCEEDED", engine.clock.now())
    engine.event(conn, parent, "MapRunSucceeded", None)
    engine.resolve(conn, parent, {"result": _results(store.map_run_results(conn, arn))}, fx)
    store.save_run(conn, parent)


def _threshold_exceeded(mr: Row, counts: dict[str, tuple[int, int]]) -> bool:
    """AWS: with neither threshold set any failed item fails the run; with both, exceeding
    either does."""
    failed = sum(counts.get(s, (0, 0))[1] for s in FAILED_STATUSES)
    if not failed:
        return False
    count, percentage = mr["tolerated_count"], mr["tolerated_percentage"]
    if not count and not percentage:
        return True
    total = sum(items for _, items in counts.values()) or 1
    return bool(count and failed > count) or bool(
        percentage and failed * 100.0 / total > percentage
    )


def _start_children(
    engine: Engine, conn: sqlite3.Connection, mr: Row, room: int, fx: Effects
) -> None:
    store = engine.store
    parent_ex = store.load_execution(conn, mr["exec_arn"])
    if parent_ex is None:
        return
    mock = store.mock_execution(conn, parent_ex.arn)
    now = engine.clock.now()
    machine = mr["sm_arn"].split(":stateMachine:", 1)[1]
    for row in store.pending_map_run_children(conn, mr["arn"], room):
        ex = Execution(
            arn=row["exec_arn"],
            sm_arn=mr["sm_arn"],
            sm_name=machine,
            name=row["exec_arn"].rsplit(":", 1)[1],
            status="RUNNING",
            input=row["input"],
            start=now,
            definition=mr["definition"],
            role_arn=parent_ex.role_arn,
        )
        # A mocked test case reaches into the children: they answer from the same responses.
        mocked = None if mock is None else (mock["test_case"], json.loads(mock["states"]))
        store.insert_execution(conn, ex, mocked)
        store.set_map_run_child(conn, mr["arn"], row["idx"], "RUNNING")
        engine.start_execution(conn, ex, fx)


def _abort(engine: Engine, conn: sqlite3.Connection, mr: Row, fx: Effects) -> None:
    """The map run ends ABORTED with the execution or the Map state that ran it."""
    engine.store.end_map_run(conn, mr["arn"], "ABORTED", engine.clock.now())
    engine.store.add_event(conn, mr["exec_arn"], "MapRunAborted", None)
    _abort_children(engine, conn, mr["arn"], fx)


def _abort_children(engine: Engine, conn: sqlite3.Connection, arn: str, fx: Effects) -> None:
    engine.store.abort_pending_map_run_children(conn, arn)
    for child_arn in engine.store.running_map_run_children(conn, arn):
        engine.terminate(conn, child_arn, "ABORTED", None, None, fx)


def _results(rows: list[Row]) -> list[Any]:
    """Child outputs in item order; a tolerated failure is its Error and Cause (as inline)."""
    out = []
    for r in rows:
        res = json.loads(r["result"]) if r["result"] else {}
        if r["status"] == "SUCCEEDED":
            out.append(res.get("output"))
        else:
            out.append({"Error": res.get("error"), "Cause": res.get("cause")})
    return out


def _error_details(error: str | None, cause: str | None) -> dict[str, str]:
    return {k: v for k, v in {"error": error, "cause": cause}.items() if v is not None}


# ---------------------------------------------------------------- the API's side


def _map_run_row(store: Store, conn: sqlite3.Connection, arn: object) -> Row:
    parse_map_run_arn(arn)
    row = store.map_run(conn, str(arn))
    if row is None:
        raise ApiError("ResourceNotFound", f"Resource not found: '{arn}'", resourceName=str(arn))
    return row


def _counts(counts: dict[str, tuple[int, int]], which: int, written: int) -> dict[str, int]:
    def n(status: str) -> int:
        return counts.get(status, (0, 0))[which]

    return {
        "pending": n("PENDING"),
        "running": n("RUNNING"),
        "succeeded": n("SUCCEEDED"),
        "failed": n("FAILED"),
        "timedOut": n("TIMED_OUT"),
        "aborted": n("ABORTED"),
        "total": sum(v[which] for v in counts.values()),
        "resultsWritten": written,
        "failuresNotRedrivable": 0,
        "pendingRedrive": 0,
    }


def describe_map_run(store: Store, req: dict[str, Any]) -> dict[str, Any]:
    with store.read() as conn:
        mr = _map_run_row(store, conn, _require(req, "mapRunArn"))
        counts = store.map_run_counts(conn, mr["arn"])
    # Results are written (into the Map state's output) when the run succeeds.
    done = mr["status"] == "SUCCEEDED"
    succeeded = counts.get("SUCCEEDED", (0, 0))
    out: dict[str, Any] = {
        "mapRunArn": mr["arn"],
        "executionArn": mr["exec_arn"],
        "status": mr["status"],
        "startDate": mr["start"],
        "maxConcurrency": mr["max_concurrency"],
        "toleratedFailurePercentage": mr["tolerated_percentage"],
        "toleratedFailureCount": mr["tolerated_count"],
        "itemCounts": _counts(counts, 1, succeeded[1] if done else 0),
        "executionCounts": _counts(counts, 0, succeeded[0] if done else 0),
        "redriveCount": 0,
    }
    if mr["stop"] is not None:
        out["stopDate"] = mr["stop"]
    return out


def list_map_runs(store: Store, req: dict[str, Any]) -> dict[str, Any]:
    exec_arn = _require(req, "executionArn")
    parts = exec_arn.split(":") if isinstance(exec_arn, str) else []
    if len(parts) != 8 or parts[:3] != ["arn", "aws", "states"] or parts[5] != "execution":
        raise ApiError(
            "InvalidArn", f"Invalid Arn: 'Resource type not valid in this context: {exec_arn}'"
        )
    page = paging.requested(req)
    with store.read() as conn:
        if store.execution_row(conn, exec_arn) is None:
            raise ApiError("ExecutionDoesNotExist", f"Execution Does Not Exist: '{exec_arn}'")
        rows = store.map_runs_of_execution(conn, exec_arn, page.fetch, page.offset)

    def item(r: Any) -> dict[str, Any]:
        out = {
            "executionArn": r["exec_arn"],
            "mapRunArn": r["arn"],
            "stateMachineArn": r["sm_arn"],
            "startDate": r["start"],
        }
        if r["stop"] is not None:
            out["stopDate"] = r["stop"]
        return out

    return page.answer("mapRuns", rows, item)


def update_map_run(engine: Engine, req: dict[str, Any]) -> dict[str, Any]:
    """New MaxConcurrency or tolerated failure thresholds for a running map run: more room
    starts pending children at once, and the thresholds are checked against the failures so
    far at once."""
    arn = _require(req, "mapRunArn")
    given = {
        k: req.get(k)
        for k in ("maxConcurrency", "toleratedFailurePercentage", "toleratedFailureCount")
        if req.get(k) is not None
    }
    if not given:
        raise ApiError(
            "ValidationException",
            "At least one of the parameters maxConcurrency, toleratedFailurePercentage or "
            "toleratedFailureCount must be specified",
            reason="MISSING_REQUIRED_PARAMETER",
        )
    _check_number(given, "maxConcurrency", 0, None, integer=True)
    _check_number(given, "toleratedFailureCount", 0, None, integer=True)
    _check_number(given, "toleratedFailurePercentage", 0, 100, integer=False)
    fx = Effects()
    with engine.store.tx() as conn:
        mr = _map_run_row(engine.store, conn, arn)
        if mr["status"] != "RUNNING":
            raise ApiError(
                "ValidationException",
                f"Map Run '{mr['arn']}' has already completed and cannot be updated",
                reason="CANNOT_UPDATE_COMPLETED_MAP_RUN",
            )
        engine.store.configure_map_run(
            conn,
            mr["arn"],
            int(given.get("maxConcurrency", mr["max_concurrency"])),
            int(given.get("toleratedFailureCount", mr["tolerated_count"])),
            float(given.get("toleratedFailurePercentage", mr["tolerated_percentage"])),
        )
        _advance(engine, conn, mr["arn"], fx)
    engine.apply(fx)
    return {}


def _check_number(
    given: dict[str, Any], key: str, low: float, high: float | None, integer: bool
) -> None:
    if key not in given:
        return
    value = given[key]
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if ok and integer:
        ok = isinstance(value, int) or float(value).is_integer()
    if not ok or value < low or (high is not None and value > high):
        bound = (
            f"between {low} and {high}" if high is not None else f"greater than or equal to {low}"
        )
        raise ApiError(
            "ValidationException",
            f"1 validation error detected: Value at '{key}' failed to satisfy constraint: "
            f"Member must have value {bound}",
        )


def list_executions(store: Store, req: dict[str, Any]) -> dict[str, Any]:
    """ListExecutions(mapRunArn=...): the child executions the map run has started."""
    if req.get("stateMachineArn") is not None:
        raise ApiError(
            "ValidationException",
            "You can specify either a mapRunArn or a stateMachineArn, but not both",
        )
    arn = req["mapRunArn"]
    status = req.get("statusFilter")
    if status is not None and status not in EXECUTION_STATUSES:
        raise ApiError("ValidationException", f"Invalid statusFilter: {status}")
    page = paging.requested(req)
    with store.read() as conn:
        mr = _map_run_row(store, conn, arn)
        rows = store.map_run_executions(conn, mr["arn"], status, page.fetch, page.offset)

    def item(r: Any) -> dict[str, Any]:
        out = {
            "executionArn": r["arn"],
            "stateMachineArn": r["sm_arn"],
            "name": r["name"],
            "status": r["status"],
            "startDate": r["start"],
            "mapRunArn": mr["arn"],
            "itemCount": r["items"],
            "redriveCount": 0,
        }
        if r["stop"] is not None:
            out["stopDate"] = r["stop"]
        return out

    return page.answer("executions", rows, item)


def execution_members(store: Store, conn: sqlite3.Connection, exec_arn: str) -> dict[str, Any]:
    """DescribeExecution's mapRunArn: only a child execution has one."""
    if not is_child_execution_arn(exec_arn):
        return {}
    child = store.map_run_child_of(conn, exec_arn)
    return {} if child is None else {"mapRunArn": child["map_run_arn"]}


def state_machine_members(store: Store, conn: sqlite3.Connection, exec_arn: str) -> dict[str, Any]:
    """DescribeStateMachineForExecution's mapRunArn and label (the Map state's Label, or the
    UUID that stands for it): only a child execution has them."""
    members = execution_members(store, conn, exec_arn)
    if members:
        machine = exec_arn.split(":")[6]
        members["label"] = machine.rsplit("/", 1)[1]
    return members


def _require(req: dict[str, Any], key: str) -> Any:
    if req.get(key) is None:
        raise ApiError("MissingRequiredParameter", f"Missing required parameter: {key}")
    return req[key]
