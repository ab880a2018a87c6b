"""The console's reports page (web/console/reports.html, js/reports.js), in chromium.

GET /console/api/funnel is being built beside this page, so page.route() answers it in the
wave-2 contract's shape (tests/browser/console_fixtures.py `funnel`). The page's clock is
Playwright's, so "the last 30 days" is a known period.

Screenshots: BROWSER_SCREENSHOTS=docs/img writes docs/img/console-reports.png.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.a11y import check_axe
from tests.browser.console_fixtures import FakeConsoleApi, csp_refusals, funnel
from tests.support.runtime import LocalRuntime

pytestmark = pytest.mark.browser

NOW = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
KEYS = ["signedUp", "texted", "confirmed", "expired", "optedOut", "rejected"]


def days_between(start: str, end: str) -> list[str]:
    first, last = date.fromisoformat(start), date.fromisoformat(end)
    return [(first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]


def serve(body: Callable[[list[str]], dict[str, Any]] = funnel) -> Any:
    return lambda start, end: (200, body(days_between(start, end)))


@pytest.fixture
def api(page: Page) -> FakeConsoleApi:
    fake = FakeConsoleApi(session={"username": "sam", "role": "viewer"}, funnel=serve())
    page.route("**/console/api/**", fake.handle)
    page.clock.set_fixed_time(NOW)
    return fake


def funnel_queries(api: FakeConsoleApi) -> list[dict[str, list[str]]]:
    return [q for m, p, q, _ in api.requests if m == "GET" and p == "funnel"]


def test_the_last_30_days_as_a_chart_a_table_and_the_rates(
    shared_runtime: LocalRuntime, page: Page, api: FakeConsoleApi, screenshots: Path
) -> None:
    refused = csp_refusals(page)
    page.goto(f"{shared_runtime.base_url}/console/reports.html")
    expect(page.get_by_role("heading", name="Reports")).to_be_visible()
    expect(page.get_by_label("From (UTC day)")).to_have_value("2026-10-29")
    expect(page.get_by_label("To (UTC day)")).to_have_value("2026-11-27")
    rows = page.locator("#funnel tbody tr")
    expect(rows).to_have_count(30)
    assert funnel_queries(api) == [{"from": ["2026-10-29"], "to": ["2026-11-27"]}]

    expected = funnel(days_between("2026-10-29", "2026-11-27"))
    first = expected["days"][0]
    cells = rows.first.locator("td")
    assert cells.all_inner_texts() == [str(first[k]) for k in KEYS]
    expect(rows.first.locator("time")).to_have_attribute("datetime", "2026-10-29")
    total = page.locator("#funnel tfoot tr")
    assert total.locator("td").all_inner_texts() == [str(expected["totals"][k]) for k in KEYS]
    rate = expected["confirmationRate"]
    expect(page.locator("#confirmation-rate")).to_have_text(f"{rate * 100:.1f}%")
    expect(page.locator("#confirmation-rate-note")).to_have_text(
        f"{expected['totals']['confirmed']} confirmed of {expected['totals']['texted']} texted"
    )
    expect(page.locator("#median-confirm")).to_have_text("2 min 34 s")

    chart = page.get_by_role("img", name="Daily funnel")
    expect(chart).to_be_visible()
    # Each day's outcomes stacked, one part per non-zero figure; the sign-ups as a line.
    drawn = page.evaluate(
        """() => [...document.querySelectorAll('#chart [data-series]')].map(n =>
            [n.closest('[data-date]')?.dataset.date ?? null, n.dataset.series,
             Number(n.dataset.value)])"""
    )
    bars = [
        [d["date"], k, d[k]]
        for d in expected["days"]
        for k in ["confirmed", "expired", "optedOut", "rejected"]
        if d[k]
    ]
    assert [b for b in drawn if b[1] != "signedUp"] == bars
    assert [b[2] for b in drawn if b[1] == "signedUp"] == [d["signedUp"] for d in expected["days"]]
    # Taller bars for bigger figures: the first day's confirmed part against its height.
    heights = page.evaluate(
        """() => [...document.querySelectorAll('#chart rect[data-series=confirmed]')]
            .map(r => [Number(r.dataset.value), r.getBBox().height])"""
    )
    ratios = {round(h / v, 3) for v, h in heights}
    assert len(ratios) == 1, ratios
    expect(page.locator("#chart-desc")).to_contain_text(
        f"{expected['totals']['signedUp']} signed up"
    )
    check_axe(page, shared_runtime.base_url)
    page.screenshot(path=screenshots / "console-reports.png", full_page=True)
    assert refused == []


def test_a_period_is_asked_for_kept_in_the_address_and_exported(
    shared_runtime: LocalRuntime, page: Page, api: FakeConsoleApi, tmp_path: Path
) -> None:
    page.goto(f"{shared_runtime.base_url}/console/reports.html")
    expect(page.locator("#funnel tbody tr")).to_have_count(30)
    page.get_by_label("From (UTC day)").fill("2026-11-01")
    page.get_by_label("To (UTC day)").fill("2026-11-07")
    page.get_by_role("button", name="Show").click()
    expect(page.locator("#funnel tbody tr")).to_have_count(7)
    assert funnel_queries(api)[-1] == {"from": ["2026-11-01"], "to": ["2026-11-07"]}
    assert page.url.endswith("/console/reports.html?from=2026-11-01&to=2026-11-07")

    with page.expect_download() as info:
        page.get_by_role("button", name="Download figures (CSV)").click()
    assert info.value.suggested_filename == "funnel-2026-11-01-to-2026-11-07.csv"
    target = tmp_path / "funnel.csv"
    info.value.save_as(target)
    expected = funnel(days_between("2026-11-01", "2026-11-07"))
    lines = target.read_bytes().decode().split("\r\n")
    assert lines[0] == "date," + ",".join(KEYS)
    assert lines[1] == ",".join(["2026-11-01", *(str(expected["days"][0][k]) for k in KEYS)])
    assert lines[8] == ",".join(["total", *(str(expected["totals"][k]) for k in KEYS)])
    assert lines[9:] == [""]

    page.go_back()
    expect(page.locator("#funnel tbody tr")).to_have_count(30)
    page.get_by_role("button", name="Last 30 days").click()
    expect(page.get_by_label("From (UTC day)")).to_have_value("2026-10-29")


@pytest.mark.parametrize(
    ("start", "end", "field", "message"),
    [
        ("2026-11-10", "2026-11-01", "from", "The first day must not be after the last day."),
        ("2025-01-01", "2026-11-01", "to", "A report covers at most 366 days; this is 670."),
        ("", "2026-11-01", "from", "Enter the first day, like 2026-11-01."),
    ],
)
def test_a_wrong_period_is_said_beside_its_field_and_not_asked_for(
    shared_runtime: LocalRuntime,
    page: Page,
    api: FakeConsoleApi,
    start: str,
    end: str,
    field: str,
    message: str,
) -> None:
    page.goto(f"{shared_runtime.base_url}/console/reports.html")
    expect(page.locator("#funnel tbody tr")).to_have_count(30)
    asked = len(funnel_queries(api))
    page.get_by_label("From (UTC day)").fill(start)
    page.get_by_label("To (UTC day)").fill(end)
    page.get_by_role("button", name="Show").click()
    expect(page.locator(f"#{field}-error")).to_have_text(message)
    expect(page.locator(f"#{field}")).to_have_attribute("aria-invalid", "true")
    expect(page.locator(f"#{field}")).to_be_focused()
    assert len(funnel_queries(api)) == asked


def test_the_servers_refusal_is_said_beside_its_field(
    shared_runtime: LocalRuntime, page: Page, api: FakeConsoleApi
) -> None:
    message = "'to' must not be after today (UTC)."
    api.funnel = lambda start, end: (
        400,
        {"error": {"code": "invalid_date", "message": message}},
    )
    page.goto(f"{shared_runtime.base_url}/console/reports.html?from=2026-11-01&to=2026-12-31")
    expect(page.locator("#to-error")).to_have_text(message)
    expect(page.locator("#period-error")).to_be_empty()
    check_axe(page, shared_runtime.base_url)


def test_a_period_with_no_texts_has_no_rate(
    shared_runtime: LocalRuntime, page: Page, api: FakeConsoleApi
) -> None:
    def empty(days: list[str]) -> dict[str, Any]:
        rows = [{"date": d, **dict.fromkeys(KEYS, 0)} for d in days]
        return {
            "days": rows,
            "totals": dict.fromkeys(KEYS, 0),
            "confirmationRate": None,
            "medianSecondsToConfirm": None,
        }

    api.funnel = serve(empty)
    page.goto(f"{shared_runtime.base_url}/console/reports.html?from=2026-11-01&to=2026-11-03")
    expect(page.locator("#funnel tbody tr")).to_have_count(3)
    expect(page.locator("#confirmation-rate")).to_have_text("—")
    expect(page.locator("#confirmation-rate-note")).to_have_text(
        "No number was texted in this period."
    )
    expect(page.locator("#median-confirm")).to_have_text("—")
    assert page.locator("#chart rect").count() == 0
    check_axe(page, shared_runtime.base_url)


def test_without_a_session_only_the_way_to_sign_in(
    shared_runtime: LocalRuntime, page: Page, api: FakeConsoleApi
) -> None:
    api.session = None
    page.goto(f"{shared_runtime.base_url}/console/reports.html")
    expect(page.locator("#signin-needed")).to_be_visible()
    expect(page.locator("#reports")).to_be_hidden()
    assert funnel_queries(api) == []
    check_axe(page, shared_runtime.base_url)


def test_blocked_attempts_are_shown_by_reason_with_a_total(
    shared_runtime: LocalRuntime, page: Page
) -> None:
    blocked = {"captcha_invalid": 4, "daily_cap": 1, "rate_limit_ip_hour": 37}

    def with_blocked(days: list[str]) -> dict[str, Any]:
        return {**funnel(days), "blocked": blocked}

    fake = FakeConsoleApi(session={"username": "sam", "role": "viewer"}, funnel=serve(with_blocked))
    page.route("**/console/api/**", fake.handle)
    page.clock.set_fixed_time(NOW)
    page.goto(f"{shared_runtime.base_url}/console/reports.html")
    expect(page.get_by_role("heading", name="Blocked attempts")).to_be_visible()
    table = page.get_by_role("table", name="Blocked sign-up attempts by reason")
    expect(table).to_be_visible()
    rows = table.locator("tbody tr")
    expect(rows).to_have_count(3)
    assert [row.inner_text().split("\t") for row in rows.all()] == [
        ["CAPTCHA answer wrong or expired", "4"],
        ["Daily cap on confirmation texts", "1"],
        ["Rate limit, per IP address, per hour", "37"],
    ]
    assert table.locator("tfoot td").inner_text() == "42"
    expect(page.locator("#blocked-none")).to_be_hidden()
    check_axe(page, shared_runtime.base_url)


def test_no_blocked_attempts_say_so(
    shared_runtime: LocalRuntime, page: Page, api: FakeConsoleApi
) -> None:
    page.goto(f"{shared_runtime.base_url}/console/reports.html")
    expect(page.locator("#funnel tbody tr")).to_have_count(30)
    expect(page.locator("#blocked-none")).to_have_text("No attempt was blocked in this period.")
    expect(page.locator("#blocked")).to_be_hidden()
