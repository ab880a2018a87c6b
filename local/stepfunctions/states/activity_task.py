"""The Task state's activity path: a Task whose Resource is an activity ARN schedules a task
that a worker takes with GetActivityTask and answers with SendTask* (the task-token path).

History as AWS records it: ActivityScheduled (resource, input, and the timeouts when set),
ActivityStarted (workerName) when a worker takes the task, then ActivitySucceeded,
ActivityFailed or ActivityTimedOut. An activity that does not exist fails the state with
States.Runtime and no activity event (recorded on AWS), which no Retry or Catch matches.

TimeoutSeconds runs from scheduling, so it covers the time nobody polls. HeartbeatSeconds
runs from the hand-out: a worker cannot heartbeat a task it has not been given."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import errors
from ..context import Effects, Step, compact_json
from ..errors import StatesError

if TYPE_CHECKING:
    from ..engine import Engine


def schedule(
    step: Step,
    activity_arn: str,
    args: Any,
    timeout: float | None,
    heartbeat: float | None,
    token: str,
) -> None:
    """Record the scheduled task and wait for a worker's answer (or a timeout)."""
    store, run, ex = step.engine.store, step.run, step.ex
    if store.activity(step.conn, activity_arn) is None:
        raise StatesError(errors.RUNTIME, f"The activity {activity_arn} does not exist.")
    input_text = compact_json(args)
    details: dict[str, Any] = {
        "resource": activity_arn,
        "input": input_text,
        "inputDetails": {"truncated": False},
    }
    if timeout is not None:
        details["timeoutInSeconds"] = int(timeout)
    if heartbeat is not None:
        details["heartbeatInSeconds"] = int(heartbeat)
    step.event("ActivityScheduled", details)
    step.wait()
    run.action = {
        "kind": "activity",
        "resource": activity_arn,
        "callback": True,
        "token": token,
        "seq": run.seq,
    }
    # Nothing to invoke: the worker comes to us, so a restart has no call to redo.
    run.action_pending = 0
    run.phase = "waiting"
    now = step.now()
    store.add_token(step.conn, token, run.id, run.seq, ex.arn, heartbeat, now)
    store.add_activity_task(step.conn, token, activity_arn, input_text, now)
    if timeout is not None:
        step.timer(now + timeout, "timeout")
    step.fx.activities.append(activity_arn)


def hand_out(engine: Engine, activity_arn: str, worker: str | None) -> tuple[str, str] | None:
    """Give the oldest waiting task of the activity to one worker: (token, input), or None.

    Taking it and recording ActivityStarted share a transaction, so two polls never get the
    same task, and a task handed out is never handed out again, restart or not."""
    fx = Effects()
    with engine.store.tx() as conn:
        while True:
            row = engine.store.next_activity_task(conn, activity_arn)
            if row is None:
                return None
            engine.store.take_activity_task(conn, row["token"])
            run = engine.store.load_run(conn, row["run_id"])
            if run is not None and run.seq == row["seq"] and run.phase == "waiting":
                break
        engine.event(conn, run, "ActivityStarted", {"workerName": worker} if worker else {})
        if row["heartbeat"]:
            due = engine.clock.now() + float(row["heartbeat"])
            engine.add_timer(conn, fx, due, "heartbeat", run, run.exec_arn)
        engine.store.save_run(conn, run)
    engine.apply(fx)
    return str(row["token"]), str(row["input"])


def succeeded(step: Step, result: Any) -> None:
    step.event(
        "ActivitySucceeded",
        {"output": compact_json(result), "outputDetails": {"truncated": False}},
    )


def failed(step: Step, err: StatesError, timeout: bool) -> None:
    details = {k: v for k, v in {"error": err.error, "cause": err.cause}.items() if v is not None}
    step.event("ActivityTimedOut" if timeout else "ActivityFailed", details)
