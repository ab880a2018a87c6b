"""An agent's actions on a sign-up's page (web/console/js/actions.js), in chromium.

The actions API is being built beside these pages, so `page.route()` answers it in the wave-2
contract's shapes (tests/browser/console_fixtures.py): POST signups/{id}/{action} with
{"reason"} answers the sign-up's detail after the action, or a refusal. The fake refuses a
POST that is not JSON (as the API's cross-site protection does) and a viewer's (403).

Screenshots: BROWSER_SCREENSHOTS=docs/img writes docs/img/console-action-*.png.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.browser.a11y import check_axe
from tests.browser.console_fixtures import (
    FakeConsoleApi,
    Signup,
    after_expiry_action,
    after_repair,
    after_resend,
    confirmed_signup,
    csp_refusals,
    expired_signup,
    pending_signup,
    stuck_signup,
)
from tests.support.runtime import LocalRuntime

pytestmark = pytest.mark.browser

AGENT = {"username": "ada", "role": "agent"}
JSON = {"Content-Type": "application/json"}
REPAIR_SENTENCE = "This sign-up's workflow has ended but the number is still pending"


@pytest.fixture
def api(page: Page) -> FakeConsoleApi:
    fake = FakeConsoleApi(session=dict(AGENT))
    page.route("**/console/api/**", fake.handle)
    return fake


def open_page(page: Page, runtime: LocalRuntime, api: FakeConsoleApi, signup: Signup) -> None:
    api.details[signup.registration_id] = signup.detail()
    page.goto(f"{runtime.base_url}/console/signup.html?id={signup.registration_id}")
    expect(page.locator("#outcome")).to_have_text(signup.outcome)


def action_button(page: Page, name: str) -> Locator:
    return page.locator("#action-buttons").get_by_role("button", name=name, exact=True)


def shown_buttons(page: Page) -> list[str]:
    return [b.inner_text() for b in page.locator("#action-buttons button:visible").all()]


def test_cancel_asks_why_says_what_happens_and_rerenders_from_the_answer(
    shared_runtime: LocalRuntime, page: Page, api: FakeConsoleApi, screenshots: Path
) -> None:
    pending = pending_signup()
    why = "Caller asked us to stop: wrong number"
    cancelled = after_expiry_action(pending, "agent_cancelled", "ada", why)
    api.actions["cancel"] = (200, cancelled.detail(), {})
    refused = csp_refusals(page)
    open_page(page, shared_runtime, api, pending)
    expect(page.locator("#actions")).to_be_visible()
    assert shown_buttons(page) == ["Resend confirmation", "Cancel sign-up", "Expire now", "Opt out"]
    expect(page.locator("#repair-note")).to_be_hidden()

    opener = action_button(page, "Cancel sign-up")
    opener.click()
    dialog = page.get_by_role("dialog", name="Cancel this sign-up?")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("The number stays opted out")
    expect(page.get_by_label("Reason (required)")).to_be_focused()

    # No reason: said beside the field, nothing sent.
    dialog.get_by_role("button", name="Cancel sign-up").click()
    expect(page.locator("#action-reason-error")).to_have_text(
        "Say why: the reason is written to the consent record."
    )
    expect(page.get_by_label("Reason (required)")).to_have_attribute("aria-invalid", "true")
    assert api.action_posts() == []
    check_axe(page, shared_runtime.base_url)
    page.screenshot(path=screenshots / "console-action-dialog.png")

    # Escape closes it and gives the keyboard back to the button.
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(opener).to_be_focused()
    assert api.action_posts() == []

    opener.click()
    expect(page.get_by_label("Reason (required)")).to_have_value("")  # a fresh start
    page.get_by_label("Reason (required)").fill(f"  {why} ")
    dialog.get_by_role("button", name="Cancel sign-up").click()
    expect(dialog).to_be_hidden()
    expect(page.locator("#outcome")).to_have_text(f"Cancelled by ada: {why}")
    expect(page.locator("#status-badge .badge")).to_have_text("Expired")
    expect(page.locator("#action-result")).to_have_text("The sign-up was cancelled.")
    expect(page.locator("#action-result")).to_be_focused()  # the button is gone
    assert api.action_posts() == [(f"signups/{pending.registration_id}/cancel", {"reason": why})]
    # An EXPIRED sign-up has nothing left to act on.
    assert shown_buttons(page) == []
    expect(page.locator("#no-actions")).to_be_visible()
    entry = page.locator('#ledger > li[data-type="expired"]')
    expect(entry).to_contain_text("an agent cancelled the sign-up")
    expect(entry).to_contain_text("ada")
    expect(entry).to_contain_text(why)
    expect(page.locator('#steps tr[data-state="SendConfirmation"]')).to_have_attribute(
        "data-status", "cancelled"
    )
    check_axe(page, shared_runtime.base_url)
    page.screenshot(path=screenshots / "console-action-cancelled.png")
    assert refused == []


def test_cooldown_is_a_countdown_then_the_resend_goes_through(
    shared_runtime: LocalRuntime, page: Page, api: FakeConsoleApi
) -> None:
    pending = pending_signup()
    refusal = {
        "error": {
            "code": "cooldown",
            "message": "This number was texted moments ago; wait before resending.",
            "retryAfterSeconds": 3,
        }
    }
    api.actions["resend"] = (429, refusal, {"Retry-After": "3"})
    open_page(page, shared_runtime, api, pending)
    action_button(page, "Resend confirmation").click()
    dialog = page.get_by_role("dialog", name="Resend the confirmation text?")
    page.get_by_label("Reason (required)").fill("Customer deleted the first text")
    confirm = dialog.get_by_role("button", name="Resend confirmation")
    confirm.click()
    expect(dialog.get_by_role("alert")).to_have_text(refusal["error"]["message"])
    expect(dialog.get_by_role("timer")).to_have_text(re.compile(r"^You can resend in 0:0[123]\.$"))
    expect(confirm).to_be_disabled()
    check_axe(page, shared_runtime.base_url)
    expect(dialog.get_by_role("alert")).to_have_text("The wait is over: you can resend now.")
    expect(dialog.get_by_role("timer")).to_be_hidden()
    expect(confirm).to_be_enabled()

    api.actions["resend"] = (200, after_resend(pending, "ada", "Customer deleted it").detail(), {})
    confirm.click()
    expect(dialog).to_be_hidden()
    expect(page.locator("#action-result")).to_have_text("The confirmation text was sent again.")
    expect(page.locator("#conversation > li")).to_have_count(2)
    expect(page.locator('#ledger > li[data-type="resent"]')).to_contain_text("Customer deleted it")
    # Still pending and running: the buttons stay, and the keyboard is back on Resend.
    expect(action_button(page, "Resend confirmation")).to_be_focused()
    posts = api.action_posts()
    assert [p for p, _ in posts] == [f"signups/{pending.registration_id}/resend"] * 2


@pytest.mark.parametrize(
    ("button", "status", "code", "message"),
    [
        ("Expire now", 409, "not_pending", "This sign-up is no longer pending."),
        ("Resend confirmation", 409, "send_limit", "This number has had all its texts."),
        ("Opt out", 404, "not_found", "There is no sign-up with this ID."),
        ("Cancel sign-up", 403, "cross_site_request", "Not sent from the console's own page."),
    ],
)  # fmt: skip
def test_refusals_are_said_in_the_servers_words(
    shared_runtime: LocalRuntime,
    page: Page,
    api: FakeConsoleApi,
    button: str,
    status: int,
    code: str,
    message: str,
) -> None:
    pending = pending_signup()
    names = {"Expire now": "expire", "Resend confirmation": "resend", "Opt out": "opt-out"}
    refusal = {"error": {"code": code, "message": message}}
    api.actions[names.get(button, "cancel")] = (status, refusal, {})
    open_page(page, shared_runtime, api, pending)
    action_button(page, button).click()
    page.get_by_label("Reason (required)").fill("Checking a complaint")
    page.get_by_role("dialog").get_by_role("button", name=button).click()
    expect(page.locator("#action-error")).to_have_text(message)
    expect(page.get_by_role("dialog")).to_be_visible()  # the agent decides what next
    expect(page.get_by_role("dialog").get_by_role("button", name=button)).to_be_enabled()
    expect(page.locator("#outcome")).to_have_text(pending.outcome)  # nothing changed


def test_invalid_reason_goes_beside_the_reason(
    shared_runtime: LocalRuntime, page: Page, api: FakeConsoleApi
) -> None:
    pending = pending_signup()
    message = "The reason must be 1 to 500 characters of text."
    api.actions["expire"] = (400, {"error": {"code": "invalid_reason", "message": message}}, {})
    open_page(page, shared_runtime, api, pending)
    action_button(page, "Expire now").click()
    page.get_by_label("Reason (required)").fill("x")
    page.get_by_role("dialog").get_by_role("button", name="Expire now").click()
    expect(page.locator("#action-reason-error")).to_have_text(message)
    expect(page.locator("#action-error")).to_be_empty()


def test_a_stuck_signup_offers_repair(
    shared_runtime: LocalRuntime, page: Page, api: FakeConsoleApi, screenshots: Path
) -> None:
    stuck = stuck_signup()
    why = "Execution was stopped during maintenance"
    api.actions["repair"] = (200, after_repair(stuck, "ada", why).detail(), {})
    open_page(page, shared_runtime, api, stuck)
    expect(page.locator("#repair-note")).to_be_visible()
    expect(page.locator("#repair-note")).to_contain_text(REPAIR_SENTENCE)
    # The workflow cannot take a resend, a cancel or an expiry any more.
    assert shown_buttons(page) == ["Opt out", "Repair"]
    check_axe(page, shared_runtime.base_url)
    page.screenshot(path=screenshots / "console-action-repair.png")

    action_button(page, "Repair").click()
    dialog = page.get_by_role("dialog", name="Repair this sign-up?")
    page.get_by_label("Reason (required)").fill(why)
    check_axe(page, shared_runtime.base_url)
    dialog.get_by_role("button", name="Repair").click()
    expect(page.locator("#outcome")).to_have_text("Expired: its execution ended (ABORTED)")
    expect(page.locator("#repair-note")).to_be_hidden()
    expect(page.locator('#ledger > li[data-type="expired"]')).to_contain_text(why)
    assert api.action_posts() == [(f"signups/{stuck.registration_id}/repair", {"reason": why})]


def test_repair_of_a_running_execution_is_refused_in_words(
    shared_runtime: LocalRuntime, page: Page, api: FakeConsoleApi
) -> None:
    stuck = stuck_signup()
    message = "Its execution is still running: nothing to repair."
    api.actions["repair"] = (409, {"error": {"code": "still_running", "message": message}}, {})
    open_page(page, shared_runtime, api, stuck)
    action_button(page, "Repair").click()
    page.get_by_label("Reason (required)").fill("Looks stuck")
    page.get_by_role("dialog").get_by_role("button", name="Repair").click()
    expect(page.locator("#action-error")).to_have_text(message)


@pytest.mark.parametrize(
    ("make", "buttons"),
    [(confirmed_signup, ["Opt out"]), (expired_signup, [])],
)
def test_which_actions_each_status_offers(
    shared_runtime: LocalRuntime,
    page: Page,
    api: FakeConsoleApi,
    make: Callable[[], Signup],
    buttons: list[str],
) -> None:
    open_page(page, shared_runtime, api, make())
    expect(page.locator("#actions")).to_be_visible()
    assert shown_buttons(page) == buttons
    if buttons:
        expect(page.locator("#no-actions")).to_be_hidden()
    else:
        expect(page.locator("#no-actions")).to_be_visible()


def test_a_viewer_sees_no_actions(
    shared_runtime: LocalRuntime, page: Page, api: FakeConsoleApi
) -> None:
    api.session = {"username": "sam", "role": "viewer"}
    for signup in (pending_signup(), stuck_signup()):
        open_page(page, shared_runtime, api, signup)
        expect(page.locator("#steps tbody tr").first).to_be_visible()
        expect(page.locator("#actions")).to_be_hidden()
        assert page.locator("#action-buttons button:visible").count() == 0
        expect(page.locator("#repair-note")).to_be_hidden()


def test_an_action_after_the_session_ended_asks_to_sign_in_again(
    shared_runtime: LocalRuntime, page: Page, api: FakeConsoleApi
) -> None:
    pending = pending_signup()
    open_page(page, shared_runtime, api, pending)
    action_button(page, "Opt out").click()
    page.get_by_label("Reason (required)").fill("Asked by phone")
    api.session = None  # the session ended while the dialog was open
    page.get_by_role("dialog").get_by_role("button", name="Opt out").click()
    expect(page.get_by_role("dialog")).to_be_hidden()
    expect(page.locator("#signin-needed")).to_be_visible()
    expect(page.locator("#signup")).to_be_hidden()
