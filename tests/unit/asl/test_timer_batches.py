"""Timers fired in batches (scheduler.fire_due_timers), the runs they wake queued first, the
timer thread woken only for a timer due sooner, history timestamps to the millisecond (on a
ManualClock: time moves when the test says, nothing sleeps for a timer); a restart that reads
none of the runs waiting on a token."""

from __future__ import annotations

import json
import pathlib
import sqlite3
import time
from typing import Any

import pytest

from local.stepfunctions import StepFunctionsService
from local.stepfunctions import scheduler as scheduler_module
from local.stepfunctions.clock import ManualClock
from local.stepfunctions.run_queue import RunQueue

from .conftest import ROLE, FakeLambdas, Harness

WAIT_5: dict[str, Any] = {
    "StartAt": "W",
    "States": {
        "W": {"Type": "Wait", "Seconds": 5, "Next": "P"},
        "P": {"Type": "Pass", "End": True},
    },
}


def _pending_timers(h: Harness) -> int:
    with h.svc.store.read() as conn:
        return int(conn.execute("SELECT COUNT(*) FROM timers").fetchone()[0])


def _start_waiting(h: Harness, count: int) -> list[str]:
    sm = h.machine(WAIT_5)
    arns = [h.start(sm, {"i": i}) for i in range(count)]
    deadline = time.monotonic() + 20
    while _pending_timers(h) < count:
        assert time.monotonic() < deadline, "the Wait states were not all entered"
        time.sleep(0.01)
    return arns


def test_timers_due_together_fire_in_a_few_transactions(
    timed: Harness, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = timed.svc.store
    batches: list[int] = []
    take = store.take_due_timers

    def counting(conn: sqlite3.Connection, now: float, limit: int) -> list[sqlite3.Row]:
        rows = take(conn, now, limit)
        if rows:
            batches.append(len(rows))
        return rows

    monkeypatch.setattr(store, "take_due_timers", counting)
    arns = _start_waiting(timed, 100)
    clock.advance(4.9)
    timed.svc.scheduler.fire_due_timers()
    assert batches == [] and _pending_timers(timed) == 100  # none due yet
    clock.advance(0.2)
    timed.svc.scheduler.fire_due_timers()
    assert sum(batches) == 100
    assert max(batches) <= scheduler_module.TIMERS_PER_BATCH
    # one commit per batch, not per timer (the timer thread may take part of them too)
    assert len(batches) <= 2 * (100 // scheduler_module.TIMERS_PER_BATCH + 1)
    for arn in arns:
        assert timed.svc.wait_for(arn, timeout=10)["status"] == "SUCCEEDED"


def test_a_failing_timer_does_not_hold_back_the_others(
    timed: Harness, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    arns = _start_waiting(timed, 5)
    engine = timed.svc.engine
    with timed.svc.store.read() as conn:
        doomed_run = conn.execute("SELECT id FROM runs WHERE exec_arn=?", (arns[2],)).fetchone()[
            "id"
        ]
    fire = engine.fire_taken_timer

    def failing_one(conn: sqlite3.Connection, row: sqlite3.Row, fx: Any) -> None:
        if row["run_id"] == doomed_run:
            raise RuntimeError("a broken timer")
        fire(conn, row, fx)

    monkeypatch.setattr(engine, "fire_taken_timer", failing_one)
    clock.advance(5.1)
    timed.svc.scheduler.fire_due_timers()
    for i, arn in enumerate(arns):
        status = timed.svc.wait_for(arn, timeout=5 if i != 2 else 0.2)["status"]
        assert status == ("RUNNING" if i == 2 else "SUCCEEDED")
    assert _pending_timers(timed) == 0  # the broken one was dropped, not retried forever


def test_woken_runs_go_to_the_front_of_the_queue() -> None:
    q = RunQueue()
    for run_id in (1, 2):
        q.put(run_id)
    q.put(3, first=True)
    assert [q.get(), q.get(), q.get()] == [3, 1, 2]
    assert len(q) == 0


def test_the_sleeping_timer_thread_is_woken_only_for_a_sooner_timer(timed: Harness) -> None:
    sched = timed.svc.scheduler
    with sched._timer_cond:
        sched._timer_awake, sched._sleeping_until, sched._timer_dirty = False, 1000.0, False
        sched.timer_changed(2000.0)
        later = sched._timer_dirty
        sched.timer_changed(500.0)
        sooner = sched._timer_dirty
        sched._timer_awake, sched._timer_dirty = True, False
        sched.timer_changed(2000.0)
        while_awake = sched._timer_dirty
    assert (later, sooner, while_awake) == (False, True, True)


def test_history_timestamps_are_to_the_millisecond(timed: Harness, clock: ManualClock) -> None:
    clock.advance(0.123456789)
    arn = _start_waiting(timed, 1)[0]
    clock.advance(5.000987654)
    timed.svc.scheduler.fire_due_timers()
    assert timed.svc.wait_for(arn, timeout=5)["status"] == "SUCCEEDED"
    stamps = [e["timestamp"] for e in timed.history(arn)]
    assert all(round(t, 3) == t for t in stamps), stamps
    assert stamps[-1] - stamps[0] == pytest.approx(5.001, abs=0.0015)


CALLBACK: dict[str, Any] = {
    "StartAt": "Wait",
    "States": {
        "Wait": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
            "Parameters": {
                "FunctionName": "Send",
                "Payload": {"token.$": "$$.Task.Token", "execution.$": "$$.Execution.Id"},
            },
            "TimeoutSeconds": 3600,
            "Next": "Done",
        },
        "Done": {"Type": "Pass", "End": True},
    },
}


def test_restart_reads_no_waiting_run(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Start-up cost must not grow with the executions waiting on a token: recovery asks the
    store for runs mid-step and calls not yet made, and loads none of the waiting ones."""
    db = tmp_path / "sfn.db"
    tokens: dict[str, str] = {}
    first = FakeLambdas()
    first.add("Send", lambda p: tokens.update({p["execution"]: p["token"]}) or {})
    svc = StepFunctionsService(db, first)
    svc.start()
    sm = svc.upsert_state_machine("cb", json.dumps(CALLBACK), ROLE)
    arns = [
        svc.start_execution({"stateMachineArn": sm, "input": "{}"})["executionArn"]
        for _ in range(30)
    ]
    deadline = time.monotonic() + 20
    while True:
        with svc.store.read() as conn:
            submitted = conn.execute(
                "SELECT COUNT(*) FROM events WHERE type='TaskSubmitted'"
            ).fetchone()[0]
        if submitted == len(arns):
            break
        assert time.monotonic() < deadline, "the callbacks were not all submitted"
        time.sleep(0.01)
    svc.scheduler.stopping = True  # killed: nothing is stopped cleanly

    second = FakeLambdas()
    second.add("Send", lambda p: (_ for _ in ()).throw(AssertionError("re-invoked")))
    svc2 = StepFunctionsService(db, second)
    loaded: list[int] = []
    load_run = svc2.store.load_run

    def counting(conn: sqlite3.Connection, run_id: int) -> Any:
        loaded.append(run_id)
        return load_run(conn, run_id)

    monkeypatch.setattr(svc2.store, "load_run", counting)
    svc2.start()
    try:
        time.sleep(0.2)  # anything recovery queued has had its chance to run
        assert loaded == []
        assert len(svc2.scheduler._queue) == 0
        svc2.send_task_success({"taskToken": tokens[arns[7]], "output": "{}"})
        assert svc2.wait_for(arns[7])["status"] == "SUCCEEDED"
        assert svc2.describe_execution({"executionArn": arns[8]})["status"] == "RUNNING"
    finally:
        svc2.stop()


def test_the_timer_records_the_outcome_with_the_time_it_fired(
    timed: Harness, clock: ManualClock
) -> None:
    """WaitStateExited is written by the timer's batch, at the clock's time when it fired,
    even while no worker could step the run (they are all held here)."""
    arn = _start_waiting(timed, 1)[0]
    entered = next(e for e in timed.history(arn) if e["type"] == "WaitStateEntered")
    with timed.svc.store.read():  # the workers wait for the store; this thread re-enters it
        clock.advance(5.0)
        timed.svc.scheduler.fire_due_timers()
        types = [e["type"] for e in timed.history(arn)]
        clock.advance(3.0)  # whatever a worker writes after this is 3 s later
    exited = next(e for e in timed.history(arn) if e["type"] == "WaitStateExited")
    assert "WaitStateExited" in types
    assert exited["timestamp"] - entered["timestamp"] == pytest.approx(5.0, abs=0.002)
    assert timed.svc.wait_for(arn, timeout=5)["status"] == "SUCCEEDED"


def test_an_outcome_that_crashes_in_the_batch_is_left_to_a_worker(
    timed: Harness, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    arns = _start_waiting(timed, 3)
    engine = timed.svc.engine
    with timed.svc.store.read() as conn:
        doomed_run = conn.execute("SELECT id FROM runs WHERE exec_arn=?", (arns[1],)).fetchone()[
            "id"
        ]
    step = engine._step

    def crashing(conn: sqlite3.Connection, ex: Any, run: Any, fx: Any) -> bool:
        if run.id == doomed_run:
            raise RuntimeError("an engine bug")
        return step(conn, ex, run, fx)

    monkeypatch.setattr(engine, "_step", crashing)
    clock.advance(5.1)
    timed.svc.scheduler.fire_due_timers()
    statuses = [timed.svc.wait_for(arn, timeout=5) for arn in arns]
    assert [d["status"] for d in statuses] == ["SUCCEEDED", "FAILED", "SUCCEEDED"]
    assert "Internal error in the local engine" in statuses[1]["cause"]
    doomed = [e["type"] for e in timed.history(arns[1])]
    assert "WaitStateExited" not in doomed  # the batch's attempt was undone


def test_a_timeout_retried_from_the_batch_times_out_again(
    timed: Harness, lambdas: FakeLambdas, clock: ManualClock
) -> None:
    """The batch's outcome step runs Retry: its back-off timer fires, the new attempt hands
    out a new token, and that one times out too."""
    handed: list[str] = []
    lambdas.add("Send", lambda p: handed.append(p["token"]) or {})
    retried = json.loads(json.dumps(CALLBACK))
    task = retried["States"]["Wait"]
    task["TimeoutSeconds"] = 1
    task["Retry"] = [{"ErrorEquals": ["States.Timeout"], "IntervalSeconds": 2, "MaxAttempts": 1}]
    arn = timed.start(timed.machine(retried))

    def settle(tokens: int) -> None:
        deadline = time.monotonic() + 5
        while len(handed) < tokens or _pending_timers(timed) == 0:
            assert time.monotonic() < deadline, (handed, timed.history(arn)[-1])
            time.sleep(0.005)

    settle(1)
    clock.advance(1.01)  # first attempt times out; the back-off timer is due 2 s later
    timed.svc.scheduler.fire_due_timers()
    settle(1)
    clock.advance(2.01)
    timed.svc.scheduler.fire_due_timers()
    settle(2)
    clock.advance(1.01)
    timed.svc.scheduler.fire_due_timers()
    desc = timed.svc.wait_for(arn, timeout=5)
    assert desc["status"] == "FAILED" and desc["error"] == "States.Timeout"
    types = [e["type"] for e in timed.history(arn)]
    assert types.count("TaskTimedOut") == 2 and types.count("TaskSubmitted") == 2
