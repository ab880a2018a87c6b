"""A sign-up's console page over a big store: with the 100,000 sign-ups bench/console_list.py
fills into the local SQLite store, how long chromium takes from navigation to the workflow
graph drawn, RUNS loads each, as a signed-in agent opens the page.

"Drawn" is the page's own marker: web/console/js/graph.js sets `data-drawn-at` on #graph (ms
since the navigation began, performance.now()) in the animation frame after cytoscape's dagre
layout, once the sign-up, its execution's history and the state machine's definition have
arrived. The figure is read from that attribute, so Playwright's own round trips are not in it;
the wall time from page.goto to seeing the marker is printed beside it as a check.

Two pages: a confirmed sign-up the runtime itself ran (StartExecution to the YES, so the page
has a real event history), and one of the filled sign-ups (its execution unknown to the
engine: the graph from the definition alone). Each is loaded cold (a new browser context per
load: no cache, as a first visit) and warm (reloads in one tab: the vendored scripts cached).
Not a test: `python -m bench` runs it and prints the figures.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from bench.console_list import SIGNUPS, fill
from bench.machine import describe
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.support.console import add_user, request, sign_in, token_of
from tests.support.runtime import LocalRuntime, wait_for

RUNS = 20
NUMBER = "+12063400999"  # checked below not to be one of the filled numbers
DRAWN = "#graph[data-drawn-at]"


def _context(browser: Browser, rt: LocalRuntime, token: str) -> BrowserContext:
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    context.add_cookies(
        [{"name": "console_session", "value": token, "url": rt.base_url, "httpOnly": True}]
    )
    return context


def _load(page: Page, url: str, reload: bool = False) -> tuple[float, float]:
    """One navigation: (ms to the graph drawn by the page's clock, wall ms around it)."""
    started = time.perf_counter()
    if reload:
        page.reload(wait_until="commit")
    else:
        page.goto(url, wait_until="commit")
    page.wait_for_selector(DRAWN, state="attached", timeout=30_000)
    wall = (time.perf_counter() - started) * 1000
    drawn = float(page.get_attribute("#graph", "data-drawn-at") or "nan")
    return drawn, wall


def _percentiles(values: list[float]) -> tuple[float, float]:
    ordered = sorted(values)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]


def _measure(browser: Browser, rt: LocalRuntime, token: str, url: str) -> dict[str, Any]:
    cold = []
    for _ in range(RUNS):
        context = _context(browser, rt, token)
        cold.append(_load(context.new_page(), url))
        context.close()
    context = _context(browser, rt, token)
    page = context.new_page()
    _load(page, url)  # untimed: fills the cache
    warm = [_load(page, url, reload=True) for _ in range(RUNS)]
    context.close()
    return {"cold": cold, "warm": warm}


def _confirmed(rt: LocalRuntime, number: str) -> str:
    status, body = rt.signup(number, first_name="Bench")
    assert status == 202, body
    wait_for(lambda: rt.messages(number, "outbound"), what="the confirmation text")
    rt.text_in(number, "YES")
    wait_for(
        lambda: (rt.contact(number) or {}).get("status") == "CONFIRMED", what="the confirmation"
    )
    return str(body["registrationId"])


def main(quick: bool = False) -> None:
    count = 10_000 if quick else SIGNUPS
    print(f"\n## A sign-up's console page over {count:,} sign-ups (chromium, local SQLite)\n")
    print(f"machine: {describe()}")
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "rt"
        data.mkdir()
        started = time.perf_counter()
        numbers = fill(data / "contacts.db", count)
        assert NUMBER not in numbers
        print(f"filled in {time.perf_counter() - started:.1f} s\n")
        with LocalRuntime(data) as rt:
            add_user(rt, "bench-agent", "agent")
            status, body, headers = sign_in(rt, "bench-agent")
            assert status == 200, body
            token = token_of(headers["set-cookie"])
            ran = _confirmed(rt, NUMBER)
            status, _, detail = request(
                rt,
                "GET",
                f"/console/api/signups/{ran}",
                headers={"Cookie": f"console_session={token}"},
            )
            assert status == 200, detail
            events = len(detail["history"])
            # A filled sign-up: the store's oldest-first registration IDs are reg-NNNNNN.
            filled = "reg-000042"
            pages = [
                (f"confirmed sign-up, its execution's history ({events} events)", ran),
                ("filled sign-up, execution unknown to the engine", filled),
            ]
            results = []
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                try:
                    for label, registration_id in pages:
                        url = f"{rt.base_url}/console/signup.html?id={registration_id}"
                        results.append((label, _measure(browser, rt, token, url)))
                finally:
                    browser.close()
    print(f"| page ({RUNS} loads each) | loads | drawn p50 ms | drawn p95 ms | wall p50 ms |")
    print("| --- | --- | ---: | ---: | ---: |")
    for label, runs in results:
        for kind in ("cold", "warm"):
            drawn = _percentiles([d for d, _ in runs[kind]])
            wall = _percentiles([w for _, w in runs[kind]])
            print(f"| {label} | {kind} | {drawn[0]:.0f} | {drawn[1]:.0f} | {wall[0]:.0f} |")


if __name__ == "__main__":
    main()
