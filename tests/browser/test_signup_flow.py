"""End to end through the pages: sign up on the form, confirm from the phone simulator.

Runs the real local runtime (the `runtime` fixture): the pages, the API routes, the state
machine, the Lambdas and the SMS sandbox are all the ones `make run` starts.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.support.runtime import LocalRuntime
from tests.support.serving import QUICK_SHUTDOWN

pytestmark = pytest.mark.browser

# Real, valid US numbers (phonenumbers.is_valid_number accepts them); nothing leaves the
# machine, the SMS sandbox keeps every text.
SIGNUP_NUMBER = "+12063400123"
SIGNUP_TYPED = "(206) 340-0123"
SIGNUP_SHOWN = "+1 (206) 340-0123"
NO_CONSENT_NUMBER = "+12063400124"
STRANGER_NUMBER = "+12063400199"


def program_name(runtime: LocalRuntime) -> str:
    status, disclosure = runtime.get("/disclosure")
    assert status == 200, disclosure
    return str(disclosure["programName"])


def test_sign_up_then_confirm_by_replying_yes(
    runtime: LocalRuntime, page: Page, screenshots: Path
) -> None:
    page.goto(runtime.base_url + "/")
    expect(page.get_by_role("heading", level=1)).to_contain_text(program_name(runtime))
    consent = page.get_by_role("checkbox")
    expect(consent).not_to_be_checked()
    expect(page.locator("#disclosure-version")).to_contain_text("Terms version")

    page.get_by_label("First name").fill("Ada")
    page.get_by_label("Mobile number").fill(SIGNUP_TYPED)
    consent.check()
    page.screenshot(path=screenshots / "signup-form.png", full_page=True)
    page.get_by_role("button", name="Text me a confirmation").click()

    success = page.locator("#success")
    expect(success).to_be_visible()
    expect(success).to_contain_text("A text is on its way")
    expect(success).to_contain_text(SIGNUP_SHOWN)
    page.screenshot(path=screenshots / "signup-success.png", full_page=True)

    page.get_by_role("link", name="Open the phone simulator").click()
    expect(page).to_have_url(re.compile(r"/simulator\.html\?phone=%2B12063400123$"))
    expect(page.locator("#phone-title")).to_have_text(SIGNUP_SHOWN)

    confirmation = page.locator(".bubble--outbound").first
    expect(confirmation).to_contain_text(re.compile(r"\bYES\b"))
    badge = page.locator("#status-badge")
    expect(badge).to_have_attribute("data-status", "PENDING")

    page.get_by_role("textbox", name="Reply").fill("yes!")
    page.get_by_role("button", name="Send", exact=True).click()

    expect(page.locator(".bubble--inbound .bubble__body").last).to_contain_text("yes!")
    expect(badge).to_have_attribute("data-status", "CONFIRMED")
    expect(badge).to_have_text("Confirmed")
    expect(page.locator(".bubble--outbound").last).to_contain_text("You're subscribed")
    page.screenshot(path=screenshots / "simulator.png", full_page=True)

    contact = runtime.contact(SIGNUP_NUMBER)
    assert contact is not None
    assert contact["status"] == "CONFIRMED"
    assert contact["optedIn"] is True


def test_form_errors_are_inline_and_send_nothing(runtime: LocalRuntime, page: Page) -> None:
    page.goto(runtime.base_url + "/")
    expect(page.locator("#disclosure-version")).to_contain_text("Terms version")
    first_name = page.get_by_label("First name")
    phone = page.get_by_label("Mobile number")
    consent = page.get_by_role("checkbox")
    submit = page.get_by_role("button", name="Text me a confirmation")

    # Empty fields: caught in the page, before any request.
    submit.click()
    expect(page.locator("#first-name-error")).to_have_text("Enter your first name.")
    expect(first_name).to_have_attribute("aria-invalid", "true")
    expect(phone).to_have_attribute("aria-invalid", "true")

    # Not a number: the server says so, and the page puts it next to the phone field.
    first_name.fill("Ada")
    phone.fill("abc")
    consent.check()
    submit.click()
    expect(page.locator("#phone-error")).not_to_be_empty()
    expect(phone).to_have_attribute("aria-invalid", "true")
    expect(first_name).not_to_have_attribute("aria-invalid", "true")
    expect(page.locator("#success")).to_be_hidden()

    # A good number without consent: the error sits next to the checkbox.
    phone.fill("(206) 340-0124")
    consent.uncheck()
    submit.click()
    expect(page.locator("#consent-error")).not_to_be_empty()
    expect(consent).to_have_attribute("aria-invalid", "true")
    expect(phone).not_to_have_attribute("aria-invalid", "true")
    expect(page.locator("#phone-error")).to_be_empty()
    expect(page.locator("#success")).to_be_hidden()

    assert runtime.contact(NO_CONSENT_NUMBER) is None
    assert runtime.messages(NO_CONSENT_NUMBER) == []
    status, body = runtime.get("/sandbox/conversations")
    assert status == 200, body
    assert body["conversations"] == []


def test_text_from_a_stranger_changes_nothing(runtime: LocalRuntime, page: Page) -> None:
    page.goto(runtime.base_url + "/simulator.html")
    expect(page.locator("#conversations-empty")).to_be_visible()

    page.get_by_label("New conversation").fill("+1 206 340 0199")
    page.get_by_role("button", name="Open", exact=True).click()
    expect(page).to_have_url(re.compile(r"\?phone=%2B12063400199$"))
    expect(page.locator("#status-badge")).to_have_attribute("data-status", "NONE")

    page.get_by_role("textbox", name="Reply").fill("YES")
    page.get_by_role("button", name="Send", exact=True).click()
    expect(page.locator(".bubble--inbound")).to_have_count(1)
    expect(page.locator("#conversation-list")).to_contain_text("+1 (206) 340-0199")
    expect(page.locator("#status-badge")).to_have_attribute("data-status", "NONE")
    assert runtime.contact(STRANGER_NUMBER) is None


def test_the_deployed_form_shows_no_simulator_link(page, tmp_path) -> None:
    """On AWS the pages are plain files behind CloudFront with no SMS sandbox: the simulator
    (not deployed) must not be offered. A static file server stands in for that origin."""
    import functools
    import http.server
    import threading

    from tests.support.runtime import REPO_ROOT

    handler = functools.partial(
        http.server.SimpleHTTPRequestHandler, directory=str(REPO_ROOT / "web")
    )
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.RequestHandlerClass.log_message = lambda *_args: None  # type: ignore[method-assign]
    thread = threading.Thread(target=server.serve_forever, kwargs=QUICK_SHUTDOWN, daemon=True)
    thread.start()
    try:
        page.goto(f"http://127.0.0.1:{server.server_address[1]}/")
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        # Give the sandbox probe its answer (a 404 here) before looking.
        page.wait_for_load_state("networkidle")
        expect(page.get_by_role("link", name="Phone simulator")).to_have_count(0)
        expect(page.locator("#simulator-link")).to_be_hidden()
    finally:
        server.shutdown()
