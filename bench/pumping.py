"""SMS pumping replayed against the public form on the local runtime: how many texts each
defence lets through. Runs on demand (`python -m bench.pumping [--quick]`), prints a table
(the one in docs/security.md).

Scenarios (the attacker's):
- burst, 1 IP: 1,000 sign-ups from one address to sequential numbers in one NPA-NXX;
- burst, 200 IPs: the same 1,000 numbers' pattern from 200 addresses (5 each);
- trickle under every limit: 190 sign-ups, each from its own address, 19 numbers in each of
  10 prefixes (under 20 a prefix an hour, 10 an address, 1,000 in all), one at a time.

Defence configurations: all off; rate limits alone; the CAPTCHA alone; all on. The country
list and the daily cap per number stay on throughout (every number here is a new US number,
so neither stops anything: what is measured is the new defences).

Source addresses: Linux routes the whole of 127/8 to the loopback interface, so the client
binds 127.0.0.x / 127.0.1.x and the runtime sees that address as the caller's (it takes the
socket's peer, never X-Forwarded-For). With the CAPTCHA on, the attacker fetches a challenge
and solves it (the `altcha` package's solver, in 2 processes) for every attempt: the CPU it
pays is reported as the median solve time.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import statistics
import tempfile
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from altcha import v1

from bench.machine import describe
from tests.support.runtime import LocalRuntime, wait_for

CONFIGS = {
    "all off": {"SignupRateLimits": "off", "CaptchaRequired": "false"},
    "rate limits only": {"SignupRateLimits": "on", "CaptchaRequired": "false"},
    "CAPTCHA only": {"SignupRateLimits": "off", "CaptchaRequired": "true"},
    "all on": {"SignupRateLimits": "on", "CaptchaRequired": "true"},
}
CLIENTS = 8  # concurrent connections of the attacker in the bursts


@dataclass(frozen=True)
class Attempt:
    phone: str
    source: str


@dataclass
class Result:
    scenario: str
    config: str
    attempts: int
    accepted: int = 0
    texts: int = 0
    blocked: Counter[str] = field(default_factory=Counter)
    other: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    solve_seconds: list[float] = field(default_factory=list)


def scenarios(count: int) -> dict[str, tuple[list[Attempt], int]]:
    """name -> (attempts, concurrent clients)."""
    one_ip = [Attempt(f"+1206486{i:04d}", "127.0.0.2") for i in range(count)]
    many_ips = [Attempt(f"+1206486{i:04d}", f"127.0.0.{2 + i % 200}") for i in range(count)]
    per_prefix = max(1, min(19, count // 10))
    trickle = [
        Attempt(f"+1206{490 + p}{n:04d}", f"127.0.1.{2 + p * per_prefix + n}")
        for p in range(10)
        for n in range(per_prefix)
    ]
    return {
        f"burst, 1 IP, {count} numbers": (one_ip, CLIENTS),
        f"burst, 200 IPs, {count} numbers": (many_ips, CLIENTS),
        f"trickle under every limit, {len(trickle)} numbers": (trickle, 1),
    }


def _call(port: int, source: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    connection = http.client.HTTPConnection(
        "127.0.0.1", port, timeout=60, source_address=(source, 0)
    )
    try:
        data = None if body is None else json.dumps(body)
        headers = {"Content-Type": "application/json", "User-Agent": "pumping-bench"}
        connection.request(method, path, body=data, headers=headers)
        response = connection.getresponse()
        text = response.read()
        return response.status, json.loads(text) if text else None
    finally:
        connection.close()


def _solve(challenge: dict[str, Any]) -> tuple[str, float]:
    started = time.perf_counter()
    found = v1.solve_challenge(
        challenge["challenge"], challenge["salt"], challenge["algorithm"], challenge["maxNumber"]
    )
    took = time.perf_counter() - started
    assert found is not None
    payload = {key: challenge[key] for key in ("algorithm", "challenge", "salt", "signature")}
    payload["number"] = found.number
    return base64.b64encode(json.dumps(payload).encode()).decode(), took


def run(
    scenario: str, config: str, attempts: list[Attempt], clients: int, pool: ProcessPoolExecutor
) -> Result:
    result = Result(scenario, config, len(attempts))
    with tempfile.TemporaryDirectory() as tmp:
        rt = LocalRuntime(Path(tmp) / "rt", CONFIGS[config]).start()
        try:

            def attempt(one: Attempt) -> tuple[int, Any, float | None]:
                body: dict[str, Any] = {
                    "firstName": "Pat",
                    "phoneNumber": one.phone,
                    "consent": True,
                }
                took = None
                status, challenge = _call(rt.port, one.source, "GET", "/signups/challenge")
                if status == 200 and challenge and challenge.get("captcha") != "off":
                    body["altcha"], took = pool.submit(_solve, challenge).result()
                status, answer = _call(rt.port, one.source, "POST", "/signups", body)
                return status, answer, took

            def texts() -> int:
                return len(rt.get("/sandbox/conversations")[1]["conversations"])

            # One sign-up first, untimed and not counted, from an address and a prefix of its
            # own, so the workers are warm (a real stack's are, under a steady stream).
            warm = attempt(Attempt("+13125550100", "127.0.2.1"))
            assert warm[0] == 202, warm
            wait_for(lambda: texts() >= 1, timeout=120, what="the warm-up text")

            started = time.perf_counter()
            with ThreadPoolExecutor(clients) as threads:
                outcomes = list(threads.map(attempt, attempts))
            result.seconds = time.perf_counter() - started
            for status, answer, took in outcomes:
                if took is not None:
                    result.solve_seconds.append(took)
                if status in (200, 202):
                    result.accepted += 1
                    continue
                error = (answer or {}).get("error", {})
                code = str(error.get("code", status))
                if code == "rate_limited":
                    limit = error.get("limit", {})
                    window = "hour" if limit.get("windowSeconds") == 3600 else "day"
                    result.blocked[f"{limit.get('scope')}/{window}"] += 1
                elif code.startswith("captcha"):
                    result.blocked[code] += 1
                else:
                    result.other[f"{status} {code}"] += 1

            wait_for(
                lambda: texts() >= 1 + result.accepted, timeout=600, interval=0.2, what="texts"
            )
            time.sleep(1.0)  # anything late still lands before the count
            result.texts = texts() - 1
        finally:
            rt.stop()
    return result


def table(results: list[Result]) -> str:
    lines = [
        "| scenario | defences | attempts | accepted | texts sent | blocked (by reason) | time |",
        "| --- | --- | ---: | ---: | ---: | --- | ---: |",
    ]
    for r in results:
        blocked = ", ".join(f"{reason} {n}" for reason, n in sorted(r.blocked.items())) or "—"
        if r.other:
            blocked += "; other: " + ", ".join(f"{k} {n}" for k, n in sorted(r.other.items()))
        lines.append(
            f"| {r.scenario} | {r.config} | {r.attempts} | {r.accepted} | {r.texts} | "
            f"{blocked} | {r.seconds:.1f} s |"
        )
    return "\n".join(lines)


def main(quick: bool = False) -> None:
    count = 100 if quick else 1000
    results: list[Result] = []
    with ProcessPoolExecutor(2) as pool:
        for scenario, (attempts, clients) in scenarios(count).items():
            for config in CONFIGS:
                results.append(run(scenario, config, attempts, clients, pool))
                print(f"done: {scenario} / {config}", flush=True)
    print()
    print(f"Machine: {describe()}")
    print(table(results))
    solves = [s for r in results for s in r.solve_seconds]
    if solves:
        print(
            f"\nCAPTCHA: {len(solves)} challenges solved by the attacker (Python, one core "
            f"each): median {statistics.median(solves) * 1000:.0f} ms, "
            f"max {max(solves) * 1000:.0f} ms."
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.pumping")
    parser.add_argument("--quick", action="store_true", help="100 sign-ups a burst, not 1,000")
    main(quick=parser.parse_args().quick)
