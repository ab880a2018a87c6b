"""End to end on the local runtime: sign-ups per second until each number has its text, posted
by one client and by eight at once.

Run twice in one go: on this checkout and on a baseline commit (bench/baseline.py), so the ratio
compares like with like. A few sign-ups go first, untimed, so both runtimes are warm (Lambda's
own warm start is what a steady stream of sign-ups meets). The floor is the same number of bare
POSTs to the SMS sandbox's inbound endpoint (HTTP and one durable SQLite write each).
"""

from __future__ import annotations

import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from bench import baseline
from bench.machine import describe
from tests.support.runtime import REPO_ROOT, LocalRuntime, wait_for

WARM_UP = 8


@dataclass(frozen=True)
class Figures:
    accepted: float  # sign-ups/s answered 202
    texted: float  # sign-ups/s until the last confirmation text reached the sandbox
    floor: float  # bare sandbox POSTs/s


def _conversations(rt: LocalRuntime) -> int:
    return len(rt.get("/sandbox/conversations")[1]["conversations"])


def measure(root: Path, count: int, area: str, clients: int = 1) -> Figures:
    with tempfile.TemporaryDirectory() as tmp, LocalRuntime(Path(tmp) / "rt", root=root) as rt:
        for i in range(WARM_UP):
            rt.signup(f"+1{area}486{i:04d}")
        wait_for(lambda: _conversations(rt) >= WARM_UP, timeout=120, what="the warm-up texts")

        phones = [f"+1{area}487{i:04d}" for i in range(count)]

        def sign_up(phone: str) -> None:
            status, body = rt.signup(phone)
            if status != 202:
                raise RuntimeError(f"sign-up failed: {status} {body}")

        started = time.perf_counter()
        with ThreadPoolExecutor(clients) as pool:
            list(pool.map(sign_up, phones))
        accepted = time.perf_counter() - started
        wait_for(
            lambda: _conversations(rt) >= WARM_UP + count,
            timeout=600,
            interval=0.05,
            what="every confirmation text",
        )
        texted = time.perf_counter() - started

        floor_started = time.perf_counter()
        for phone in phones:
            rt.post("/sandbox/inbound", {"from": phone, "body": "hello"})
        floor = time.perf_counter() - floor_started
    return Figures(count / accepted, count / texted, count / floor)


def main(quick: bool = False, baseline_ref: str = baseline.DEFAULT_BASELINE) -> None:
    count = 20 if quick else 200
    print(f"\n## Sign-up to confirmation text, local runtime ({count} sign-ups)\n")
    print(f"machine: {describe()}")
    print(f"baseline: {baseline.describe(baseline_ref)}\n")
    print("| clients | figure | baseline | this checkout | ratio |")
    print("| ---: | --- | ---: | ---: | ---: |")
    for clients in (1, 8):
        now = measure(REPO_ROOT, count, "206", clients)
        with baseline.checkout(baseline_ref) as tree:
            before = measure(tree, count, "425", clients)
        for label, old, new in (
            ("accepted (202), sign-ups/s", before.accepted, now.accepted),
            ("texted, end to end, sign-ups/s", before.texted, now.texted),
            ("floor (sandbox POSTs), requests/s", before.floor, now.floor),
        ):
            print(f"| {clients} | {label} | {old:.1f} | {new:.1f} | {new / old:.2f}× |")
