"""Expiry tracking on the console's list (web/console/js/index.js), in chromium.

PENDING rows count down to expiresAt, EXPIRED rows say when and which text went unanswered
(expiredAt, unansweredText: the wave-2 contract's additive SignupSummary fields), the quick
lists set the filters, and the CSV link asks for the same list with format=csv. The list API
is answered with page.route() (tests/browser/console_fixtures.py); the page's clock is
Playwright's, so the countdown is checked to the second.

Screenshots: BROWSER_SCREENSHOTS=docs/img writes docs/img/console-expiry.png.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, Route, expect

from tests.browser.a11y import check_axe
from tests.browser.console_fixtures import (
    CONFIRMATION_TEXT,
    FakeConsoleApi,
    confirmed_signup,
    csp_refusals,
    expired_signup,
    pending_signup,
)
from tests.support.console import PASSWORD, add_user
from tests.support.runtime import LocalRuntime, wait_for

pytestmark = pytest.mark.browser


def asked(page: Page, api: FakeConsoleApi, wanted: dict[str, list[str]]) -> None:
    """Waits until the list's last request is `wanted` (route handlers run while Playwright
    waits, so the wait is Playwright's)."""
    for _ in range(100):
        if api.list_queries() and api.list_queries()[-1] == wanted:
            return
        page.wait_for_timeout(50)
    assert api.list_queries()[-1] == wanted


@pytest.fixture
def api(page: Page) -> FakeConsoleApi:
    fake = FakeConsoleApi(session={"username": "sam", "role": "viewer"})
    page.route("**/console/api/**", fake.handle)
    return fake


def test_pending_rows_count_down_and_expired_rows_say_what_went_unanswered(
    shared_runtime: LocalRuntime, page: Page, api: FakeConsoleApi, screenshots: Path
) -> None:
    pending = pending_signup()
    assert pending.expires is not None
    now = pending.expires - timedelta(hours=23)
    soon = dataclasses.replace(
        pending,
        registration_id="0d9f6c1e-5b2a-4e7d-9c8f-3a1b2c4d5e6f",
        phone="+1206***0136",
        expires=now + timedelta(seconds=90),
    )
    expired = expired_signup()
    rows_served = [soon, pending, expired, confirmed_signup()]
    api.pages = [[s.summary() for s in rows_served]]
    # Time stands still at `now` but for run_for: the countdown is checked to the second.
    refused = csp_refusals(page)
    page.clock.install(time=now - timedelta(seconds=5))
    page.clock.pause_at(now)
    page.goto(f"{shared_runtime.base_url}/console/")
    rows = page.locator("#results tbody tr")
    expect(rows).to_have_count(4)
    expect(rows.nth(0).locator(".time-left")).to_have_text("1 min 30 s left")
    expect(rows.nth(1).locator(".time-left")).to_have_text("23 h 0 min left")
    page.clock.run_for(5_000)
    expect(rows.nth(0).locator(".time-left")).to_have_text("1 min 25 s left")
    page.clock.run_for(90_000)
    expect(rows.nth(0).locator(".time-left")).to_have_text("Window closed: expiring")
    expect(rows.nth(1).locator(".time-left")).to_have_text("22 h 58 min left")

    cell = rows.nth(2).locator("td").last
    expect(cell).to_contain_text("Expired ")
    expect(cell.locator("time").first).to_have_attribute("datetime", expired.summary()["expiredAt"])
    unanswered = cell.locator("details")
    expect(unanswered.locator("blockquote")).to_be_hidden()
    unanswered.get_by_text("Unanswered text").click()
    expect(unanswered.locator("blockquote")).to_have_text(CONFIRMATION_TEXT)
    expect(rows.nth(3).locator("td").last).to_have_text("—")  # confirmed: no expiry
    page.clock.resume()  # axe-core waits on timers
    check_axe(page, shared_runtime.base_url)
    page.screenshot(path=screenshots / "console-expiry.png", full_page=True)
    assert refused == []


def test_quick_lists_set_the_filters_and_the_csv_link_follows(
    shared_runtime: LocalRuntime, page: Page, api: FakeConsoleApi
) -> None:
    pending, expired = pending_signup(), expired_signup()
    api.pages = [[pending.summary(), expired.summary()]]
    page.goto(f"{shared_runtime.base_url}/console/")
    expect(page.locator("#results tbody tr")).to_have_count(2)
    expect(page.get_by_role("link", name="All sign-ups")).to_have_attribute("aria-current", "page")
    csv = page.get_by_role("link", name="Download this list (CSV)")
    expect(csv).to_have_attribute("href", "api/signups?format=csv")

    # The API answers the expiry order as it now does: soonest first, shown as served.
    soon = dataclasses.replace(
        pending,
        registration_id="5c1f0a2e-8d3b-4f6a-9e7c-2b4d6f8a0c1e",
        phone="+1206***0145",
        expires=(pending.expires or pending.created) - timedelta(hours=20),
    )
    api.pages = [[soon.summary(), pending.summary()]]
    page.get_by_role("link", name="Pending, soonest to expire").click()
    expect(page.get_by_label("Status")).to_have_value("PENDING")
    expect(page.locator("#results-caption")).to_have_text(
        "Pending sign-ups, soonest to expire first"
    )
    asked(page, api, {"status": ["PENDING"], "sort": ["expiry"], "limit": ["25"]})
    rows = page.locator("#results tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text(soon.phone)
    expect(rows.nth(1)).to_contain_text(pending.phone)
    expect(page.locator("#sort-note")).to_be_empty()
    api.pages = [[pending.summary(), expired.summary()]]
    expect(page.get_by_role("link", name="Pending, soonest to expire")).to_have_attribute(
        "aria-current", "page"
    )
    expect(csv).to_have_attribute("href", "api/signups?status=PENDING&sort=expiry&format=csv")
    expect(csv).to_have_attribute("download", "")
    # A download's request skips page.route() in Chromium (playwright#28253), so what the
    # link gets is read with fetch() from the same URL.
    text = page.evaluate("async (a) => (await fetch(a.href)).text()", csv.element_handle())
    lines = text.splitlines()
    assert len(lines) == 2 and lines[1].startswith(pending.registration_id)

    # The same search for another status drops the expiry order (pending only).
    page.get_by_label("Search").fill("206")
    page.get_by_role("button", name="Search", exact=True).click()
    asked(
        page,
        api,
        {
            "q": ["206"],
            "status": ["PENDING"],
            "sort": ["expiry"],
            "limit": ["25"],
        },
    )
    page.get_by_label("Status").select_option("EXPIRED")
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page.locator("#results-caption")).to_have_text("Sign-ups, newest first")
    asked(page, api, {"q": ["206"], "status": ["EXPIRED"], "limit": ["25"]})
    expect(csv).to_have_attribute("href", "api/signups?q=206&status=EXPIRED&format=csv")

    page.get_by_role("link", name="Expired", exact=True).click()
    expect(page.get_by_role("link", name="Expired", exact=True)).to_have_attribute(
        "aria-current", "page"
    )
    expect(page.get_by_label("Search")).to_have_value("")
    asked(page, api, {"status": ["EXPIRED"], "limit": ["25"]})
    check_axe(page, shared_runtime.base_url)


def test_an_unknown_sort_in_the_address_is_not_sent(
    shared_runtime: LocalRuntime, page: Page, api: FakeConsoleApi
) -> None:
    api.pages = [[]]
    page.goto(f"{shared_runtime.base_url}/console/?status=PENDING&sort=whatever")
    expect(page.locator("#result-count")).to_have_text("No sign-ups match these filters.")
    asked(page, api, {"status": ["PENDING"], "limit": ["25"]})


def test_the_header_links_to_the_reports(
    shared_runtime: LocalRuntime, page: Page, api: FakeConsoleApi
) -> None:
    api.pages = [[]]
    page.goto(f"{shared_runtime.base_url}/console/")
    nav = page.get_by_role("navigation", name="Console")
    expect(nav.get_by_role("link", name="Reports")).to_have_attribute("href", "reports.html")
    expect(nav.get_by_role("link", name="Sign-ups")).to_have_attribute("aria-current", "page")


def test_an_expiry_order_the_api_refuses_still_lists_the_pending_and_says_so(
    shared_runtime: LocalRuntime, page: Page, api: FakeConsoleApi
) -> None:
    # The API orders PENDING by expiry but not within dates of the last change (from/to):
    # it refuses with unsupported_sort, and the page lists newest first with a note.
    api.pages = [[pending_signup().summary()]]
    refusal = (
        "The expiry order cannot be limited to dates of the last change: leave out from and "
        "to, or leave out sort to list newest change first."
    )
    refused: list[str] = []

    def no_sort(route: Route) -> None:
        if "sort=" not in route.request.url:
            route.fallback()
            return
        refused.append(route.request.url)
        api.error(route, 400, "unsupported_sort", refusal)

    page.route("**/console/api/signups?**", no_sort)
    page.goto(f"{shared_runtime.base_url}/console/?status=PENDING&from=2026-11-01&sort=expiry")
    expect(page.locator("#results tbody tr")).to_have_count(1)
    expect(page.locator("#sort-note")).to_have_text(f"{refusal} Showing the newest change first.")
    expect(page.locator("#results-caption")).to_have_text("Sign-ups, newest first")
    expect(page.locator("#filters-error")).to_be_empty()
    assert page.url.endswith("/console/?status=PENDING&from=2026-11-01")
    assert len(refused) == 1
    asked(page, api, {"status": ["PENDING"], "from": ["2026-11-01"], "limit": ["25"]})
    check_axe(page, shared_runtime.base_url)

    page.get_by_label("Search").fill("206")
    page.get_by_role("button", name="Search", exact=True).click()
    asked(page, api, {"q": ["206"], "status": ["PENDING"], "from": ["2026-11-01"], "limit": ["25"]})
    expect(page.locator("#sort-note")).to_be_empty()


ORDERED = ("+12063400191", "+12063400192", "+12063400193")


def test_the_real_api_lists_the_pending_soonest_to_expire_first(
    shared_runtime: LocalRuntime, page: Page
) -> None:
    """Nothing stubbed: real sign-ups through the workflow, the console API behind the
    sign-in, the store's expiry index. Each wait starts when its text goes out, so the
    sign-ups made one after another expire in that order: the reverse of newest first."""
    add_user(shared_runtime, "eve-expiry", "viewer")
    for number in ORDERED:
        status, body = shared_runtime.signup(number)
        assert status == 202, body
        wait_for(lambda n=number: shared_runtime.messages(n, "outbound"), what="the text")
    page.goto(f"{shared_runtime.base_url}/console/")
    page.get_by_label("Username").fill("eve-expiry")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#user-name")).to_have_text("eve-expiry")
    with page.expect_response(
        lambda r: "/console/api/signups?" in r.url and "sort=expiry" in r.url
    ) as answer:
        page.get_by_role("link", name="Pending, soonest to expire").click()
    assert answer.value.status == 200
    items = answer.value.json()["items"]
    expect(page.locator("#results tbody tr")).to_have_count(len(items))
    expect(page.locator("#sort-note")).to_be_empty()
    expect(page.locator("#results-caption")).to_have_text(
        "Pending sign-ups, soonest to expire first"
    )
    # Other tests share this runtime: whatever else is pending, the order holds throughout,
    # and ours come in the order they were made.
    expiries = page.locator("#results tbody tr .time-left").evaluate_all(
        "(spans) => spans.map((s) => s.dataset.expires)"
    )
    assert len(expiries) >= len(ORDERED) and expiries == sorted(expiries)
    masked = [f"{number[:5]}***{number[-4:]}" for number in ORDERED]
    shown = [item["phoneNumber"] for item in items if item["phoneNumber"] in masked]
    assert shown == masked
