"""The console end to end, nothing stubbed: the local runtime's pages, its console API behind
the sign-in (Cognito's local stand-in, the REQUEST authorizer, the session cookie), the
registration workflow, and the SMS sandbox.

A support agent signs in through the form, finds a real sign-up by its number typed as a
person reads it out, watches SendConfirmation wait, and sees the graph and the outcome turn
when the person replies YES. A viewer sees the number masked and no actions; without a
session every console page shows only the way to sign in.

Screenshots: BROWSER_SCREENSHOTS=docs/img writes docs/img/console-e2e-*.png.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.a11y import check_axe
from tests.browser.test_console_pages import node_statuses
from tests.support.console import PASSWORD, add_user
from tests.support.runtime import LocalRuntime, wait_for

pytestmark = pytest.mark.browser

NUMBER = "+12063400181"
TYPED = "(206) 340-0181"  # as the person reads it out on the phone
MASKED = "+1206***0181"
AGENT = "ann-agent"
VIEWER = "vic-viewer"


@pytest.fixture(scope="module")
def signup(shared_runtime: LocalRuntime) -> dict[str, Any]:
    """Two console users and one real sign-up, waiting for its reply."""
    add_user(shared_runtime, AGENT, "agent")
    add_user(shared_runtime, VIEWER, "viewer")
    status, body = shared_runtime.signup(NUMBER, first_name="Grace")
    assert status == 202, body
    wait_for(lambda: shared_runtime.messages(NUMBER, "outbound"), what="the confirmation text")
    return dict(body)


@pytest.fixture
def other_page(browser: Browser) -> Iterator[Page]:
    """A second browser, with its own cookies, that must not throw either."""
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def sign_in(page: Page, runtime: LocalRuntime, username: str) -> None:
    page.goto(f"{runtime.base_url}/console/")
    expect(page.get_by_role("heading", name="Sign in to the support console")).to_be_visible()
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#user-name")).to_have_text(username)


def find(page: Page, typed: str) -> None:
    page.get_by_label("Search").fill(typed)
    page.get_by_label("Search").press("Enter")
    expect(page.locator("#results tbody tr")).to_have_count(1)


def test_an_agent_finds_a_signup_and_watches_the_yes_arrive(
    shared_runtime: LocalRuntime, page: Page, signup: dict[str, Any], screenshots: Path
) -> None:
    registration_id = str(signup["registrationId"])
    sign_in(page, shared_runtime, AGENT)
    expect(page.locator("#user-role")).to_have_text("agent")
    find(page, TYPED)
    row = page.locator("#results tbody tr").first
    expect(row.get_by_role("link")).to_have_text("+1 (206) 340-0181")  # agents see it whole
    expect(row.locator(".badge")).to_have_text("Pending")
    expect(row.locator(".time-left")).to_have_text(re.compile(r" left$"))
    page.screenshot(path=screenshots / "console-e2e-search.png", full_page=True)

    row.get_by_role("link").click()
    expect(page).to_have_url(re.compile(rf"signup\.html\?id={registration_id}$"))
    expect(page.locator("#outcome")).to_have_text(re.compile(r"^Waiting for a reply"))
    waiting = page.locator('#steps tr[data-state="SendConfirmation"]')
    expect(waiting).to_have_attribute("data-status", "inProgress")
    statuses = node_statuses(page)
    assert statuses["SendConfirmation"] == "inProgress", statuses
    assert statuses["OptIn"] == "notStarted", statuses
    expect(page.locator("#live-note")).to_contain_text("updates every 2 seconds")
    expect(page.locator("#conversation .bubble--outbound")).to_have_count(1)
    # A running sign-up offers the agent its actions (their API is another part's).
    expect(page.locator("#actions")).to_be_visible()
    expect(page.locator("#action-resend")).to_be_visible()
    check_axe(page, shared_runtime.base_url)
    page.screenshot(path=screenshots / "console-e2e-waiting.png")
    workflow = page.locator("section", has=page.locator("#graph"))
    workflow.screenshot(path=screenshots / "console-e2e-graph-waiting.png")

    shared_runtime.text_in(NUMBER, "Yes!")
    expect(page.locator('#steps tr[data-state="Confirmed"]')).to_have_attribute(
        "data-status", "succeeded"
    )
    expect(page.locator("#outcome")).to_have_text(re.compile(r"^Confirmed by reply 'Yes!'"))
    expect(page.locator("#status-badge .badge")).to_have_text("Confirmed")
    statuses = node_statuses(page)
    for name in ["SendConfirmation", "OptIn", "Confirmed", "__end__"]:
        assert statuses[name] == "succeeded", (name, statuses)
    expect(page.locator("#conversation .bubble--inbound")).to_have_text(re.compile("Yes!"))
    expect(page.locator("#live-note")).to_be_empty()  # the polling stopped
    expect(page.locator("#action-resend")).to_be_hidden()
    expect(page.locator("#action-opt-out")).to_be_visible()
    page.screenshot(path=screenshots / "console-e2e-confirmed.png")
    workflow = page.locator("section", has=page.locator("#graph"))
    workflow.screenshot(path=screenshots / "console-e2e-graph-confirmed.png")


def test_a_viewer_sees_the_number_masked_and_no_actions(
    shared_runtime: LocalRuntime, page: Page, signup: dict[str, Any], screenshots: Path
) -> None:
    sign_in(page, shared_runtime, VIEWER)
    expect(page.locator("#user-role")).to_contain_text("viewer")
    find(page, "206-340-0181")
    row = page.locator("#results tbody tr").first
    expect(row.get_by_role("link")).to_have_text(MASKED)
    row.get_by_role("link").click()
    expect(page.locator("#phone-heading")).to_have_text(MASKED)
    expect(page.locator("#steps tbody tr").first).to_be_visible()
    expect(page.locator("#actions")).to_be_hidden()
    assert page.locator("#action-buttons button:visible").count() == 0
    # Nothing on the page carries the whole number.
    assert "3400181" not in page.locator("#main").inner_text()
    page.screenshot(path=screenshots / "console-e2e-viewer.png")


@pytest.mark.parametrize(
    ("path", "shown"),
    [
        ("", "#signin"),
        ("index.html?q=2063400181", "#signin"),
        ("signup.html?id={id}", "#signin-needed"),
        ("reports.html", "#signin-needed"),
    ],
)
def test_without_signing_in_a_page_shows_only_the_way_in(
    shared_runtime: LocalRuntime,
    other_page: Page,
    signup: dict[str, Any],
    path: str,
    shown: str,
) -> None:
    other_page.goto(f"{shared_runtime.base_url}/console/{path.format(id=signup['registrationId'])}")
    expect(other_page.locator(shown)).to_be_visible()
    for hidden in ["#user-bar", "#signups", "#signup", "#reports"]:
        if other_page.locator(hidden).count():
            expect(other_page.locator(hidden)).to_be_hidden()
    text = other_page.locator("body").inner_text()
    for secret in ["0181", "Waiting for a reply", "Registration ID", "Daily funnel"]:
        assert secret not in text, (secret, text)
    check_axe(other_page, shared_runtime.base_url)
    # And the API behind the page says no without the cookie.
    status, _, body = shared_runtime.request("GET", "/console/api/signups?q=2063400181")
    assert status == 401 and body["error"]["code"] == "unauthenticated"
