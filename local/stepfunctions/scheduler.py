"""Who runs the engine's work: a pool of workers that step runs, a pool for Lambda calls and
one timer thread that fires due timers. The engine hands work here only after its transaction
commits (engine.Scheduler); the API (service.py) steps only a new execution's first steps, in
StartExecution's own transaction (Engine.step_inline)."""

from __future__ import annotations

import logging
import math
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from . import errors
from .clock import Clock, ManualClock
from .engine import Effects, Engine
from .run_queue import RunQueue
from .store import Store

log = logging.getLogger(__name__)

# Runs a worker steps in one transaction (Engine.step_runs); each then goes to the back of
# the queue if it can go on, so a long chain of Pass states does not starve the others.
RUNS_PER_COMMIT = 32
# Steps of one run that share a transaction (Engine.step_runs): few enough that the store's lock,
# which StartExecution and callbacks wait for, is never held long.
STEPS_PER_COMMIT = 8
# Due timers fired in one transaction. A batch holds the store's lock, which API calls wait
# for, 1-4 ms (docs/benchmarks.md, "timers, task tokens and memory"): short beside the 20 ms a
# SendTaskSuccess may take; one commit for 32 timers halves the CPU a timer costs.
TIMERS_PER_BATCH = 32
IDLE_TIMER_WAIT = 30.0  # seconds; a new timer wakes the thread sooner


class RunScheduler:
    def __init__(self, store: Store, clock: Clock, workers: int) -> None:
        self.store = store
        self.clock = clock
        self.engine: Engine | None = None  # set by the service, which builds both
        self._workers = max(1, workers)
        self._queue = RunQueue()
        self._qlock = threading.Lock()
        self._queued: set[int] = set()
        self._inflight: set[int] = set()
        self._dirty: set[int] = set()
        self._invoking: set[tuple[int, int]] = set()
        self._threads: list[threading.Thread] = []
        self._invokers: ThreadPoolExecutor | None = None
        self._pending_invokes: list[tuple[int, int]] = []
        self._timer_cond = threading.Condition()
        self._timer_dirty = False
        # When the sleeping timer thread looks again on its own: a new timer due later needs
        # no wake-up. While it is awake, its query may have missed any new timer.
        self._timer_awake = True
        self._sleeping_until = math.inf
        # True from stop() on; a test sets it to freeze the scheduler as a kill -9 would.
        self.stopping = False
        self.started = False
        if isinstance(clock, ManualClock):
            clock.on_advance(lambda: self.timer_changed(0.0))

    def _engine(self) -> Engine:
        assert self.engine is not None, "RunScheduler.engine is set before start()"
        return self.engine

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> None:
        if self.started:
            return
        self.started = True
        self.stopping = False
        self._invokers = ThreadPoolExecutor(
            max_workers=max(8, self._workers * 4), thread_name_prefix="sfn-invoke"
        )
        for i in range(self._workers):
            t = threading.Thread(target=self._work, name=f"sfn-worker-{i}", daemon=True)
            t.start()
            self._threads.append(t)
        timer = threading.Thread(target=self._timer_loop, name="sfn-timer", daemon=True)
        timer.start()
        self._threads.append(timer)
        # recover() finds every unfinished invocation in the store, including those asked
        # for before start(): submitting the remembered ones too would invoke twice
        self._pending_invokes = []
        self._engine().recover()

    def stop(self) -> None:
        if not self.started:
            return
        self.stopping = True
        for _ in range(self._workers):
            self._queue.put(None)
        with self._timer_cond:
            self._timer_dirty = True
            self._timer_cond.notify_all()
        for t in self._threads:
            t.join(timeout=5)
        if self._invokers is not None:
            self._invokers.shutdown(wait=False, cancel_futures=True)
        self._threads.clear()
        self.started = False

    # ---------------------------------------------------------------- workers

    def enqueue(self, run_id: int, first: bool = False) -> None:
        """Queue a run for a worker; `first` puts it ahead of the runs already waiting."""
        with self._qlock:
            if run_id in self._inflight:
                self._dirty.add(run_id)
                return
            if run_id in self._queued:
                return
            self._queued.add(run_id)
        self._queue.put(run_id, first)

    def submit_invoke(self, run_id: int, seq: int) -> None:
        if self._invokers is None or self.stopping:
            self._pending_invokes.append((run_id, seq))
            return
        with self._qlock:
            if (run_id, seq) in self._invoking:
                return
            self._invoking.add((run_id, seq))
        self._invokers.submit(self._invoke, run_id, seq)

    def _invoke(self, run_id: int, seq: int) -> None:
        try:
            self._engine().invoke(run_id, seq)
        except Exception:
            if not self.stopping:
                log.exception("invocation for run %s failed", run_id)
        finally:
            with self._qlock:
                self._invoking.discard((run_id, seq))

    def _work(self) -> None:
        engine = self._engine()
        while True:
            first = self._queue.get()
            if first is None or self.stopping:
                return
            batch = self._claim([first, *self._more_queued(RUNS_PER_COMMIT - 1)])
            if not batch:
                continue
            again: list[int] = []
            crashed: dict[int, Exception] = {}
            try:
                again, crashed = engine.step_runs(batch, STEPS_PER_COMMIT)
            except Exception as e:  # the transaction itself failed
                crashed = dict.fromkeys(batch, e)
            for run_id, error in crashed.items():
                log.error("run %s crashed", run_id, exc_info=error)
                self._crash(run_id, error)
            with self._qlock:
                self._inflight.difference_update(batch)
                redo = [r for r in batch if r in self._dirty or r in again]
                self._dirty.difference_update(batch)
            if not self.stopping:
                for run_id in redo:
                    self.enqueue(run_id)

    def _more_queued(self, most: int) -> list[int]:
        """Runs already queued, taken without waiting (the group a worker commits at once)."""
        return self._queue.take_ready(most)

    def _claim(self, run_ids: list[int]) -> list[int]:
        """The runs this worker steps now; one another worker is stepping is marked dirty
        instead (it goes again once that worker is done)."""
        claimed = []
        with self._qlock:
            for run_id in run_ids:
                self._queued.discard(run_id)
                if run_id in self._inflight:
                    self._dirty.add(run_id)
                else:
                    self._inflight.add(run_id)
                    claimed.append(run_id)
        return claimed

    def _crash(self, run_id: int, e: Exception) -> None:
        """An engine bug must not leave an execution RUNNING forever: fail it visibly."""
        try:
            with self.store.tx() as conn:
                exec_arn = self.store.run_exec_arn(conn, run_id)
                if exec_arn is None:
                    return
                ex = self.store.load_execution(conn, exec_arn)
                if ex is None or ex.status != "RUNNING":
                    return
                cause = f"Internal error in the local engine: {type(e).__name__}: {e}"
                self.store.add_event(
                    conn, ex.arn, "ExecutionFailed", {"error": errors.RUNTIME, "cause": cause}
                )
                self.store.end_execution(
                    conn, ex.arn, "FAILED", self.clock.now(), error=errors.RUNTIME, cause=cause
                )
        except Exception:
            log.exception("could not record the crash of run %s", run_id)

    # ---------------------------------------------------------------- timers

    def timer_changed(self, due: float) -> None:
        """A timer was added or moved: wake the timer thread only when it is due before the
        one the thread sleeps until (each StartExecution of a machine with a timeout adds
        one; waking for each would query the store for nothing)."""
        with self._timer_cond:
            if not self._timer_awake and due >= self._sleeping_until:
                return
            self._timer_dirty = True
            self._timer_cond.notify_all()

    def fire_due_timers(self) -> float | None:
        """Fire every timer due by the clock's now, in this thread; when the next one is due.
        The timer thread's loop, and a test's way to move a ManualClock and see timers fire.

        Due timers are taken and fired TIMERS_PER_BATCH at a time, each batch in one
        transaction, and the runs they wake are queued ahead of other work: a thousand
        timeouts due in the same second cost a few dozen commits, not a thousand."""
        while True:
            if self.stopping:
                return None
            fired = self._fire_batch()
            if fired is None:
                continue  # a timer failed: the batch was fired again one timer at a time
            if fired < TIMERS_PER_BATCH:
                with self.store.read() as conn:
                    return self.store.next_timer_due(conn)

    def _fire_batch(self) -> int | None:
        """How many due timers one transaction fired; None when one of them raised (the
        transaction rolled back and they were fired one by one, the failing one dropped)."""
        engine = self._engine()
        fx = Effects()
        try:
            with self.store.tx() as conn:
                rows = self.store.take_due_timers(conn, self.clock.now(), TIMERS_PER_BATCH)
                for row in rows:
                    engine.fire_taken_timer(conn, row, fx)
        except Exception:
            log.exception("a batch of timers failed; firing them one at a time")
            self._fire_one_by_one()
            return None
        self._apply_woken(fx)
        return len(rows)

    def _fire_one_by_one(self) -> None:
        engine = self._engine()
        with self.store.read() as conn:
            due = self.store.due_timers(conn, self.clock.now(), TIMERS_PER_BATCH)
        for timer_id in due:
            if self.stopping:
                return
            try:
                engine.fire_timer(timer_id)
            except Exception:
                log.exception("timer %s failed", timer_id)
                with self.store.tx() as conn:
                    self.store.delete_timer(conn, timer_id)

    def _apply_woken(self, fx: Effects) -> None:
        """After the batch's commit: the runs its timers woke are late already, so they go to
        the front of the workers' queue, before runs that have no deadline."""
        for run_id in reversed(fx.runs):  # the earliest due ends up first
            self.enqueue(run_id, first=True)
        for run_id, seq in fx.invokes:
            self.submit_invoke(run_id, seq)
        for due in fx.timers:  # a Retry's back-off after a timeout, set by the outcome step
            self.timer_changed(due)

    def _stopped(self) -> bool:
        # a method, not the attribute: another thread sets it while this one loops
        return self.stopping

    def _timer_loop(self) -> None:
        while not self._stopped():
            try:
                nxt = self.fire_due_timers()
            except Exception:
                if self._stopped():
                    return
                log.exception("timer query failed")
                time.sleep(0.5)
                continue
            if self._stopped():
                return
            now = self.clock.now()
            wait = IDLE_TIMER_WAIT
            if nxt is not None:
                wait = max(0.0, min(wait, nxt - now))
            with self._timer_cond:
                if not self._timer_dirty and wait > 0:
                    self._timer_awake = False
                    self._sleeping_until = now + wait
                    self._timer_cond.wait(wait)
                    self._timer_awake = True
                self._timer_dirty = False
