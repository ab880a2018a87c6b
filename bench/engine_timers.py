"""Timers, task tokens and memory of the Step Functions engine, started as its own process
(`python -m local.stepfunctions --port P --db F --lambda-endpoint URL`) and driven over the
JSON API with plain HTTP (no boto3: its CPU would compete with the engine's on 2 cores).

`.waitForTaskToken` tasks need a Lambda to hand the token to: the bench serves a stub of
Lambda's Invoke API that answers `{}` at once and remembers each token it was given (a
mocked test case would not do: a mocked callback task does not wait).

Figures (`python -m bench.engine_timers [--quick]`):
- 1,000 task-token timeouts due in the same second: lateness = TaskTimedOut's timestamp minus
  (TaskScheduled's + the task's TimeoutSeconds);
- 1,000 Wait states of 2 s started concurrently: WaitStateExited - WaitStateEntered - 2 s;
- SendTaskSuccess to the next state entered, one call at a time: the next state's
  StateEntered timestamp minus the moment the call was sent (same machine, same clock);
- 100,000 executions waiting for a task token: the engine's resident memory, then kill -9,
  restart (time until the API answers), how many are RUNNING, and a sample of their tokens
  answered (each must reach SUCCEEDED).
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import queue
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from bench.machine import describe

ROLE = "arn:aws:iam::123456789012:role/bench"
CLIENTS = 8  # concurrent API connections that start executions
REPO = Path(__file__).resolve().parents[1]


def callback_machine(after: str = "Done") -> dict[str, Any]:
    """A task that hands its token to the stub and waits; TimeoutSeconds from the input."""
    return {
        "StartAt": "Wait for token",
        "States": {
            "Wait for token": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                "Parameters": {
                    "FunctionName": "bench-stub",
                    "Payload": {"token.$": "$$.Task.Token", "execution.$": "$$.Execution.Id"},
                },
                "TimeoutSecondsPath": "$.timeout",
                "Catch": [{"ErrorEquals": ["States.Timeout"], "Next": "Timed out"}],
                "Next": after,
            },
            "Timed out": {"Type": "Pass", "End": True},
            after: {"Type": "Pass", "End": True},
        },
    }


WAIT_MACHINE: dict[str, Any] = {
    "StartAt": "Wait 2 s",
    "States": {
        "Wait 2 s": {"Type": "Wait", "Seconds": 2, "Next": "Done"},
        "Done": {"Type": "Pass", "End": True},
    },
}


# ---------------------------------------------------------------- the Lambda stub


class LambdaStub:
    """Lambda's Invoke API answering `{}` at once; the tokens it was given, in order."""

    def __init__(self) -> None:
        self.tokens: queue.Queue[tuple[str, str]] = queue.Queue()
        self.count = 0
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                payload = json.loads(body or b"null")
                if isinstance(payload, dict) and "token" in payload:
                    stub.tokens.put((payload["execution"], payload["token"]))
                stub.count += 1
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            request_queue_size = 1024  # the engine's invoker pool connects in bursts

        self.httpd = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def take(self, n: int, timeout: float) -> dict[str, str]:
        """n (execution ARN → token) pairs, as they arrive."""
        out: dict[str, str] = {}
        deadline = time.monotonic() + timeout
        while len(out) < n:
            arn, token = self.tokens.get(timeout=max(0.01, deadline - time.monotonic()))
            out[arn] = token
        return out

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


# ---------------------------------------------------------------- the engine, as a process


class Api:
    """The JSON API over one kept-alive connection per thread."""

    def __init__(self, port: int) -> None:
        self.port = port
        self._local = threading.local()

    def call(self, operation: str, body: dict[str, Any]) -> dict[str, Any]:
        for attempt in range(3):
            conn = getattr(self._local, "conn", None)
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
                self._local.conn = conn
            try:
                conn.request(
                    "POST",
                    "/",
                    body=json.dumps(body),
                    headers={
                        "Content-Type": "application/x-amz-json-1.0",
                        "X-Amz-Target": f"AWSStepFunctions.{operation}",
                    },
                )
                response = conn.getresponse()
                data = json.loads(response.read() or b"{}")
            except (OSError, http.client.HTTPException):
                conn.close()
                self._local.conn = None
                if attempt == 2:
                    raise
                continue
            if response.status != 200:
                raise RuntimeError(f"{operation}: {response.status} {data}")
            result: dict[str, Any] = data
            return result
        raise AssertionError("unreachable")

    def create(self, definition: dict[str, Any]) -> str:
        name = f"bench-{uuid.uuid4().hex[:12]}"
        answer = self.call(
            "CreateStateMachine",
            {"name": name, "definition": json.dumps(definition), "roleArn": ROLE},
        )
        return str(answer["stateMachineArn"])

    def start(self, sm_arn: str, payload: Any) -> str:
        answer = self.call(
            "StartExecution",
            {"stateMachineArn": sm_arn, "name": uuid.uuid4().hex, "input": json.dumps(payload)},
        )
        return str(answer["executionArn"])

    def history(self, exec_arn: str) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            body: dict[str, Any] = {"executionArn": exec_arn, "maxResults": 1000}
            if token:
                body["nextToken"] = token
            page = self.call("GetExecutionHistory", body)
            events += page["events"]
            token = page.get("nextToken")
            if not token:
                return events

    def status(self, exec_arn: str) -> str:
        return str(self.call("DescribeExecution", {"executionArn": exec_arn})["status"])

    def count(self, sm_arn: str, status: str) -> int:
        n, token = 0, None
        while True:
            body: dict[str, Any] = {
                "stateMachineArn": sm_arn,
                "statusFilter": status,
                "maxResults": 1000,
            }
            if token:
                body["nextToken"] = token
            page = self.call("ListExecutions", body)
            n += len(page["executions"])
            token = page.get("nextToken")
            if not token:
                return n


class EngineProcess:
    """`python -m local.stepfunctions` on a free port, with its database in `db`."""

    def __init__(self, db: Path, lambda_endpoint: str, root: Path = REPO) -> None:
        self.db = db
        self.root = root
        self.lambda_endpoint = lambda_endpoint
        self.port = _free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.api = Api(self.port)
        self.startup_seconds = 0.0

    def start(self) -> EngineProcess:
        started = time.perf_counter()
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "local.stepfunctions",
                "--port",
                str(self.port),
                "--db",
                str(self.db),
                "--lambda-endpoint",
                self.lambda_endpoint,
            ],
            cwd=self.root,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 600
        while True:
            try:
                self.api.call("ListStateMachines", {"maxResults": 1})
                break
            except (OSError, http.client.HTTPException):
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the engine did not start") from None
                time.sleep(0.02)
        self.startup_seconds = time.perf_counter() - started
        return self

    def rss_mb(self) -> tuple[float, float]:
        """(resident now, peak resident) in MB, from /proc."""
        assert self.proc is not None
        fields: dict[str, float] = {}
        with open(f"/proc/{self.proc.pid}/status", encoding="ascii") as fh:
            for line in fh:
                key, _, value = line.partition(":")
                if key in ("VmRSS", "VmHWM"):
                    fields[key] = int(value.split()[0]) / 1024
        return fields["VmRSS"], fields["VmHWM"]

    def cpu_seconds(self) -> float:
        assert self.proc is not None
        with open(f"/proc/{self.proc.pid}/stat", encoding="ascii") as fh:
            parts = fh.read().rsplit(")", 1)[1].split()
        return (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill9()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(len(ordered) * p / 100) - 1)]


def start_many(api: Api, sm_arn: str, inputs: Iterable[Any]) -> list[str]:
    with ThreadPoolExecutor(CLIENTS) as pool:
        return list(pool.map(lambda payload: api.start(sm_arn, payload), inputs))


def wait_all(api: Api, arns: list[str], done: Callable[[str], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    pending = list(arns)
    while pending:
        pending = [arn for arn in pending if not done(api.status(arn))]
        if pending and time.monotonic() > deadline:
            raise RuntimeError(f"{len(pending)} executions still running")
        if pending:
            time.sleep(0.2)


def histories(api: Api, arns: list[str]) -> list[list[dict[str, Any]]]:
    with ThreadPoolExecutor(4) as pool:
        return list(pool.map(api.history, arns))


def _event(events: list[dict[str, Any]], type_: str) -> dict[str, Any]:
    found = [e for e in events if e["type"] == type_]
    if not found:
        raise RuntimeError(f"no {type_} in {events[-2:]}")
    return found[0]


class Figures:
    """The p99 of each figure printed, per engine tree ("before"/"after"), over the rounds."""

    def __init__(self) -> None:
        self.tree = "this tree"
        self.p99: dict[str, dict[str, list[float]]] = {}

    def add(self, name: str, p99: float) -> None:
        self.p99.setdefault(self.tree, {}).setdefault(name, []).append(p99)


FIGURES = Figures()


def _line(name: str, values_ms: list[float], extra: str = "") -> None:
    FIGURES.add(name, percentile(values_ms, 99))
    print(
        f"{name:56} n={len(values_ms):6d}  p50 {percentile(values_ms, 50):8.1f} ms  "
        f"p99 {percentile(values_ms, 99):8.1f} ms  max {max(values_ms):8.1f} ms {extra}"
    )


# ---------------------------------------------------------------- scenarios


def token_timeouts(engine: EngineProcess, stub: LambdaStub, count: int, lead: float | None) -> None:
    """count callback tasks that time out: with `lead`, their TimeoutSeconds chosen so that all
    end in the same second, `lead` s from now (the engine idle by then); without, 2 s each,
    started concurrently (timers fire while the engine is still busy starting the rest)."""
    api = engine.api
    sm_arn = api.create(callback_machine())
    target = math.ceil(time.time() + (lead or 0))

    def timeout_for(_: int) -> dict[str, int]:
        if lead is None:
            return {"timeout": 2}
        return {"timeout": max(1, round(target - time.time()))}

    with ThreadPoolExecutor(CLIENTS) as pool:
        arns = list(pool.map(lambda i: api.start(sm_arn, timeout_for(i)), range(count)))
    wait_all(api, arns, lambda s: s != "RUNNING", timeout=(lead or 0) + 600)
    lateness, dues = [], []
    for events in histories(api, arns):
        scheduled = _event(events, "TaskScheduled")
        due = scheduled["timestamp"] + scheduled["taskScheduledEventDetails"]["timeoutInSeconds"]
        dues.append(due)
        lateness.append((_event(events, "TaskTimedOut")["timestamp"] - due) * 1000)
    how = "due in one second" if lead is not None else "of 2 s, started at once"
    _line(
        f"{count} task-token timeouts {how}: lateness",
        lateness,
        f"(due within {max(dues) - min(dues):.2f} s)",
    )
    _drain(stub)


def waits(engine: EngineProcess, count: int) -> None:
    api = engine.api
    sm_arn = api.create(WAIT_MACHINE)
    arns = start_many(api, sm_arn, ({} for _ in range(count)))
    wait_all(api, arns, lambda s: s != "RUNNING", timeout=600)
    lateness = []
    for events in histories(api, arns):
        entered = _event(events, "WaitStateEntered")["timestamp"]
        exited = _event(events, "WaitStateExited")["timestamp"]
        lateness.append((exited - entered - 2.0) * 1000)
    _line(f"{count} Wait states of 2 s, lateness", lateness)


def task_success_latency(engine: EngineProcess, stub: LambdaStub, count: int) -> None:
    api = engine.api
    sm_arn = api.create(callback_machine(after="Next state"))
    _drain(stub)
    arns = start_many(api, sm_arn, ({"timeout": 3600} for _ in range(count)))
    tokens = stub.take(count, timeout=300)
    time.sleep(0.5)  # every TaskSubmitted recorded: the engine is idle when the calls start
    sent: dict[str, float] = {}
    answered: list[float] = []
    for arn in arns:
        sent[arn] = time.time()
        api.call("SendTaskSuccess", {"taskToken": tokens[arn], "output": "{}"})
        answered.append((time.time() - sent[arn]) * 1000)
        time.sleep(0.005)
    wait_all(api, arns, lambda s: s == "SUCCEEDED", timeout=120)
    entered = [
        (_event(events, "PassStateEntered")["timestamp"] - sent[arn]) * 1000
        for arn, events in zip(arns, histories(api, arns), strict=True)
    ]
    _line("SendTaskSuccess: response received", answered)
    _line("SendTaskSuccess: next state entered", entered)


def many_waiting(db: Path, stub: LambdaStub, count: int, sample: int) -> None:
    engine = EngineProcess(db, stub.url).start()
    empty_startup = engine.startup_seconds
    api = engine.api
    sm_arn = api.create(callback_machine(after="Answered"))
    _drain(stub)
    started = time.perf_counter()
    cpu0 = engine.cpu_seconds()
    tokens: dict[str, str] = {}
    collector = threading.Thread(target=lambda: tokens.update(stub.take(count, timeout=7200)))
    collector.start()
    start_many(api, sm_arn, ({"timeout": 86400} for _ in range(count)))
    collector.join()
    # the stub answered every call; give the engine a moment to record TaskSubmitted
    time.sleep(2.0)
    elapsed = time.perf_counter() - started
    cpu = engine.cpu_seconds() - cpu0
    rss, peak = engine.rss_mb()
    print(
        f"{count} executions waiting on a token: started in {elapsed:.0f} s "
        f"({count / elapsed:.0f}/s, engine CPU {cpu * 1000 / count:.2f} ms each); "
        f"RSS {rss:.0f} MB (peak {peak:.0f} MB); db {_db_mb(db):.0f} MB"
    )
    engine.kill9()
    engine = EngineProcess(db, stub.url).start()
    try:
        rss_after, _ = engine.rss_mb()
        running = engine.api.count(sm_arn, "RUNNING")
        print(
            f"after kill -9 and restart: API answers in {engine.startup_seconds:.2f} s "
            f"({empty_startup:.2f} s on an empty database), "
            f"RSS {rss_after:.0f} MB, RUNNING {running}/{count}"
        )
        chosen = list(tokens.items())[:: max(1, count // sample)][:sample]
        for _arn, token in chosen:
            engine.api.call("SendTaskSuccess", {"taskToken": token, "output": "{}"})
        wait_all(engine.api, [a for a, _ in chosen], lambda s: s != "RUNNING", timeout=120)
        succeeded = sum(engine.api.status(a) == "SUCCEEDED" for a, _ in chosen)
        print(f"sampled tokens answered after the restart: {succeeded}/{len(chosen)} SUCCEEDED")
    finally:
        engine.stop()


def fire_cost(count: int) -> None:
    """CPU of firing `count` due Wait timers in this thread, one transaction each (as before
    the batches) and in batches: thread CPU time, which other work on a shared machine
    leaves alone, and how long each transaction holds the store's lock."""
    from local.stepfunctions import StepFunctionsService
    from local.stepfunctions.clock import ManualClock

    for batched in (False, True):
        with tempfile.TemporaryDirectory() as tmp:
            clock = ManualClock()
            # never started: no worker or timer thread; this thread steps and fires
            svc = StepFunctionsService(Path(tmp) / "cost.db", NoLambda(), clock=clock)
            sm = svc.upsert_state_machine("wait", json.dumps(WAIT_MACHINE), ROLE)
            for _ in range(count):
                svc.start_execution({"stateMachineArn": sm, "input": "{}"})
            with svc.store.read() as conn:
                runs = svc.store.runs_to_step(conn)
            for run_id in runs:
                svc.engine.step(run_id, 8)
            clock.advance(3)
            holds: list[float] = []
            cpu = time.thread_time()
            if batched:
                while True:
                    held = time.perf_counter()
                    fired = svc.scheduler._fire_batch()
                    holds.append((time.perf_counter() - held) * 1000)
                    if not fired:
                        break
            else:
                with svc.store.read() as conn:
                    due = svc.store.due_timers(conn, clock.now(), count)
                for timer_id in due:
                    held = time.perf_counter()
                    svc.engine.fire_timer(timer_id)
                    holds.append((time.perf_counter() - held) * 1000)
            cpu = time.thread_time() - cpu
            with svc.store.read() as conn:
                assert svc.store.next_timer_due(conn) is None, "every timer fired"
            svc.store.close()
        how = "in batches" if batched else "one transaction each"
        print(
            f"firing {count} due timers {how:21}: CPU {cpu * 1000 / count:.3f} ms a timer, "
            f"{len(holds)} transactions holding the store p50 {percentile(holds, 50):.1f} ms, "
            f"max {max(holds):.1f} ms"
        )


class NoLambda:
    def invoke(self, function_name: str, payload: Any) -> Any:
        raise AssertionError("the Wait machine calls no Lambda")


def _drain(stub: LambdaStub) -> None:
    while not stub.tokens.empty():
        stub.tokens.get_nowait()


def _db_mb(db: Path) -> float:
    return sum(p.stat().st_size for p in db.parent.glob(db.name + "*")) / 1e6


@contextmanager
def archived(ref: str) -> Iterator[Path]:
    """The engine of an older commit (`git archive` of local/, no worktree), to run "before"
    and "after" in one sitting: figures from different hours of a shared machine differ."""
    with tempfile.TemporaryDirectory(prefix="bench-engine-") as tmp:
        archive = subprocess.run(
            ["git", "archive", ref, "local"], cwd=REPO, capture_output=True, check=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
        yield Path(tmp)


def timer_scenarios(root: Path, stub: LambdaStub, quick: bool) -> None:
    timeouts, wait_count, success = (200, 200, 50) if quick else (1000, 1000, 300)
    with tempfile.TemporaryDirectory() as tmp:
        engine = EngineProcess(Path(tmp) / "timers.db", stub.url, root).start()
        try:
            token_timeouts(engine, stub, timeouts, lead=4 if quick else 12)
            token_timeouts(engine, stub, timeouts, lead=None)
            waits(engine, wait_count)
            task_success_latency(engine, stub, success)
        finally:
            engine.stop()


def compare(ref: str, rounds: int, quick: bool) -> None:
    """The timer figures of `ref`'s engine and this tree's, interleaved; median p99s."""
    print(f"\n## Engine timers: {ref} against this tree, {rounds} interleaved rounds")
    print(f"machine: {describe()}; load average before: {os.getloadavg()[0]:.2f}\n")
    stub = LambdaStub()
    with archived(ref) as old:
        for round_ in range(rounds):
            for label, root in ((ref, old), ("this tree", REPO)):
                FIGURES.tree = label
                print(f"-- round {round_ + 1}, {label}")
                timer_scenarios(root, stub, quick)
    stub.close()
    print(f"\nmedian p99 (ms) over {rounds} rounds; load average after: {os.getloadavg()[0]:.2f}")
    print(f"{'figure':56} {ref:>12} {'this tree':>12}")
    for name, values in FIGURES.p99["this tree"].items():
        before = statistics.median(FIGURES.p99[ref][name])
        print(f"{name:56} {before:12.1f} {statistics.median(values):12.1f}")


def main(quick: bool = False, waiting: int | None = None, only: str | None = None) -> None:
    waiting = waiting or (2000 if quick else 100_000)
    print(f"\n## Engine timers, task tokens and memory (standalone process)\nmachine: {describe()}")
    print(f"load average before: {os.getloadavg()[0]:.2f}\n")
    stub = LambdaStub()
    with tempfile.TemporaryDirectory() as tmp:
        if only in (None, "timers"):
            fire_cost(200 if quick else 1000)
            timer_scenarios(REPO, stub, quick)
        if only in (None, "waiting"):
            many_waiting(Path(tmp) / "waiting.db", stub, waiting, sample=20)
    stub.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.engine_timers")
    parser.add_argument("--quick", action="store_true", help="fewer executions, for a smoke run")
    parser.add_argument("--waiting", type=int, default=None, help="executions left waiting")
    parser.add_argument("--only", choices=("timers", "waiting"), help="one part of the bench")
    parser.add_argument(
        "--compare", metavar="REV", help="the timer figures of REV's engine beside this tree's"
    )
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds of --compare")
    args = parser.parse_args()
    if args.compare:
        compare(args.compare, args.rounds, args.quick)
    else:
        main(quick=args.quick, waiting=args.waiting, only=args.only)
