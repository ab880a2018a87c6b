"""End to end on the local runtime: sign-ups per second until each number has its text.

The peer is the runtime's own floor: the same number of bare POSTs to the SMS sandbox's inbound
endpoint (HTTP + a SQLite write), so the ratio shows what the workflow costs on top of I/O.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from bench.machine import describe
from tests.support.runtime import LocalRuntime, wait_for


def main(quick: bool = False) -> None:
    count = 10 if quick else 100
    print(f"\n## Sign-up to confirmation text, local runtime ({count} sign-ups)\n")
    print(f"machine: {describe()}\n")
    with tempfile.TemporaryDirectory() as tmp, LocalRuntime(Path(tmp) / "rt") as rt:
        phones = [f"+1206487{i:04d}" for i in range(count)]
        started = time.perf_counter()
        for phone in phones:
            status, body = rt.signup(phone)
            if status != 202:
                raise RuntimeError(f"sign-up failed: {status} {body}")
        accepted = time.perf_counter() - started
        wait_for(
            lambda: len(rt.get("/sandbox/conversations")[1]["conversations"]) >= count,
            timeout=600,
            interval=0.05,
            what="every confirmation text",
        )
        texted = time.perf_counter() - started

        floor_started = time.perf_counter()
        for phone in phones:
            rt.post("/sandbox/inbound", {"from": phone, "body": "hello"})
        floor = time.perf_counter() - floor_started

    print(f"accepted (202):        {count / accepted:8.1f} sign-ups/s")
    print(f"texted (end to end):   {count / texted:8.1f} sign-ups/s")
    print(f"floor (sandbox POSTs): {count / floor:8.1f} requests/s")
    print(f"ratio end to end / floor: {floor / texted:.2f}")
