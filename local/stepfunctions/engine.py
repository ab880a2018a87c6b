"""The interpreter core: advances runs one persisted step at a time.

What each state type does is in states/ (one module per type; Retry/Catch in states/retry.py,
the Parallel/Map join in states/children.py); the SQL in store.py. This module drives them:
a run's phases (enter → attempt → waiting → outcome), leaving a state, finishing a run, and
the ways a waiting run is woken (a Lambda's answer, a timer, a task token).

Every method that changes a run does so inside one store transaction and records what has
to happen after the commit (enqueue a run, start a Lambda invocation, wake the timer
thread) in an Effects object, so no Lambda is ever called while the database is locked.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import errors, map_runs
from .clock import Clock, SystemClock
from .context import Effects, Step, compact_json
from .definition import sub_machine
from .errors import ApiError, StatesError
from .invoker import LambdaInvoker
from .languages import language_of
from .records import Execution, Run
from .states import STATE_TYPES, children, retry, task
from .states.task import lambda_result, make_token, token_well_formed
from .store import Store
from .timestamps import iso

__all__ = [
    "Effects",
    "Engine",
    "Scheduler",
    "lambda_result",
    "make_token",
    "token_well_formed",
]

MAX_PAYLOAD_BYTES = 256 * 1024
ACTIVE_PHASES = ("enter", "attempt", "outcome")
WAITING_PHASES = ("waiting", "invoking", "children")


@dataclass
class Scheduler:
    """How the engine hands work back to the service (called after commit)."""

    enqueue: Callable[[int], None]
    invoke: Callable[[int, int], None]
    timer: Callable[[float], None]
    activity: Callable[[str], None] = lambda activity_arn: None


class Engine:
    def __init__(
        self,
        store: Store,
        invoker: LambdaInvoker,
        scheduler: Scheduler,
        region: str,
        account_id: str,
        clock: Clock | None = None,
    ) -> None:
        self.store = store
        self.invoker = invoker
        self.scheduler = scheduler
        self.region = region
        self.account_id = account_id
        self.clock: Clock = clock or SystemClock()
        self._definitions: dict[str, dict[str, Any]] = {}

    # ---------------------------------------------------------------- plumbing

    def apply(self, fx: Effects) -> None:
        for due in fx.timers:
            self.scheduler.timer(due)
        for run_id in fx.runs:
            self.scheduler.enqueue(run_id)
        for run_id, seq in fx.invokes:
            self.scheduler.invoke(run_id, seq)
        for activity_arn in fx.activities:
            self.scheduler.activity(activity_arn)

    def definition(self, ex: Execution) -> dict[str, Any]:
        # Keyed by the definition's text, not the execution: every execution of a state
        # machine shares one parsed document (read only), so a backlog of more executions than
        # the cache holds no longer parses 12 KB of JSON again at each of their steps.
        doc = self._definitions.get(ex.definition)
        if doc is None:
            doc = json.loads(ex.definition)
            if len(self._definitions) > 64:
                self._definitions.clear()
            self._definitions[ex.definition] = doc
        return doc

    def event(
        self, conn: sqlite3.Connection, run: Run, type_: str, details: dict[str, Any] | None
    ) -> int:
        event_id = self.store.add_event(conn, run.exec_arn, type_, details, prev=run.last_event)
        run.last_event = event_id
        return event_id

    def add_timer(
        self,
        conn: sqlite3.Connection,
        fx: Effects,
        due: float,
        kind: str,
        run: Run | None,
        exec_arn: str,
        payload_value: Any = None,
    ) -> None:
        self.store.add_timer(
            conn,
            due,
            kind,
            exec_arn,
            run.id if run else None,
            run.seq if run else None,
            payload_value,
        )
        fx.timers.append(due)

    def context(self, ex: Execution, run: Run, token: str | None = None) -> dict[str, Any]:
        """The context object (`$$`) of the run's current state."""
        return self.context_builder(ex, run, token)()

    def context_builder(
        self, ex: Execution, run: Run, token: str | None = None
    ) -> Callable[[], dict[str, Any]]:
        """The context object as the run is now, built only if an expression reads it: what
        it shows of the run (state, entry time, retries, Map item) is taken at this call, so a
        later step of the same run cannot change it."""
        state, entered = run.state, run.entered_time or self.clock.now()
        retry_count, map_ctx = run.retry_count, run.ctx.get("Map")

        def build() -> dict[str, Any]:
            ctx = self._context_object(ex, state, entered, retry_count, token)
            if map_ctx is not None:
                ctx["Map"] = map_ctx
            return ctx

        return build

    def _context_object(
        self, ex: Execution, state: str, entered: float, retry_count: int, token: str | None
    ) -> dict[str, Any]:
        ctx: dict[str, Any] = {
            "Execution": {
                "Id": ex.arn,
                "Input": json.loads(ex.input),
                "Name": ex.name,
                "RoleArn": ex.role_arn,
                "StartTime": iso(ex.start),
                "RedriveCount": ex.redrive_count,
            },
            "State": {
                "EnteredTime": iso(entered),
                "Name": state,
                "RetryCount": retry_count,
            },
            "StateMachine": {"Id": ex.sm_arn, "Name": ex.sm_name},
        }
        if ex.redrive_date is not None:
            ctx["Execution"]["RedriveTime"] = iso(ex.redrive_date)
        if token is not None:
            ctx["Task"] = {"Token": token}
        return ctx

    # ---------------------------------------------------------------- starting

    def start_execution(
        self, conn: sqlite3.Connection, ex: Execution, fx: Effects, first_steps: int = 0
    ) -> None:
        """Insert the execution's run and its ExecutionStarted event; with first_steps, also
        take up to that many of its steps in the same transaction (step_inline)."""
        doc = self.definition(ex)
        run = Run(
            id=0,
            exec_arn=ex.arn,
            parent_id=None,
            parent_seq=None,
            idx=None,
            branch=[],
            state=doc["StartAt"],
            phase="enter",
            seq=0,
            input=json.loads(ex.input),
        )
        run.last_event = self.store.add_event(
            conn,
            ex.arn,
            "ExecutionStarted",
            {
                "input": ex.input,
                "inputDetails": {"truncated": False},
                "roleArn": ex.role_arn,
                "stateMachineArn": ex.sm_arn,
            },
            prev=0,
        )
        self.store.insert_run(conn, run)
        timeout = doc.get("TimeoutSeconds")
        if isinstance(timeout, (int, float)) and timeout > 0:
            self.add_timer(conn, fx, ex.start + timeout, "exec_timeout", None, ex.arn)
        if first_steps > 0:
            self.step_inline(conn, run.id, first_steps, fx)
        else:
            fx.runs.append(run.id)

    def step_inline(self, conn: sqlite3.Connection, run_id: int, limit: int, fx: Effects) -> None:
        """Take a run's first steps in the caller's transaction instead of handing it to a
        worker: a StartExecution then commits once, not twice, and no thread is woken for a
        machine that ends within `limit` steps (Pass/Choice chains: a third of their cost).
        Its steps sit in a savepoint: if one raises, they are undone and the run goes to a
        worker, which steps it again and fails the execution visibly if it raises again;
        the caller's own writes stand."""
        run_fx = Effects()
        self.store.savepoint(conn)
        try:
            again = self._advance(conn, run_id, limit, run_fx)
        except Exception:
            self.store.rollback_to_savepoint(conn)
            fx.runs.append(run_id)
            return
        self.store.release_savepoint(conn)
        fx.extend(run_fx)
        if again:
            fx.runs.append(run_id)

    # ---------------------------------------------------------------- stepping

    def step(self, run_id: int, limit: int = 1) -> bool:
        """Advance a run by up to `limit` steps in one transaction; True when it can be
        stepped again at once.

        Steps that touch nothing outside the store (Pass, Choice, a state's entry, an outcome)
        share a commit: one transaction instead of one each, which was most of the engine's
        cost per transition. Nothing outside sees a step before its commit, because every
        effect (an invocation, a timer, another run to step) is applied only after it, so a
        kill -9 mid-batch loses only steps nobody has acted on, and recovery redoes them.
        A step that hands work out (an invocation, a timer, another run to step) ends the
        batch, so that work starts as soon as it did before.
        """
        fx = Effects()
        with self.store.tx() as conn:
            again = self._advance(conn, run_id, limit, fx)
        self.apply(fx)
        return again

    def step_runs(self, run_ids: list[int], limit: int) -> tuple[list[int], dict[int, Exception]]:
        """Advance several runs, each by up to `limit` steps, in one transaction (a group
        commit); the runs that can be stepped again at once, and those whose step raised.

        A commit, the store's lock and the hand-offs between threads around it cost more than
        the steps of a Pass or a Map iteration: ten iterations of a Map took ten commits, now
        one. Each run's steps sit in a savepoint, so one that raises is rolled back alone
        (and its effects dropped) while the others commit. Effects are applied after the
        commit, as in step(): nothing outside sees a step before it is durable."""
        fx = Effects()
        again: list[int] = []
        crashed: dict[int, Exception] = {}
        with self.store.tx() as conn:
            for run_id in run_ids:
                run_fx = Effects()
                self.store.savepoint(conn)
                try:
                    if self._advance(conn, run_id, limit, run_fx):
                        again.append(run_id)
                except Exception as e:
                    self.store.rollback_to_savepoint(conn)
                    crashed[run_id] = e
                    continue
                self.store.release_savepoint(conn)
                fx.extend(run_fx)
        self.apply(fx)
        return again, crashed

    def _advance(self, conn: sqlite3.Connection, run_id: int, limit: int, fx: Effects) -> bool:
        run = self.store.load_run(conn, run_id)
        if run is None or run.phase not in ACTIVE_PHASES:
            return False
        ex = self.store.load_execution(conn, run.exec_arn)
        if ex is None or ex.status != "RUNNING":
            run.phase, run.status = "done", "ABORTED"
            self.store.save_run(conn, run)
            return False
        # The run and its execution are read once and the run written once per batch: no
        # one else can change either while this transaction holds the store, and a step
        # that ends the execution also ends the batch (the run is no longer active).
        again = False
        for _ in range(max(1, limit)):
            again = self._step(conn, ex, run, fx)
            if not again or fx.invokes or fx.timers or fx.runs:
                break
        if run.phase != "done" or run.parent_id is None:
            # A finished branch or iteration was written by finish(), before its parent read
            # it, and nothing changes it after: writing it again cost a Map a tenth of its CPU.
            self.store.save_run(conn, run)
        return again

    def _step(self, conn: sqlite3.Connection, ex: Execution, run: Run, fx: Effects) -> bool:
        doc = self.definition(ex)
        machine = sub_machine(doc, run.branch)
        state = machine["States"][run.state]
        step = Step(self, conn, ex, run, state, language_of(doc, machine, state), fx)
        try:
            if run.phase == "enter":
                self._enter(step)
            elif run.phase == "attempt":
                self._attempt(step)
            else:
                self._outcome(step)
        except StatesError as e:
            retry.handle_failure(step, self._prefixed(run, e))
        return run.phase in ACTIVE_PHASES

    def _prefixed(self, run: Run, e: StatesError) -> StatesError:
        if e.error in (errors.RUNTIME, errors.QUERY_EVALUATION_ERROR) and not (
            e.cause or ""
        ).startswith("An error occurred"):
            return StatesError(
                e.error,
                f"An error occurred while executing the state '{run.state}' "
                f"(entered at the event id #{run.entered_event}). {e.cause}",
            )
        return e

    def _enter(self, step: Step) -> None:
        run = step.run
        run.entered_time = self.clock.now()
        run.entered_event = step.event(
            f"{step.type}StateEntered",
            {
                "name": run.state,
                "input": compact_json(run.input),
                "inputDetails": {"truncated": False},
            },
        )
        run.retriers = [0] * len(step.state.get("Retry") or [])
        run.retry_count = 0
        run.pending = None
        STATE_TYPES[step.type].enter(step)

    def _attempt(self, step: Step) -> None:
        step.run.pending = None
        attempt = STATE_TYPES[step.type].attempt
        if attempt is None:
            raise StatesError(errors.RUNTIME, f"State type {step.type} has no attempt phase")
        attempt(step)

    def _outcome(self, step: Step) -> None:
        pending = step.run.pending or {}
        handler = STATE_TYPES[step.type]
        if "error" in pending:
            err = StatesError(pending["error"], pending.get("cause"))
            if handler.failed is not None:
                handler.failed(step, err, pending.get("timeout", False))
            retry.handle_failure(step, err)
            return
        if handler.outcome is not None:
            handler.outcome(step, pending)
            return
        result = pending.get("result")
        if handler.succeeded is not None:
            handler.succeeded(step, result)
        out, assign = step.lang.task_output(step.state, step.scope(step.run.input), result)
        step.assign(assign)
        step.exit(out)

    def _check_size(self, run: Run, value: Any) -> None:
        if len(compact_json(value).encode()) > MAX_PAYLOAD_BYTES:
            raise StatesError(
                errors.DATA_LIMIT_EXCEEDED,
                f"The state/task '{run.state}' returned a result with a size exceeding the "
                f"maximum number of bytes service limit.",
            )

    def exit_state(
        self, step: Step, output: Any, next_state: str | None = None, end: bool = False
    ) -> None:
        run, state = step.run, step.state
        self._check_size(run, output)
        step.event(
            f"{step.type}StateExited",
            {
                "name": run.state,
                "output": compact_json(output),
                "outputDetails": {"truncated": False},
            },
        )
        # A Catch's (or Choice's) Next wins over the state's own End: a Task with "End": true
        # and a Catch goes on to the catcher's state when the error is caught.
        target = next_state or state.get("Next")
        if end or target is None or (next_state is None and state.get("End") is True):
            step.finish(output=output)
            return
        run.state = target
        run.input = output
        run.phase = "enter"
        run.retriers, run.retry_count, run.pending, run.action = [], 0, None, None

    # ---------------------------------------------------------------- waking a waiting run

    def resolve(
        self,
        conn: sqlite3.Connection,
        run: Run,
        pending: dict[str, Any] | None,
        fx: Effects,
        phase: str = "outcome",
    ) -> None:
        """Move a waiting run on: its outcome arrived (timer, callback, Lambda, children)."""
        run.phase = phase
        run.pending = pending
        run.seq += 1
        run.action_pending = 0
        self.store.release_waits(conn, run.id)
        fx.runs.append(run.id)

    def invoke(self, run_id: int, seq: int) -> None:
        """Perform a run's pending Lambda call (no lock held) and record its outcome."""
        with self.store.read() as conn:
            run = self.store.load_run(conn, run_id)
        if run is None or run.seq != seq or not run.action_pending or run.action is None:
            return
        ok, value = task.call(self.invoker, run.action)
        self.invoke_finished(run_id, seq, ok, value)

    def invoke_finished(self, run_id: int, seq: int, ok: bool, value: Any) -> None:
        fx = Effects()
        with self.store.tx() as conn:
            run = self.store.load_run(conn, run_id)
            if run is None or run.seq != seq or not run.action_pending or run.action is None:
                return
            action = run.action
            run.action_pending = 0
            result = lambda_result(value) if ok and action["kind"] == "lambda" else value
            if not ok:
                self.store.fail_tokens(conn, run.id, seq)
                self.resolve(conn, run, {"error": value.error, "cause": value.cause}, fx)
            elif action["callback"]:
                self.event(
                    conn,
                    run,
                    "TaskSubmitted",
                    {
                        "resourceType": "lambda",
                        "resource": action["resource"].rsplit(":", 1)[-1],
                        "output": compact_json(result),
                        "outputDetails": {"truncated": False},
                    },
                )
            else:
                self.resolve(conn, run, {"result": result}, fx)
            self.store.save_run(conn, run)
        self.apply(fx)

    def fire_timer(self, timer_id: int) -> None:
        fx = Effects()
        with self.store.tx() as conn:
            row = self.store.take_timer(conn, timer_id)
            if row is None:
                return
            self.fire_taken_timer(conn, row, fx)
        self.apply(fx)

    def fire_taken_timer(self, conn: sqlite3.Connection, row: sqlite3.Row, fx: Effects) -> None:
        """A timer already taken from the store, fired in the caller's transaction: the
        scheduler fires a batch of due timers in one commit."""
        if row["kind"] == "exec_timeout":
            ex = self.store.load_execution(conn, row["exec_arn"])
            if ex is not None and ex.status == "RUNNING":
                # A child execution of a map run timing out moves its map run on (fx).
                self.terminate(conn, ex.arn, "TIMED_OUT", errors.TIMEOUT, None, fx)
        else:
            self._fire_run_timer(conn, row, fx)

    def _fire_run_timer(self, conn: sqlite3.Connection, row: sqlite3.Row, fx: Effects) -> None:
        """A timer of one run's wait: a Wait's end, a Retry's back-off, a task timeout."""
        kind = row["kind"]
        run = self.store.load_run(conn, row["run_id"])
        if run is None or run.seq != row["seq"] or run.phase not in WAITING_PHASES:
            return
        if kind == "wait":
            data = json.loads(row["payload"]) if row["payload"] else {}
            self.resolve(conn, run, {"output": data.get("output")}, fx)
        elif kind == "retry":
            self.resolve(conn, run, None, fx, phase="attempt")
        elif kind in ("timeout", "heartbeat"):
            self.store.time_out_tokens(conn, run.id)
            error = errors.TIMEOUT if kind == "timeout" else errors.HEARTBEAT_TIMEOUT
            self.resolve(conn, run, {"error": error, "cause": None, "timeout": True}, fx)
        self.store.save_run(conn, run)
        if kind in ("wait", "timeout", "heartbeat"):
            self._record_outcome(conn, run, fx)

    def _record_outcome(self, conn: sqlite3.Connection, run: Run, fx: Effects) -> None:
        """The woken run's outcome step (WaitStateExited, TaskTimedOut, ...) in the timer's own
        transaction: its events bear the time the timer fired, not the time a worker got to
        the run behind a thousand others due in the same second. A retry's new attempt is
        left to the workers (it may be a Lambda call's whole set-up). If the step raises, it
        is undone and left to a worker, which reports the crash on the execution."""
        step_fx = Effects()
        try:
            with self.store.undone_alone(conn):
                ex = self.store.load_execution(conn, run.exec_arn)
                if ex is not None and ex.status == "RUNNING":
                    self._step(conn, ex, run, step_fx)
                    self.store.save_run(conn, run)
        except Exception:
            return  # resolve() queued the run already: a worker steps it again
        fx.extend(step_fx)

    def _waiting_token(self, conn: sqlite3.Connection, token: str) -> sqlite3.Row:
        """The token's row if it still waits for an answer; else the error AWS gives."""
        row = self.store.token(conn, token)
        if row is None:
            if token_well_formed(token):
                raise ApiError("TaskDoesNotExist", "Task does not exist anymore")
            raise ApiError("InvalidToken", "Invalid token")
        if row["status"] != "waiting":
            raise ApiError("TaskTimedOut", "Task Timed Out: 'Provided task does not exist anymore'")
        return row

    def task_response(
        self, token: str, output: Any = None, error: StatesError | None = None
    ) -> None:
        """SendTaskSuccess / SendTaskFailure. Raises ApiError for unknown or closed tokens."""
        fx = Effects()
        with self.store.tx() as conn:
            row = self._waiting_token(conn, token)
            run = self.store.load_run(conn, row["run_id"])
            if run is None or run.seq != row["seq"] or run.phase != "waiting":
                raise ApiError(
                    "TaskTimedOut", "Task Timed Out: 'Provided task does not exist anymore'"
                )
            self.store.answer_token(conn, token)
            if error is None:
                self.resolve(conn, run, {"result": output}, fx)
            else:
                self.resolve(conn, run, {"error": error.error, "cause": error.cause}, fx)
            self.store.save_run(conn, run)
        self.apply(fx)

    def heartbeat(self, token: str) -> None:
        fx = Effects()
        with self.store.tx() as conn:
            row = self._waiting_token(conn, token)
            if row["heartbeat"]:
                due = self.clock.now() + float(row["heartbeat"])
                self.store.postpone_heartbeat(conn, row["run_id"], row["seq"], due)
                fx.timers.append(due)
        self.apply(fx)

    # ---------------------------------------------------------------- finishing

    def finish(
        self,
        conn: sqlite3.Connection,
        ex: Execution,
        run: Run,
        fx: Effects,
        output: Any = None,
        error: StatesError | None = None,
    ) -> None:
        run.phase = "done"
        run.status = "FAILED" if error else "SUCCEEDED"
        run.result = {"error": error.error, "cause": error.cause} if error else {"output": output}
        self.store.delete_run_timers(conn, run.id)
        if run.parent_id is not None:
            self.store.save_run(conn, run)
            children.child_done(self, conn, ex, run, fx)
            return
        # The stop time first: a map run's next child, started by the hook, starts after it.
        now = self.clock.now()
        map_runs.execution_ended(self, conn, ex.arn, run.status, run.result, fx)
        if error:
            details = {"error": error.error, "cause": error.cause}
            details = {k: v for k, v in details.items() if v is not None}
            self.event(conn, run, "ExecutionFailed", details)
            self.store.end_execution(
                conn, ex.arn, "FAILED", now, error=error.error, cause=error.cause
            )
        else:
            text = compact_json(output)
            self.event(
                conn,
                run,
                "ExecutionSucceeded",
                {"output": text, "outputDetails": {"truncated": False}},
            )
            self.store.end_execution(conn, ex.arn, "SUCCEEDED", now, output=text)

    def terminate(
        self,
        conn: sqlite3.Connection,
        exec_arn: str,
        status: str,
        error: str | None,
        cause: str | None,
        fx: Effects | None = None,
    ) -> None:
        """End a running execution from outside (StopExecution, execution timeout). fx: where
        the work this hands out goes (a map run's next child, its Map state's outcome); the
        caller applies it after the commit."""
        now = self.clock.now()
        result = {"error": error, "cause": cause}
        map_runs.execution_ended(
            self, conn, exec_arn, status, result, fx if fx is not None else Effects()
        )
        event = "ExecutionAborted" if status == "ABORTED" else "ExecutionTimedOut"
        details = {k: v for k, v in {"error": error, "cause": cause}.items() if v is not None}
        self.store.add_event(conn, exec_arn, event, details)
        self.store.end_execution(conn, exec_arn, status, now, error=error, cause=cause)

    # ---------------------------------------------------------------- recovery

    def recover(self) -> None:
        """After a restart: queue runs that were mid-step and redo unfinished invocations."""
        with self.store.read() as conn:
            ready = self.store.runs_to_step(conn)
            invoking = self.store.runs_to_invoke(conn)
        for run_id in ready:
            self.scheduler.enqueue(run_id)
        for run_id, seq in invoking:
            self.scheduler.invoke(run_id, seq)
