"""The interpreter: advances runs one persisted step at a time.

Every method that changes a run does so inside one store transaction and records what has
to happen after the commit (enqueue a run, start a Lambda invocation, wake the timer
thread) in an Effects object, so no Lambda is ever called while the database is locked.
"""

from __future__ import annotations

import base64
import json
import random
import sqlite3
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import errors
from .definition import sub_machine
from .errors import ApiError, StatesError
from .invoker import LambdaFunctionError, LambdaInvoker, LambdaServiceError
from .languages import QueryLanguage, Scope, language_of
from .mocks import MockedState
from .records import Execution, Run
from .store import Store
from .timestamps import iso

MAX_PAYLOAD_BYTES = 256 * 1024
ACTIVE_PHASES = ("enter", "attempt", "outcome")
WAITING_PHASES = ("waiting", "invoking", "children")
LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke"
TOKEN_PREFIX = "AQB"


@dataclass
class Effects:
    runs: list[int] = field(default_factory=list)
    invokes: list[tuple[int, int]] = field(default_factory=list)
    timers: list[float] = field(default_factory=list)


@dataclass
class Scheduler:
    """How the engine hands work back to the service (called after commit)."""

    enqueue: Callable[[int], None]
    invoke: Callable[[int, int], None]
    timer: Callable[[float], None]


def _json(v: Any) -> str:
    return json.dumps(v, separators=(",", ":"), ensure_ascii=False)


def _now() -> float:
    return time.time()


def make_token(exec_arn: str) -> str:
    raw = json.dumps({"e": exec_arn, "u": uuid.uuid4().hex}).encode()
    return TOKEN_PREFIX + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def token_well_formed(token: str) -> bool:
    if not isinstance(token, str) or not token.startswith(TOKEN_PREFIX):
        return False
    body = token[len(TOKEN_PREFIX) :]
    try:
        data = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    except ValueError:
        return False
    return isinstance(data, dict) and "e" in data and "u" in data


def lambda_result(payload_value: Any) -> dict[str, Any]:
    """What arn:aws:states:::lambda:invoke returns around the handler's result."""
    request_id = str(uuid.uuid4())
    headers = {
        "Connection": "keep-alive",
        "Content-Type": "application/json",
        "X-Amz-Executed-Version": "$LATEST",
        "x-amzn-Remapped-Content-Length": "0",
        "x-amzn-RequestId": request_id,
    }
    return {
        "ExecutedVersion": "$LATEST",
        "Payload": payload_value,
        "SdkHttpMetadata": {
            "AllHttpHeaders": {k: [v] for k, v in headers.items()},
            "HttpHeaders": headers,
            "HttpStatusCode": 200,
        },
        "SdkResponseMetadata": {"RequestId": request_id},
        "StatusCode": 200,
    }


def error_matches(names: list[str], error: str | None) -> bool:
    for n in names:
        if n == error:
            return True
        if n == errors.ALL and error not in errors.NOT_MATCHED_BY_ALL:
            return True
        if n == errors.TASK_FAILED and error not in errors.NOT_MATCHED_BY_ALL | {errors.TIMEOUT}:
            return True
    return False


class Engine:
    def __init__(
        self,
        store: Store,
        invoker: LambdaInvoker,
        scheduler: Scheduler,
        region: str,
        account_id: str,
    ) -> None:
        self.store = store
        self.invoker = invoker
        self.scheduler = scheduler
        self.region = region
        self.account_id = account_id
        self._definitions: dict[str, dict[str, Any]] = {}

    # ---------------------------------------------------------------- plumbing

    def _apply(self, fx: Effects) -> None:
        for due in fx.timers:
            self.scheduler.timer(due)
        for run_id in fx.runs:
            self.scheduler.enqueue(run_id)
        for run_id, seq in fx.invokes:
            self.scheduler.invoke(run_id, seq)

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

    def _event(
        self, conn: sqlite3.Connection, run: Run, type_: str, details: dict[str, Any] | None
    ) -> int:
        event_id = self.store.add_event(conn, run.exec_arn, type_, details, prev=run.last_event)
        run.last_event = event_id
        return event_id

    def _add_timer(
        self,
        conn: sqlite3.Connection,
        fx: Effects,
        due: float,
        kind: str,
        run: Run | None,
        exec_arn: str,
        payload_value: Any = None,
    ) -> None:
        conn.execute(
            "INSERT INTO timers (due, kind, run_id, seq, exec_arn, payload) VALUES (?,?,?,?,?,?)",
            (
                due,
                kind,
                run.id if run else None,
                run.seq if run else None,
                exec_arn,
                None if payload_value is None else json.dumps(payload_value),
            ),
        )
        fx.timers.append(due)

    def context(self, ex: Execution, run: Run, token: str | None = None) -> dict[str, Any]:
        ctx: dict[str, Any] = {
            "Execution": {
                "Id": ex.arn,
                "Input": json.loads(ex.input),
                "Name": ex.name,
                "RoleArn": ex.role_arn,
                "StartTime": iso(ex.start),
                "RedriveCount": 0,
            },
            "State": {
                "EnteredTime": iso(run.entered_time or _now()),
                "Name": run.state,
                "RetryCount": run.retry_count,
            },
            "StateMachine": {"Id": ex.sm_arn, "Name": ex.sm_name},
        }
        if token is not None:
            ctx["Task"] = {"Token": token}
        if "Map" in run.ctx:
            ctx["Map"] = run.ctx["Map"]
        return ctx

    def _scope(self, ex: Execution, run: Run, data: Any, token: str | None = None) -> Scope:
        return Scope(data, self.context(ex, run, token), run.variables)

    # ---------------------------------------------------------------- starting

    def start_execution(self, conn: sqlite3.Connection, ex: Execution, fx: Effects) -> None:
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
        run.insert(conn)
        timeout = doc.get("TimeoutSeconds")
        if isinstance(timeout, (int, float)) and timeout > 0:
            self._add_timer(conn, fx, ex.start + timeout, "exec_timeout", None, ex.arn)
        fx.runs.append(run.id)

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
        again = False
        with self.store.tx() as conn:
            for _ in range(max(1, limit)):
                again = self._step(conn, run_id, fx)
                if not again or fx.invokes or fx.timers or fx.runs:
                    break
        self._apply(fx)
        return again

    def _step(self, conn: sqlite3.Connection, run_id: int, fx: Effects) -> bool:
        run = Run.load(conn, run_id)
        if run is None or run.phase not in ACTIVE_PHASES:
            return False
        ex = Execution.load(conn, run.exec_arn)
        if ex is None or ex.status != "RUNNING":
            run.phase, run.status = "done", "ABORTED"
            run.save(conn)
            return False
        machine = sub_machine(self.definition(ex), run.branch)
        state = machine["States"][run.state]
        lang = language_of(self.definition(ex), machine, state)
        try:
            if run.phase == "enter":
                self._enter(conn, ex, run, state, lang, fx)
            elif run.phase == "attempt":
                self._attempt(conn, ex, run, state, lang, fx)
            else:
                self._outcome(conn, ex, run, state, lang, fx)
        except StatesError as e:
            self._state_failed(conn, ex, run, state, lang, self._prefixed(run, e), fx)
        run.save(conn)
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

    def _enter(
        self,
        conn: sqlite3.Connection,
        ex: Execution,
        run: Run,
        state: dict[str, Any],
        lang: QueryLanguage,
        fx: Effects,
    ) -> None:
        typ = state["Type"]
        run.entered_time = _now()
        run.entered_event = self._event(
            conn,
            run,
            f"{typ}StateEntered",
            {"name": run.state, "input": _json(run.input), "inputDetails": {"truncated": False}},
        )
        run.retriers = [0] * len(state.get("Retry") or [])
        run.retry_count = 0
        run.pending = None
        scope = self._scope(ex, run, run.input)
        if typ == "Pass":
            _, out, assign = lang.pass_state(state, scope)
            self._assign(run, assign)
            self._exit(conn, ex, run, state, out, fx)
        elif typ == "Choice":
            target, out, assign = lang.choice_state(state, scope)
            self._assign(run, assign)
            self._exit(conn, ex, run, state, out, fx, next_state=target)
        elif typ == "Wait":
            due, out, assign = lang.wait_state(state, scope)
            self._assign(run, assign)
            run.seq += 1
            run.phase = "waiting"
            self._add_timer(conn, fx, due, "wait", run, ex.arn, {"output": out})
        elif typ == "Succeed":
            out = lang.succeed_state(state, scope)
            self._exit(conn, ex, run, state, out, fx, end=True)
        elif typ == "Fail":
            error, cause = lang.fail_state(state, scope)
            self._finish(conn, ex, run, fx, error=StatesError(error, cause))
        else:
            run.phase = "attempt"

    def _assign(self, run: Run, assign: dict[str, Any] | None) -> None:
        if assign:
            run.variables = {**run.variables, **assign}

    def _check_size(self, run: Run, value: Any) -> None:
        if len(_json(value).encode()) > MAX_PAYLOAD_BYTES:
            raise StatesError(
                errors.DATA_LIMIT_EXCEEDED,
                f"The state/task '{run.state}' returned a result with a size exceeding the "
                f"maximum number of bytes service limit.",
            )

    def _exit(
        self,
        conn: sqlite3.Connection,
        ex: Execution,
        run: Run,
        state: dict[str, Any],
        output: Any,
        fx: Effects,
        next_state: str | None = None,
        end: bool = False,
    ) -> None:
        self._check_size(run, output)
        typ = state["Type"]
        self._event(
            conn,
            run,
            f"{typ}StateExited",
            {"name": run.state, "output": _json(output), "outputDetails": {"truncated": False}},
        )
        # A Catch's (or Choice's) Next wins over the state's own End: a Task with "End": true
        # and a Catch goes on to the catcher's state when the error is caught.
        target = next_state or state.get("Next")
        if end or target is None or (next_state is None and state.get("End") is True):
            self._finish(conn, ex, run, fx, output=output)
            return
        run.state = target
        run.input = output
        run.phase = "enter"
        run.retriers, run.retry_count, run.pending, run.action = [], 0, None, None

    # ---------------------------------------------------------------- attempts

    def _attempt(
        self,
        conn: sqlite3.Connection,
        ex: Execution,
        run: Run,
        state: dict[str, Any],
        lang: QueryLanguage,
        fx: Effects,
    ) -> None:
        typ = state["Type"]
        run.pending = None
        if typ == "Task":
            self._attempt_task(conn, ex, run, state, lang, fx)
        elif typ == "Parallel":
            self._attempt_parallel(conn, ex, run, state, lang, fx)
        elif typ == "Map":
            self._attempt_map(conn, ex, run, state, lang, fx)
        else:
            raise StatesError(errors.RUNTIME, f"State type {typ} has no attempt phase")

    def _attempt_task(
        self,
        conn: sqlite3.Connection,
        ex: Execution,
        run: Run,
        state: dict[str, Any],
        lang: QueryLanguage,
        fx: Effects,
    ) -> None:
        resource = state.get("Resource", "")
        callback = resource.endswith(".waitForTaskToken")
        token = make_token(ex.arn) if callback else None
        scope = self._scope(ex, run, run.input, token)
        args = lang.task_arguments(state, scope)
        timeout, heartbeat = lang.task_timeouts(state, scope)
        if resource.startswith(LAMBDA_INVOKE):
            if not isinstance(args, dict) or "FunctionName" not in args:
                raise StatesError(
                    errors.RUNTIME, "The field 'FunctionName' is required for lambda:invoke"
                )
            function, body = args["FunctionName"], args.get("Payload")
            kind = "lambda"
            details: dict[str, Any] = {
                "resourceType": "lambda",
                "resource": resource.rsplit(":", 1)[-1],
                "region": self.region,
                "parameters": _json(args),
            }
            if timeout is not None:
                details["timeoutInSeconds"] = int(timeout)
            if heartbeat is not None:
                details["heartbeatInSeconds"] = int(heartbeat)
            self._event(conn, run, "TaskScheduled", details)
            self._event(
                conn,
                run,
                "TaskStarted",
                {"resourceType": "lambda", "resource": details["resource"]},
            )
        elif resource.startswith("arn:aws:lambda:"):
            function, body = resource, args
            kind = "direct"
            details = {
                "resource": resource,
                "input": _json(args),
                "inputDetails": {"truncated": False},
            }
            if timeout is not None:
                details["timeoutInSeconds"] = int(timeout)
            self._event(conn, run, "LambdaFunctionScheduled", details)
            self._event(conn, run, "LambdaFunctionStarted", None)
        else:
            raise StatesError(
                errors.RUNTIME, f"The resource '{resource}' is not supported by the local engine"
            )
        if self._answer_from_mock(conn, ex, run, kind, resource, fx):
            return
        run.seq += 1
        run.action = {
            "kind": kind,
            "function": function,
            "payload": body,
            "callback": callback,
            "token": token,
            "resource": resource,
            "seq": run.seq,
        }
        run.action_pending = 1
        run.phase = "waiting" if callback else "invoking"
        now = _now()
        if token is not None:
            conn.execute(
                "INSERT INTO tokens (token, run_id, seq, exec_arn, status, heartbeat, created) "
                "VALUES (?,?,?,?,?,?,?)",
                (token, run.id, run.seq, ex.arn, "waiting", heartbeat, now),
            )
        if timeout is not None:
            self._add_timer(conn, fx, now + timeout, "timeout", run, ex.arn)
        if heartbeat is not None and callback:
            self._add_timer(conn, fx, now + heartbeat, "heartbeat", run, ex.arn)
        fx.invokes.append((run.id, run.seq))

    def _answer_from_mock(
        self,
        conn: sqlite3.Connection,
        ex: Execution,
        run: Run,
        kind: str,
        resource: str,
        fx: Effects,
    ) -> bool:
        """Answer this attempt from the execution's mocked test case, if it names this state.

        Runs after TaskScheduled/TaskStarted are recorded, so a mocked task's history reads like
        a real one's: ... TaskStarted, then TaskSucceeded with the Return value as the result,
        or TaskFailed with the Throw's Error and Cause (Retry and Catch apply as usual). No
        Lambda is invoked; a `.waitForTaskToken` task does not wait (its Return is the callback's
        output), so no TaskSubmitted, no token to answer and no task timeout timer.
        """
        row = conn.execute(
            "SELECT test_case, states, invocations FROM mock_executions WHERE exec_arn=?",
            (ex.arn,),
        ).fetchone()
        if row is None:
            return False
        states = json.loads(row["states"])
        if run.state not in states:
            return False  # not named by the test case: the integration runs for real
        mocked = MockedState.from_json(states[run.state])
        # Invocations are counted per state for the whole execution (first call 0, each retry
        # +1), in the same transaction as the answer, so a restart neither skips nor repeats one.
        invocations = json.loads(row["invocations"])
        number = int(invocations.get(run.state, 0))
        invocations[run.state] = number + 1
        conn.execute(
            "UPDATE mock_executions SET invocations=? WHERE exec_arn=?",
            (json.dumps(invocations), ex.arn),
        )
        step = mocked.step_for(number)
        if step is None:
            # AWS: "If you do not specify a mocked response for a specific retry attempt ... the
            # state machine execution will fail." States.RUNTIME is what Step Functions Local
            # raises, and States.ALL does not match it, so no Retry or Catch hides the gap.
            pending: dict[str, Any] = {
                "error": errors.RUNTIME,
                "cause": f"No mocked response for invocation {number} of state '{run.state}': "
                f"MockedResponse '{mocked.response}' of test case '{row['test_case']}' "
                f"defines no entry for it",
            }
        elif step.kind == "Return":
            pending = {"result": step.value}
        else:
            pending = {"error": step.error, "cause": step.cause}
        run.action = {
            "kind": kind,
            "resource": resource,
            "mocked": mocked.response,
            "invocation": number,
        }
        self._resolve(conn, run, pending, fx)
        return True

    def invoke(self, run_id: int, seq: int) -> None:
        """Perform a run's pending Lambda call (no lock held) and record its outcome."""
        with self.store.read() as conn:
            run = Run.load(conn, run_id)
        if run is None or run.seq != seq or not run.action_pending or run.action is None:
            return
        action = run.action
        ok, value = True, None
        try:
            value = self.invoker.invoke(action["function"], action["payload"])
        except LambdaFunctionError as e:
            ok = False
            value = StatesError(
                e.error_type,
                json.dumps(
                    {
                        "errorMessage": e.error_message,
                        "errorType": e.error_type,
                        "requestId": str(uuid.uuid4()),
                        "stackTrace": e.stack_trace,
                    }
                ),
            )
        except LambdaServiceError as e:
            ok, value = False, StatesError(e.error, e.cause)
        except Exception as e:
            ok, value = False, StatesError("Lambda.ServiceException", f"{type(e).__name__}: {e}")
        self.invoke_finished(run_id, seq, ok, value)

    def invoke_finished(self, run_id: int, seq: int, ok: bool, value: Any) -> None:
        fx = Effects()
        with self.store.tx() as conn:
            run = Run.load(conn, run_id)
            if run is None or run.seq != seq or not run.action_pending or run.action is None:
                return
            action = run.action
            run.action_pending = 0
            result = lambda_result(value) if ok and action["kind"] == "lambda" else value
            if not ok:
                conn.execute(
                    "UPDATE tokens SET status='failed' WHERE run_id=? AND seq=? AND "
                    "status='waiting'",
                    (run.id, seq),
                )
                self._resolve(conn, run, {"error": value.error, "cause": value.cause}, fx)
            elif action["callback"]:
                self._event(
                    conn,
                    run,
                    "TaskSubmitted",
                    {
                        "resourceType": "lambda",
                        "resource": action["resource"].rsplit(":", 1)[-1],
                        "output": _json(result),
                        "outputDetails": {"truncated": False},
                    },
                )
            else:
                self._resolve(conn, run, {"result": result}, fx)
            run.save(conn)
        self._apply(fx)

    def _resolve(
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
        conn.execute("DELETE FROM timers WHERE run_id=?", (run.id,))
        conn.execute(
            "UPDATE tokens SET status='closed' WHERE run_id=? AND status='waiting'", (run.id,)
        )
        fx.runs.append(run.id)

    # ---------------------------------------------------------------- outcomes

    def _outcome(
        self,
        conn: sqlite3.Connection,
        ex: Execution,
        run: Run,
        state: dict[str, Any],
        lang: QueryLanguage,
        fx: Effects,
    ) -> None:
        pending = run.pending or {}
        typ = state["Type"]
        if "error" in pending:
            err = StatesError(pending["error"], pending.get("cause"))
            self._failure_events(conn, run, state, err, pending.get("timeout", False))
            self._state_failed(conn, ex, run, state, lang, err, fx, events_done=True)
            return
        result = pending.get("result")
        if typ == "Wait":
            self._exit(conn, ex, run, state, pending.get("output"), fx)
            return
        if typ == "Task":
            action = run.action or {}
            if action.get("kind") == "direct":
                self._event(
                    conn,
                    run,
                    "LambdaFunctionSucceeded",
                    {"output": _json(result), "outputDetails": {"truncated": False}},
                )
            else:
                self._event(
                    conn,
                    run,
                    "TaskSucceeded",
                    {
                        "resourceType": "lambda",
                        "resource": str(action.get("resource", "")).rsplit(":", 1)[-1],
                        "output": _json(result),
                        "outputDetails": {"truncated": False},
                    },
                )
        elif typ == "Parallel":
            self._event(conn, run, "ParallelStateSucceeded", None)
        elif typ == "Map":
            self._event(conn, run, "MapStateSucceeded", None)
        scope = self._scope(ex, run, run.input)
        out, assign = lang.task_output(state, scope, result)
        self._assign(run, assign)
        self._exit(conn, ex, run, state, out, fx)

    def _failure_events(
        self,
        conn: sqlite3.Connection,
        run: Run,
        state: dict[str, Any],
        err: StatesError,
        timeout: bool,
    ) -> None:
        typ = state["Type"]
        details = {"error": err.error, "cause": err.cause}
        details = {k: v for k, v in details.items() if v is not None}
        if typ == "Task":
            action = run.action or {}
            if action.get("kind") == "direct":
                name = "LambdaFunctionTimedOut" if timeout else "LambdaFunctionFailed"
                self._event(conn, run, name, details)
            else:
                name = "TaskTimedOut" if timeout else "TaskFailed"
                self._event(
                    conn,
                    run,
                    name,
                    {
                        "resourceType": "lambda",
                        "resource": str(action.get("resource", "")).rsplit(":", 1)[-1],
                        **details,
                    },
                )
        elif typ == "Parallel":
            self._event(conn, run, "ParallelStateFailed", None)
        elif typ == "Map":
            self._event(conn, run, "MapStateFailed", None)

    def _state_failed(
        self,
        conn: sqlite3.Connection,
        ex: Execution,
        run: Run,
        state: dict[str, Any],
        lang: QueryLanguage,
        err: StatesError,
        fx: Effects,
        events_done: bool = False,
    ) -> None:
        """Retry, Catch or fail the run, as the state's Retry and Catch fields say."""
        typ = state["Type"]
        if typ not in ("Task", "Parallel", "Map"):
            self._finish(conn, ex, run, fx, error=err)
            return
        retriers = state.get("Retry") or []
        if len(run.retriers) < len(retriers):
            run.retriers = run.retriers + [0] * (len(retriers) - len(run.retriers))
        for i, retrier in enumerate(retriers):
            if not error_matches(retrier.get("ErrorEquals", []), err.error):
                continue
            max_attempts = retrier.get("MaxAttempts", 3)
            if run.retriers[i] < max_attempts:
                delay = (
                    float(retrier.get("IntervalSeconds", 1))
                    * float(retrier.get("BackoffRate", 2.0)) ** run.retriers[i]
                )
                if "MaxDelaySeconds" in retrier:
                    delay = min(delay, float(retrier["MaxDelaySeconds"]))
                if retrier.get("JitterStrategy") == "FULL":
                    delay = random.uniform(0, delay)
                run.retriers[i] += 1
                run.retry_count += 1
                run.seq += 1
                run.phase = "waiting"
                run.pending = None
                self._add_timer(conn, fx, _now() + delay, "retry", run, ex.arn)
                return
            break
        for catcher in state.get("Catch") or []:
            if not error_matches(catcher.get("ErrorEquals", []), err.error):
                continue
            error_output = {"Error": err.error, "Cause": err.cause}
            if err.cause is None:
                error_output = {"Error": err.error}
            scope = self._scope(ex, run, run.input)
            out, assign = lang.catch_output(catcher, scope, error_output)
            self._assign(run, assign)
            self._exit(conn, ex, run, state, out, fx, next_state=catcher["Next"])
            return
        self._finish(conn, ex, run, fx, error=err)

    # ---------------------------------------------------------------- finishing

    def _finish(
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
        conn.execute("DELETE FROM timers WHERE run_id=?", (run.id,))
        if run.parent_id is None:
            now = _now()
            if error:
                details = {"error": error.error, "cause": error.cause}
                details = {k: v for k, v in details.items() if v is not None}
                self._event(conn, run, "ExecutionFailed", details)
                conn.execute(
                    "UPDATE executions SET status='FAILED', error=?, cause=?, stop=? WHERE arn=?",
                    (error.error, error.cause, now, ex.arn),
                )
            else:
                text = _json(output)
                self._event(
                    conn,
                    run,
                    "ExecutionSucceeded",
                    {"output": text, "outputDetails": {"truncated": False}},
                )
                conn.execute(
                    "UPDATE executions SET status='SUCCEEDED', output=?, stop=? WHERE arn=?",
                    (text, now, ex.arn),
                )
            self._close_execution(conn, ex.arn)
        else:
            run.save(conn)
            self._child_done(conn, ex, run, fx)

    def _close_execution(self, conn: sqlite3.Connection, exec_arn: str) -> None:
        conn.execute(
            "UPDATE runs SET phase='done', status='ABORTED' WHERE exec_arn=? AND phase!='done'",
            (exec_arn,),
        )
        conn.execute("DELETE FROM timers WHERE exec_arn=?", (exec_arn,))
        conn.execute(
            "UPDATE tokens SET status='closed' WHERE exec_arn=? AND status='waiting'", (exec_arn,)
        )

    def terminate(
        self,
        conn: sqlite3.Connection,
        exec_arn: str,
        status: str,
        error: str | None,
        cause: str | None,
    ) -> None:
        """End a running execution from outside (StopExecution, execution timeout)."""
        event = "ExecutionAborted" if status == "ABORTED" else "ExecutionTimedOut"
        details = {k: v for k, v in {"error": error, "cause": cause}.items() if v is not None}
        self.store.add_event(conn, exec_arn, event, details)
        conn.execute(
            "UPDATE executions SET status=?, error=?, cause=?, stop=? WHERE arn=?",
            (status, error, cause, _now(), exec_arn),
        )
        self._close_execution(conn, exec_arn)

    # ---------------------------------------------------------------- Parallel and Map

    def _spawn(
        self,
        conn: sqlite3.Connection,
        parent: Run,
        branch: list[Any],
        start: str,
        idx: int,
        input_value: Any,
        ctx: dict[str, Any],
        phase: str,
    ) -> Run:
        child = Run(
            id=0,
            exec_arn=parent.exec_arn,
            parent_id=parent.id,
            parent_seq=parent.seq,
            idx=idx,
            branch=branch,
            state=start,
            phase=phase,
            seq=0,
            input=input_value,
            variables=dict(parent.variables),
            ctx=ctx,
            last_event=parent.last_event,
        )
        child.insert(conn)
        return child

    def _attempt_parallel(
        self,
        conn: sqlite3.Connection,
        ex: Execution,
        run: Run,
        state: dict[str, Any],
        lang: QueryLanguage,
        fx: Effects,
    ) -> None:
        scope = self._scope(ex, run, run.input)
        branch_input = lang.parallel_input(state, scope)
        self._event(conn, run, "ParallelStateStarted", None)
        run.seq += 1
        run.phase = "children"
        base = [*run.branch, "States", run.state, "Branches"]
        for i, branch in enumerate(state["Branches"]):
            child = self._spawn(
                conn, run, [*base, i], branch["StartAt"], i, branch_input, run.ctx, "enter"
            )
            fx.runs.append(child.id)

    def _attempt_map(
        self,
        conn: sqlite3.Connection,
        ex: Execution,
        run: Run,
        state: dict[str, Any],
        lang: QueryLanguage,
        fx: Effects,
    ) -> None:
        scope = self._scope(ex, run, run.input)
        plan = lang.map_plan(state, scope)
        items, max_conc = plan.items, plan.max_concurrency
        self._event(conn, run, "MapStateStarted", {"length": len(items)})
        run.seq += 1
        run.extra = {
            "tolerated_count": plan.tolerated_count,
            "tolerated_percentage": plan.tolerated_percentage,
            "total": len(items),
        }
        if not items:
            self._resolve(conn, run, {"result": []}, fx)
            return
        run.phase = "children"
        proc_key = "ItemProcessor" if "ItemProcessor" in state else "Iterator"
        processor = state[proc_key]
        branch = [*run.branch, "States", run.state, proc_key]
        for i, item in enumerate(items):
            item_ctx = {**run.ctx, "Map": {"Item": {"Index": i, "Value": item}}}
            item_scope = Scope(scope.data, {**scope.context, "Map": item_ctx["Map"]}, run.variables)
            item_input = lang.map_item_input(state, item_scope, item)
            active = max_conc <= 0 or i < max_conc
            child = self._spawn(
                conn,
                run,
                branch,
                processor["StartAt"],
                i,
                item_input,
                item_ctx,
                "enter" if active else "pending",
            )
            if active:
                self._event(conn, run, "MapIterationStarted", {"name": run.state, "index": i})
                fx.runs.append(child.id)

    def _child_done(self, conn: sqlite3.Connection, ex: Execution, child: Run, fx: Effects) -> None:
        parent = Run.load(conn, child.parent_id or 0)
        if parent is None or parent.seq != child.parent_seq or parent.phase != "children":
            return
        machine = sub_machine(self.definition(ex), parent.branch)
        typ = machine["States"][parent.state]["Type"]
        failed = child.status == "FAILED"
        if typ == "Map":
            name = "MapIterationFailed" if failed else "MapIterationSucceeded"
            self._event(conn, parent, name, {"name": parent.state, "index": child.idx})
        rows = conn.execute(
            "SELECT id, idx, phase, status, result FROM runs WHERE parent_id=? AND parent_seq=? "
            "ORDER BY idx",
            (parent.id, parent.seq),
        ).fetchall()
        if failed:
            n_failed = sum(1 for r in rows if r["status"] == "FAILED")
            tolerated = typ == "Map" and self._tolerates(parent, n_failed)
            if not tolerated:
                err = child.result or {}
                if typ == "Map" and self._has_tolerance(parent):
                    err = {
                        "error": errors.EXCEED_TOLERATED_FAILURE,
                        "cause": "The specified tolerated failure threshold was exceeded",
                    }
                self._abort_children(conn, parent)
                self._resolve(
                    conn, parent, {"error": err.get("error"), "cause": err.get("cause")}, fx
                )
                parent.save(conn)
                return
        waiting = [r for r in rows if r["phase"] == "pending"]
        running = [r for r in rows if r["phase"] not in ("done", "pending")]
        if waiting:
            nxt = Run.load(conn, waiting[0]["id"])
            if nxt is not None:
                nxt.phase = "enter"
                nxt.last_event = parent.last_event
                nxt.save(conn)
                self._event(
                    conn, parent, "MapIterationStarted", {"name": parent.state, "index": nxt.idx}
                )
                fx.runs.append(nxt.id)
            parent.save(conn)
            return
        if running:
            parent.save(conn)
            return
        results = []
        for r in rows:
            res = json.loads(r["result"]) if r["result"] else {}
            if r["status"] == "FAILED":
                results.append({"Error": res.get("error"), "Cause": res.get("cause")})
            else:
                results.append(res.get("output"))
        self._resolve(conn, parent, {"result": results}, fx)
        parent.save(conn)

    def _has_tolerance(self, parent: Run) -> bool:
        return bool(parent.extra.get("tolerated_count")) or bool(
            parent.extra.get("tolerated_percentage")
        )

    def _tolerates(self, parent: Run, n_failed: int) -> bool:
        count = parent.extra.get("tolerated_count") or 0
        pct = parent.extra.get("tolerated_percentage") or 0
        total = parent.extra.get("total") or 1
        if not count and not pct:
            return False
        ok_count = bool(count) and n_failed <= count
        ok_pct = bool(pct) and (n_failed * 100.0 / total) <= pct
        return ok_count or ok_pct

    def _abort_children(self, conn: sqlite3.Connection, parent: Run) -> None:
        frontier = [parent.id]
        while frontier:
            rows = conn.execute(
                f"SELECT id FROM runs WHERE parent_id IN ({','.join('?' * len(frontier))}) "
                "AND phase!='done'",
                frontier,
            ).fetchall()
            frontier = [r["id"] for r in rows]
            for rid in frontier:
                conn.execute("UPDATE runs SET phase='done', status='ABORTED' WHERE id=?", (rid,))
                conn.execute("DELETE FROM timers WHERE run_id=?", (rid,))
                conn.execute(
                    "UPDATE tokens SET status='closed' WHERE run_id=? AND status='waiting'", (rid,)
                )

    # ---------------------------------------------------------------- timers and callbacks

    def fire_timer(self, timer_id: int) -> None:
        fx = Effects()
        with self.store.tx() as conn:
            row = conn.execute("SELECT * FROM timers WHERE id=?", (timer_id,)).fetchone()
            if row is None:
                return
            conn.execute("DELETE FROM timers WHERE id=?", (timer_id,))
            kind = row["kind"]
            if kind == "exec_timeout":
                ex = Execution.load(conn, row["exec_arn"])
                if ex is not None and ex.status == "RUNNING":
                    self.terminate(conn, ex.arn, "TIMED_OUT", errors.TIMEOUT, None)
                return
            run = Run.load(conn, row["run_id"])
            if run is None or run.seq != row["seq"] or run.phase not in WAITING_PHASES:
                return
            if kind == "wait":
                data = json.loads(row["payload"]) if row["payload"] else {}
                self._resolve(conn, run, {"output": data.get("output")}, fx)
            elif kind == "retry":
                self._resolve(conn, run, None, fx, phase="attempt")
            elif kind in ("timeout", "heartbeat"):
                conn.execute(
                    "UPDATE tokens SET status='timedout' WHERE run_id=? AND status='waiting'",
                    (run.id,),
                )
                error = errors.TIMEOUT if kind == "timeout" else errors.HEARTBEAT_TIMEOUT
                self._resolve(conn, run, {"error": error, "cause": None, "timeout": True}, fx)
            run.save(conn)
        self._apply(fx)

    def task_response(
        self, token: str, output: Any = None, error: StatesError | None = None
    ) -> None:
        """SendTaskSuccess / SendTaskFailure. Raises ApiError for unknown or closed tokens."""
        fx = Effects()
        with self.store.tx() as conn:
            row = conn.execute("SELECT * FROM tokens WHERE token=?", (token,)).fetchone()
            if row is None:
                if token_well_formed(token):
                    raise ApiError("TaskDoesNotExist", "Task does not exist anymore")
                raise ApiError("InvalidToken", "Invalid token")
            if row["status"] != "waiting":
                raise ApiError(
                    "TaskTimedOut", "Task Timed Out: 'Provided task does not exist anymore'"
                )
            run = Run.load(conn, row["run_id"])
            if run is None or run.seq != row["seq"] or run.phase != "waiting":
                raise ApiError(
                    "TaskTimedOut", "Task Timed Out: 'Provided task does not exist anymore'"
                )
            conn.execute("UPDATE tokens SET status='done' WHERE token=?", (token,))
            if error is None:
                self._resolve(conn, run, {"result": output}, fx)
            else:
                self._resolve(conn, run, {"error": error.error, "cause": error.cause}, fx)
            run.save(conn)
        self._apply(fx)

    def heartbeat(self, token: str) -> None:
        fx = Effects()
        with self.store.tx() as conn:
            row = conn.execute("SELECT * FROM tokens WHERE token=?", (token,)).fetchone()
            if row is None:
                if token_well_formed(token):
                    raise ApiError("TaskDoesNotExist", "Task does not exist anymore")
                raise ApiError("InvalidToken", "Invalid token")
            if row["status"] != "waiting":
                raise ApiError(
                    "TaskTimedOut", "Task Timed Out: 'Provided task does not exist anymore'"
                )
            if row["heartbeat"]:
                due = _now() + float(row["heartbeat"])
                conn.execute(
                    "UPDATE timers SET due=? WHERE run_id=? AND seq=? AND kind='heartbeat'",
                    (due, row["run_id"], row["seq"]),
                )
                fx.timers.append(due)
        self._apply(fx)

    # ---------------------------------------------------------------- recovery

    def recover(self) -> None:
        """After a restart: queue runs that were mid-step and redo unfinished invocations."""
        with self.store.read() as conn:
            ready = conn.execute(
                "SELECT id FROM runs WHERE phase IN ('enter','attempt','outcome') ORDER BY id"
            ).fetchall()
            invoking = conn.execute(
                "SELECT id, seq FROM runs "
                "WHERE action_pending=1 AND phase IN ('invoking','waiting')"
            ).fetchall()
        for r in ready:
            self.scheduler.enqueue(r["id"])
        for r in invoking:
            self.scheduler.invoke(r["id"], r["seq"])
