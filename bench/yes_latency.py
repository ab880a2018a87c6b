"""How long a YES waits for its welcome text while sign-ups keep coming.

One thread posts sign-ups at a steady rate (30/s by default); another takes every fifth
number once its confirmation text is in the SMS sandbox, texts YES and times until the
welcome text is there. Run on this checkout and on a baseline commit in one go. A YES that
waits behind sign-up work is what lets short confirmation windows close on people.
"""

from __future__ import annotations

import statistics
import tempfile
import threading
import time
from pathlib import Path

from bench import baseline
from bench.machine import describe
from tests.support.runtime import REPO_ROOT, LocalRuntime, wait_for

RATE = 30.0  # sign-ups per second, paced
EVERY = 5  # one number in EVERY replies YES


def _outbound(rt: LocalRuntime, phone: str) -> int:
    return len(rt.messages(phone, "outbound"))


def measure(root: Path, seconds: float, area: str) -> tuple[list[float], float]:
    """YES → welcome latencies (ms) and the sign-up rate actually achieved."""
    latencies: list[float] = []
    phones = [f"+1{area}488{i:04d}" for i in range(int(seconds * RATE))]
    with tempfile.TemporaryDirectory() as tmp, LocalRuntime(Path(tmp) / "rt", root=root) as rt:
        # Warm start, untimed: every function of both paths has run once (a first YES would
        # otherwise time a cold start of InboundSms and OptIn, not the wait behind sign-ups).
        warm = [f"+1{area}489{i:04d}" for i in range(8)]
        for phone in warm:
            rt.signup(phone)
        for phone in warm[:2]:
            wait_for(lambda p=phone: _outbound(rt, p) >= 1, timeout=120)
            rt.text_in(phone, "YES")
            wait_for(lambda p=phone: _outbound(rt, p) >= 2, timeout=120)

        def sign_up() -> None:
            start = time.perf_counter()
            for index, phone in enumerate(phones):
                due = start + index / RATE
                time.sleep(max(0.0, due - time.perf_counter()))
                rt.signup(phone)

        def reply() -> None:
            for phone in phones[::EVERY]:
                wait_for(lambda p=phone: _outbound(rt, p) >= 1, timeout=300, interval=0.02)
                sent = time.perf_counter()
                rt.text_in(phone, "YES")
                wait_for(lambda p=phone: _outbound(rt, p) >= 2, timeout=300, interval=0.01)
                latencies.append((time.perf_counter() - sent) * 1000)

        started = time.perf_counter()
        signing = threading.Thread(target=sign_up)
        replying = threading.Thread(target=reply)
        signing.start()
        replying.start()
        signing.join()
        achieved = len(phones) / (time.perf_counter() - started)
        replying.join()
    return latencies, achieved


def _row(label: str, latencies: list[float], achieved: float) -> str:
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return (
        f"| {label} | {achieved:.1f} | {len(ordered)} | {statistics.median(ordered):.0f} | "
        f"{p99:.0f} | {ordered[-1]:.0f} |"
    )


def main(quick: bool = False, baseline_ref: str = baseline.DEFAULT_BASELINE) -> None:
    seconds = 4.0 if quick else 20.0
    print(f"\n## YES to welcome text while {RATE:.0f} sign-ups/s arrive ({seconds:.0f} s)\n")
    print(f"machine: {describe()}")
    print(f"baseline: {baseline.describe(baseline_ref)}\n")
    now = measure(REPO_ROOT, seconds, "206")
    with baseline.checkout(baseline_ref) as tree:
        before = measure(tree, seconds, "425")
    print("| runtime | sign-ups/s taken | YES timed | p50 ms | p99 ms | max ms |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    print(_row("baseline", *before))
    print(_row("this checkout", *now))
