"""Express workflows: executions of an EXPRESS state machine, run by a second engine over an
in-memory store, so none of them survives a restart (AWS: synchronous Express executions run
at most once; nothing about them is kept after they end but logs).

StartSyncExecution runs one to its end and answers its outcome; StartExecution on an EXPRESS
machine starts one and answers at once. Either way the execution is forgotten once it ends:
AWS's Describe/GetExecutionHistory/StopExecution/ListExecutions do not serve Express
executions, so nothing could read it. An execution lasts at most five minutes
(`limit_seconds`): it then ends TIMED_OUT with States.Timeout, as AWS ends one.
"""

from __future__ import annotations

import math
import pathlib
import threading
import time
import uuid
from typing import Any

from .clock import Clock
from .context import Effects
from .engine import Engine, Scheduler
from .errors import ApiError
from .invoker import LambdaInvoker
from .records import Execution
from .scheduler import RunScheduler
from .store import Store

EXPRESS = "EXPRESS"
LIMIT_SECONDS = 300.0
INCLUDED_DATA = ("ALL_DATA", "METADATA_ONLY")
# AWS bills Express by memory (in 64 MB steps) and duration (in 100 ms steps).
BILLED_MEMORY_MB = 64
BILLED_DURATION_STEP_MS = 100
# How often a synchronous caller looks whether its execution ended: starts fast, so a short
# execution answers in a few milliseconds, and backs off for long ones.
FIRST_POLL_SECONDS = 0.002
LONGEST_POLL_SECONDS = 0.05


def express_arn(region: str, account_id: str, sm_name: str, name: str) -> str:
    """AWS's form for an Express execution: `...:express:Machine:name:uuid`."""
    return f"arn:aws:states:{region}:{account_id}:express:{sm_name}:{name}:{uuid.uuid4()}"


def type_not_supported(operation: str, machine_type: str) -> ApiError:
    return ApiError(
        "StateMachineTypeNotSupported",
        f"This operation ({operation}) is not supported by {machine_type} state machines",
    )


def check_included_data(req: dict[str, Any]) -> str:
    included = req.get("includedData") or "ALL_DATA"
    if included not in INCLUDED_DATA:
        raise ApiError(
            "ValidationException",
            f"1 validation error detected: Value '{included}' at 'includedData' failed to "
            "satisfy constraint: Member must satisfy enum value set: [ALL_DATA, METADATA_ONLY]",
        )
    return str(included)


class ExpressExecutions:
    """The Express engine; built on first use so a service that never runs one pays nothing."""

    def __init__(
        self, invoker: LambdaInvoker, region: str, account_id: str, clock: Clock, workers: int
    ) -> None:
        self.invoker = invoker
        self.region = region
        self.account_id = account_id
        self.clock = clock
        self.workers = workers
        self.limit_seconds = LIMIT_SECONDS
        self._lock = threading.Lock()
        self._engine: Engine | None = None
        self._scheduler: RunScheduler | None = None
        self._store: Store | None = None
        # Ended executions whose synchronous caller has not read them yet: kept until it has.
        self._unread: set[str] = set()

    def _started(self) -> tuple[Store, Engine]:
        with self._lock:
            if self._engine is None or self._store is None:
                store = Store(pathlib.Path(":memory:"), self.clock)
                scheduler = RunScheduler(store, self.clock, self.workers)
                engine = Engine(
                    store,
                    self.invoker,
                    Scheduler(scheduler.enqueue, scheduler.submit_invoke, scheduler.timer_changed),
                    self.region,
                    self.account_id,
                    self.clock,
                )
                scheduler.engine = engine
                scheduler.start()
                self._store, self._engine, self._scheduler = store, engine, scheduler
            return self._store, self._engine

    def stop(self) -> None:
        with self._lock:
            if self._scheduler is not None and self._store is not None:
                self._scheduler.stop()
                self._store.close()
            self._engine = self._scheduler = self._store = None

    # ---------------------------------------------------------------- starting

    def _start(self, ex: Execution, sync: bool, mocked: tuple[str, Any] | None) -> Execution:
        """Run `ex` (built as a STANDARD one would be) under its Express ARN."""
        store, engine = self._started()
        ex.arn = express_arn(self.region, self.account_id, ex.sm_name, ex.name)
        if sync:
            with self._lock:
                self._unread.add(ex.arn)
        fx = Effects()
        with store.tx() as conn:
            self._forget_ended(store, conn)
            store.insert_execution(conn, ex, mocked)
            engine.start_execution(conn, ex, fx)
            # Express's own limit, beside any TimeoutSeconds the definition sets
            engine.add_timer(conn, fx, ex.start + self.limit_seconds, "exec_timeout", None, ex.arn)
        engine.apply(fx)
        return ex

    def _forget_ended(self, store: Store, conn: Any) -> None:
        with self._lock:
            unread = set(self._unread)
        for arn in store.ended_executions(conn):
            if arn not in unread:
                store.forget_execution(conn, arn)

    def start_async(self, ex: Execution, mocked: tuple[str, Any] | None) -> dict[str, Any]:
        """StartExecution on an EXPRESS machine: started, not waited for. mocked: a test case
        of the MockConfigFile (its name and its states' responses), as for STANDARD."""
        started = self._start(ex, False, mocked)
        return {"executionArn": started.arn, "startDate": started.start}

    def start_sync(
        self,
        ex: Execution,
        included: str,
        trace_header: str | None = None,
        mocked: tuple[str, Any] | None = None,
    ) -> dict[str, Any]:
        """StartSyncExecution: runs the execution to its end and answers its outcome."""
        started = self._start(ex, True, mocked)
        store, _ = self._started()
        row = self._wait_for_end(store, started.arn)
        out: dict[str, Any] = {
            "executionArn": started.arn,
            "stateMachineArn": started.sm_arn,
            "name": started.name,
            "startDate": started.start,
            "stopDate": row["stop"],
            "status": row["status"],
            "billingDetails": {
                "billedMemoryUsedInMB": BILLED_MEMORY_MB,
                "billedDurationInMilliseconds": _billed_ms(row["stop"] - started.start),
            },
        }
        for key in ("error", "cause"):
            if row[key] is not None:
                out[key] = row[key]
        all_data = included == "ALL_DATA"
        out["inputDetails"] = {"included": all_data}
        if all_data:
            out["input"] = started.input
        if row["output"] is not None:
            out["outputDetails"] = {"included": all_data}
            if all_data:
                out["output"] = row["output"]
        if trace_header is not None:
            out["traceHeader"] = trace_header
        with store.tx() as conn:
            store.forget_execution(conn, started.arn)
        with self._lock:
            self._unread.discard(started.arn)
        return out

    def _wait_for_end(self, store: Store, arn: str) -> Any:
        pause = FIRST_POLL_SECONDS
        while True:
            with store.read() as conn:
                row = store.execution_row(conn, arn)
            if row is None or row["status"] != "RUNNING":
                return row
            time.sleep(pause)
            pause = min(pause * 2, LONGEST_POLL_SECONDS)


def _billed_ms(seconds: float) -> int:
    steps = max(1, math.ceil(max(0.0, seconds) * 1000 / BILLED_DURATION_STEP_MS))
    return steps * BILLED_DURATION_STEP_MS
