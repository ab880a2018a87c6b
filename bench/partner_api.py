"""Sustained partner API sign-ups (POST /v1/signups) on the local runtime: accepted/s and the
202's latency at fixed offered rates (open loop) and with C clients sending back to back (closed
loop), and whether the workflows kept up (confirmation texts in the SMS sandbox per second,
during the run and until the last one is there).

    .venv/bin/python -m bench.partner_api [--defences on|off] [--rates 100,150,200,250]
        [--seconds 10] [--clients 8] [--closed-seconds 10] [--repeat 1] [--baseline REV]

One runtime per run, on a fresh data dir, with a key made by `python -m local keys create`; every
request carries valid evidence and a number no other request in the run uses, spread over many
NPA-NXX prefixes and evidence IPs (a partner's traffic comes from many people, and a per-prefix or
per-IP limit is meant for pumping, not for that). The partner's usage plan is raised
(PartnerRateLimit, PartnerBurstLimit, PartnerDailyQuota) for the partner this figure is about.
`--defences on` passes SignupRateLimits=on and CaptchaRequired=true, with the per-key and global
sign-up limits (RateLimitPerApiKey, RateLimitGlobal) raised the same way and the limits per number,
address and prefix at their defaults; `off` passes off and false; each only when template.yaml
declares it, so the benchmark runs before and after those exist. `--baseline REV` runs the same
phases first on the runtime of an older commit, checked out beside this one (bench/baseline.py), so
before and after meet the same machine state.

Open loop: a dispatcher releases request i at start + i/rate whatever the answers do, and a
request's latency counts from that scheduled moment, so a server that falls behind shows it
in the latency instead of slowing the offered rate (no coordinated omission). Requests go over
keep-alive connections from a pool of sender threads. CPU: the runtime process and its Lambda
workers (utime + stime from /proc), from the phase's start until its texts caught up, divided
by the sign-ups accepted: the cost of one sign-up end to end, which rates on a shared 2-core
machine hide. The load generator's own CPU is printed too: it runs on the same two cores.
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import os
import queue
import re
import resource
import sqlite3
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import phonenumbers

from bench import baseline
from bench.machine import describe
from local.keys import main as keys_main
from local.runtime.cfn_yaml import load_template
from tests.support.runtime import REPO_ROOT, LocalRuntime

SENDERS = 64  # open loop: threads (and connections) that can wait on an answer at once
CATCH_UP_SECONDS = 120.0  # how long the texts may lag behind the last 202 before we give up
# Area codes of Washington and Oregon: all valid in the numbering plan phonenumbers carries.
AREA_CODES = ("206", "253", "360", "425", "509", "503", "541", "971")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def numbers() -> Iterator[str]:
    """Distinct valid US numbers, consecutive ones in different NPA-NXX prefixes."""
    prefixes = [
        f"{npa}{nxx}"
        for npa in AREA_CODES
        for nxx in range(201, 1000)
        if nxx % 100 != 11 and nxx != 555  # N11 codes are services; 555 mostly fictional
    ]
    line = 1000
    while True:
        for prefix in prefixes:
            candidate = f"+1{prefix}{line:04d}"
            if phonenumbers.is_valid_number(phonenumbers.parse(candidate)):
                yield candidate
        line += 1


def body(phone: str, index: int) -> bytes:
    now = datetime.now(UTC).replace(microsecond=0).isoformat()
    return json.dumps(
        {
            "phoneNumber": phone,
            "firstName": "Ana",
            "source": "bench",
            "consent": {
                "disclosureText": "Reply YES for Acme deals. Msg & data rates may apply.",
                "disclosureVersion": "bench-1",
                "capturedAt": now,
                "ip": f"100.{64 + index // 65536 % 64}.{index // 256 % 256}.{index % 256}",
                "userAgent": "Mozilla/5.0 (bench)",
                "page": "https://shop.example/checkout",
            },
        }
    ).encode()


@dataclass
class Phase:
    label: str
    offered: float | None  # requests/s, None for closed loop
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)  # ms, of the 202s
    statuses: Counter[str] = field(default_factory=Counter)  # "202", "429 code", "error …"
    texts_during: int = 0
    caught_up_after: float | None = None  # s after the last answer; None: did not
    cpu_ms: float = 0.0  # runtime + workers, from start until caught up
    cpu_ms_by: dict[str, float] = field(default_factory=dict)  # the same, by process
    client_cpu_ms: float = 0.0
    load: float = 0.0  # the machine's 1-minute load average at the phase's end (2 cores)

    @property
    def accepted(self) -> int:
        return self.statuses["202"]

    def percentile(self, p: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


class Target:
    """The runtime under test: its address, its key, its CPU and its sandbox's texts."""

    def __init__(self, rt: LocalRuntime, key: str) -> None:
        self.rt = rt
        self.key = key
        self.sms = sqlite3.connect(f"file:{rt.data_dir / 'sms.db'}?mode=ro", uri=True)

    def texts(self) -> int:
        row = self.sms.execute("SELECT COUNT(*) FROM messages WHERE direction = 'outbound'")
        return int(row.fetchone()[0])

    def cpu_by_process(self) -> dict[str, float]:
        """CPU seconds so far of the runtime ("runtime") and of each function's live workers
        (by function name, read from the worker's environment)."""
        assert self.rt.process is not None
        root = self.rt.process.pid
        found: dict[str, float] = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat", encoding="ascii") as fh:
                    fields = fh.read().rsplit(")", 1)[1].split()
                # fields[0] is the state; ppid is fields[1]; utime, stime are [11] and [12].
                if int(entry) == root:
                    name = "runtime"
                elif int(fields[1]) == root:
                    with open(f"/proc/{entry}/environ", "rb") as fh:
                        env = dict(
                            item.split(b"=", 1) for item in fh.read().split(b"\0") if b"=" in item
                        )
                    name = env.get(b"AWS_LAMBDA_FUNCTION_NAME", b"other").decode()
                else:
                    continue
            except OSError:
                continue  # ended meanwhile
            found[name] = found.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
        return found

    def connection(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.rt.port, timeout=30)

    def post(self, conn: http.client.HTTPConnection, payload: bytes) -> str:
        """One sign-up; its outcome as a Phase.statuses key."""
        try:
            conn.request(
                "POST",
                "/v1/signups",
                payload,
                {"Content-Type": "application/json", "x-api-key": self.key},
            )
            response = conn.getresponse()
            answer = response.read()
        except (OSError, http.client.HTTPException) as error:
            conn.close()  # reconnects on the next request
            return f"error {type(error).__name__}"
        if response.status == 202:
            return "202"
        try:
            code = json.loads(answer)["error"]["code"]
        except (ValueError, KeyError, TypeError):
            code = answer[:60].decode(errors="replace")
        return f"{response.status} {code}"


def open_loop(target: Target, rate: float, seconds: float, payloads: list[bytes]) -> Phase:
    phase = Phase(f"open {rate:g}/s", rate, seconds)
    work: queue.Queue[tuple[float, bytes] | None] = queue.Queue()
    lock = threading.Lock()

    def sender() -> None:
        conn = target.connection()
        while (item := work.get()) is not None:
            due, payload = item
            outcome = target.post(conn, payload)
            took = (time.perf_counter() - due) * 1000
            with lock:
                phase.statuses[outcome] += 1
                if outcome == "202":
                    phase.latencies.append(took)
        conn.close()

    threads = [threading.Thread(target=sender, daemon=True) for _ in range(SENDERS)]
    for thread in threads:
        thread.start()
    total = int(rate * seconds)
    start = time.perf_counter() + 0.05
    for i in range(total):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        work.put((due, payloads[i]))
    for _ in threads:
        work.put(None)
    for thread in threads:
        thread.join()
    return phase


def closed_loop(target: Target, clients: int, seconds: float, payloads: list[bytes]) -> Phase:
    phase = Phase(f"closed {clients} clients", None, seconds)
    lock = threading.Lock()
    supply = iter(payloads)
    stop_at = time.perf_counter() + seconds

    def client() -> None:
        conn = target.connection()
        while time.perf_counter() < stop_at:
            with lock:
                payload = next(supply, None)
            if payload is None:
                break
            started = time.perf_counter()
            outcome = target.post(conn, payload)
            took = (time.perf_counter() - started) * 1000
            with lock:
                phase.statuses[outcome] += 1
                if outcome == "202":
                    phase.latencies.append(took)
        conn.close()

    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return phase


def measured(target: Target, run: object, make: list[bytes]) -> Phase:
    """Runs one phase (`run` is a callable taking the payloads) and adds texts and CPU."""
    assert callable(run)
    texts_before = target.texts()
    cpu_before = target.cpu_by_process()
    client_before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    phase: Phase = run(make)
    ended = time.perf_counter()
    phase.seconds = ended - started
    client_after = resource.getrusage(resource.RUSAGE_SELF)
    phase.texts_during = target.texts() - texts_before
    phase.load = os.getloadavg()[0]
    goal = texts_before + phase.accepted
    deadline = ended + CATCH_UP_SECONDS
    while time.perf_counter() < deadline:
        if target.texts() >= goal:
            phase.caught_up_after = time.perf_counter() - ended
            break
        time.sleep(0.02)
    cpu_after = target.cpu_by_process()
    # A worker started during the phase counts from zero; one that ended is left out.
    phase.cpu_ms_by = {
        name: (seconds - cpu_before.get(name, 0.0)) * 1000 for name, seconds in cpu_after.items()
    }
    phase.cpu_ms = sum(phase.cpu_ms_by.values())
    phase.client_cpu_ms = (
        client_after.ru_utime
        + client_after.ru_stime
        - client_before.ru_utime
        - client_before.ru_stime
    ) * 1000
    return phase


def parameters(defences: str, root: Path = REPO_ROOT) -> dict[str, str]:
    declared = load_template(root / "template.yaml").get("Parameters", {})
    wanted = {
        # The usage plan of the one partner this figure is about, raised to the rate measured.
        "PartnerRateLimit": "10000",
        "PartnerBurstLimit": "10000",
        "PartnerDailyQuota": "100000000",
    }
    if defences == "off":
        wanted |= {"SignupRateLimits": "off", "CaptchaRequired": "false"}
    else:
        # Every limit stays on. The two that count all of this one partner's traffic (per key,
        # and the API's global budget) are raised to the volume measured, as the usage plan is
        # above; per number, address and prefix keep their defaults (the traffic spreads).
        wanted |= {
            "SignupRateLimits": "on",
            "CaptchaRequired": "true",
            "RateLimitPerApiKey": "1000000,10000000",
            "RateLimitGlobal": "1000000,10000000",
        }
    return {name: value for name, value in wanted.items() if name in declared}


def new_key(rt: LocalRuntime) -> str:
    out = io.StringIO()
    where = ["--data-dir", str(rt.data_dir)]
    if keys_main([*where, "create", "bench"], out, out) != 0:
        raise RuntimeError(f"could not make a key: {out.getvalue()}")
    found = re.search(r"key id: \w+.*key:\s+(\S+)", out.getvalue(), re.S)
    if not found:
        raise RuntimeError(f"no key in: {out.getvalue()}")
    return found[1]


def row(phase: Phase) -> str:
    refused = sum(n for k, n in phase.statuses.items() if k != "202" and not k.startswith("err"))
    errors = sum(n for k, n in phase.statuses.items() if k.startswith("err"))
    texts = phase.texts_during / phase.seconds if phase.seconds else 0.0
    caught = "no" if phase.caught_up_after is None else f"{phase.caught_up_after:.1f}"
    per = phase.cpu_ms / phase.accepted if phase.accepted else float("nan")
    client = phase.client_cpu_ms / max(1, sum(phase.statuses.values()))
    return (
        f"| {phase.label} | {sum(phase.statuses.values())} | {phase.accepted} | {refused} | "
        f"{errors} | {phase.accepted / phase.seconds:.1f} | {phase.percentile(50):.1f} | "
        f"{phase.percentile(95):.1f} | {phase.percentile(99):.1f} | "
        f"{max(phase.latencies, default=float('nan')):.1f} | {texts:.1f} | {caught} | "
        f"{per:.1f} | {client:.2f} | {phase.load:.1f} |"
    )


HEADER = (
    "| phase | sent | 202 | 4xx | errors | accepted/s | p50 ms | p95 ms | p99 ms | max ms | "
    "texts/s during | texts caught up after s | runtime CPU ms/sign-up | client CPU ms/req | "
    "load |\n"
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
    "| ---: | ---: |"
)


def run(
    defences: str,
    rates: list[float],
    seconds: float,
    clients: int,
    closed_seconds: float,
    repeat: int,
    root: Path = REPO_ROOT,
) -> list[Phase]:
    overrides = parameters(defences, root)
    print(f"\n## Partner API sign-ups, defences {defences}, runtime of {root}\n")
    print(f"machine: {describe()}")
    print(f"parameter overrides: {' '.join(f'{k}={v}' for k, v in overrides.items()) or 'none'}")
    needed = int(sum(rates) * seconds * repeat + 400 * closed_seconds * repeat + 400)
    supply = numbers()
    payloads = [body(next(supply), i) for i in range(needed)]
    offset = 0

    def take(count: int) -> list[bytes]:
        nonlocal offset
        chunk = payloads[offset : offset + count]
        offset += count
        return chunk

    phases: list[Phase] = []
    with (
        tempfile.TemporaryDirectory() as tmp,
        LocalRuntime(Path(tmp) / "rt", parameters=overrides, root=root) as rt,
    ):
        target = Target(rt, new_key(rt))
        # Warm-up, untimed: the functions' workers started and their imports done, as a
        # steady stream of sign-ups finds Lambda.
        warm = Counter[str]()
        for _ in range(2):
            warm.update(closed_loop(target, clients, 3.0, take(300)).statuses)
        if warm["202"] == 0:
            raise RuntimeError(f"no sign-up accepted in the warm-up: {dict(warm)}")
        # Its texts out first, so that the first phase does not pay for the warm-up's backlog.
        deadline = time.perf_counter() + CATCH_UP_SECONDS
        while target.texts() < warm["202"] and time.perf_counter() < deadline:
            time.sleep(0.1)
        print(f"warm-up: {dict(warm)}, texts {target.texts()}\n")
        print(HEADER)
        for _ in range(repeat):
            for rate in rates:
                count = int(rate * seconds)
                phase = measured(
                    target,
                    lambda chunk, rate=rate: open_loop(target, rate, seconds, chunk),
                    take(count),
                )
                phases.append(phase)
                print(row(phase), flush=True)
            if closed_seconds > 0:
                count = int(400 * closed_seconds)
                phase = measured(
                    target,
                    lambda chunk: closed_loop(target, clients, closed_seconds, chunk),
                    take(count),
                )
                phases.append(phase)
                print(row(phase), flush=True)
        print("\nCPU ms per accepted sign-up, by process (runtime; each function's workers):\n")
        for phase in phases:
            parts = sorted(phase.cpu_ms_by.items(), key=lambda item: -item[1])
            per = ", ".join(f"{name} {ms / max(1, phase.accepted):.2f}" for name, ms in parts)
            print(f"- {phase.label}: {per}")
        refusals = Counter[str]()
        for phase in phases:
            refusals.update({k: n for k, n in phase.statuses.items() if k != "202"})
        if refusals:
            print(f"\nnot 202: {dict(refusals)}")
    return phases


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.partner_api")
    parser.add_argument("--defences", choices=("on", "off"), default="on")
    parser.add_argument("--rates", default="100,150,200,250", help="open-loop rates, per second")
    parser.add_argument("--seconds", type=float, default=10.0, help="per open-loop rate")
    parser.add_argument("--clients", type=int, default=8, help="closed-loop clients")
    parser.add_argument("--closed-seconds", type=float, default=10.0, help="0: no closed loop")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument(
        "--baseline",
        metavar="REV",
        help="also run the same phases on the runtime of this commit, checked out beside it",
    )
    args = parser.parse_args(argv)
    rates = [float(r) for r in args.rates.split(",") if r.strip()]
    figures = (args.defences, rates, args.seconds, args.clients, args.closed_seconds, args.repeat)
    if args.baseline:
        print(f"baseline: {baseline.describe(args.baseline)}")
        with baseline.checkout(args.baseline) as tree:
            run(*figures, root=tree)
    run(*figures)


if __name__ == "__main__":
    main()
