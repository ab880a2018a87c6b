"""The public pages as a new user meets them (issue 7, item 7): whose program it is and its
privacy policy, errors beside their field, visible controls, the resend wait as a countdown,
and axe-core finding nothing on the form (empty, with errors, success, cooldown) or the phone
simulator. One runtime for the module, started with a program name and a privacy policy of
its own so the pages are seen to take them from the template's parameters."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.browser.a11y import backdrop, check_axe, contrast
from tests.support.runtime import LocalRuntime

pytestmark = pytest.mark.browser

PROGRAM = "Birch Bakery Alerts"
PRIVACY = "https://privacy.birch.example/policy"
NAME_RULE = re.compile(r"^Your first name can have letters, spaces, hyphens, apostrophes")


@pytest.fixture(scope="module")
def rt(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRuntime]:
    runtime = LocalRuntime(
        Path(tmp_path_factory.mktemp("public")) / "runtime",
        parameters={"ProgramName": PROGRAM, "PrivacyUrl": PRIVACY},
    )
    runtime.start()
    try:
        yield runtime
    finally:
        runtime.stop()


def open_form(page: Page, rt: LocalRuntime) -> None:
    page.goto(rt.base_url + "/")
    expect(page.locator("#disclosure-version")).to_contain_text("Terms version")


def describedby(field: Locator) -> list[str]:
    return (field.get_attribute("aria-describedby") or "").split()


def test_the_header_and_the_consent_box_name_the_program_and_link_its_privacy_policy(
    rt: LocalRuntime, page: Page
) -> None:
    open_form(page, rt)
    header = page.locator("header")
    expect(header.locator(".brand__name")).to_have_text(PROGRAM)
    expect(header).not_to_contain_text("SMS sign-up")
    expect(header.get_by_role("link", name="Privacy policy")).to_have_attribute("href", PRIVACY)
    beside = page.locator("#consent-box").get_by_role("link", name=re.compile("privacy policy"))
    expect(beside).to_have_attribute("href", PRIVACY)
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Get text alerts from {PROGRAM}")
    check_axe(page, rt.base_url)  # the empty form

    page.goto(rt.base_url + "/simulator.html")
    expect(page.locator("header .brand__name")).to_have_text(PROGRAM)
    expect(page.locator("header").get_by_role("link", name="Privacy policy")).to_have_attribute(
        "href", PRIVACY
    )
    check_axe(page, rt.base_url)  # the simulator, empty


def test_errors_found_in_the_page_sit_beside_their_field_and_the_first_takes_focus(
    rt: LocalRuntime, page: Page
) -> None:
    open_form(page, rt)
    first_name = page.get_by_label("First name")
    phone = page.get_by_label("Mobile number")
    consent = page.get_by_role("checkbox")
    page.get_by_role("button", name="Text me a confirmation").click()

    for field, error_id in (
        (first_name, "first-name-error"),
        (phone, "phone-error"),
        (consent, "consent-error"),
    ):
        expect(field).to_have_attribute("aria-invalid", "true")
        assert error_id in describedby(field)
        expect(page.locator(f"#{error_id}")).not_to_be_empty()
    expect(first_name).to_be_focused()
    # A screen reader reads the error as the field's description.
    expect(first_name).to_have_accessible_description("Enter your first name.")
    check_axe(page, rt.base_url)  # the form with errors

    # Fixed fields lose their mark; the focus goes to the first one still wrong.
    first_name.fill("Ada")
    page.get_by_role("button", name="Text me a confirmation").click()
    expect(first_name).not_to_have_attribute("aria-invalid", "true")
    expect(phone).to_be_focused()
    assert rt.messages("+12063400160") == []


def test_the_servers_errors_sit_beside_their_field_in_plain_words(
    rt: LocalRuntime, page: Page
) -> None:
    open_form(page, rt)
    first_name = page.get_by_label("First name")
    phone = page.get_by_label("Mobile number")
    submit = page.get_by_role("button", name="Text me a confirmation")
    page.get_by_role("checkbox").check()

    first_name.fill("R2-D2")
    phone.fill("(206) 340-0161")
    submit.click()
    error = page.locator("#first-name-error")
    expect(error).to_have_text(NAME_RULE)
    for jargon in ("firstName", "Value error", "422", "400", "regex"):
        expect(error).not_to_contain_text(jargon)
    expect(first_name).to_have_attribute("aria-invalid", "true")
    expect(first_name).to_be_focused()
    expect(page.locator("#form-error")).to_be_empty()
    check_axe(page, rt.base_url)

    first_name.fill("Ada")
    phone.fill("(206) 555-01")
    submit.click()
    expect(page.locator("#phone-error")).not_to_be_empty()
    expect(phone).to_have_attribute("aria-invalid", "true")
    expect(phone).to_be_focused()
    expect(first_name).not_to_have_attribute("aria-invalid", "true")
    assert rt.contact("+12063400161") is None


@pytest.mark.parametrize(
    ("name", "number"),
    [("J.R.", "+12063400162"), ("Mary-Ann O'Neil", "+12063400163"), ("Nguyễn", "+12063400164")],
)
def test_real_names_are_accepted(rt: LocalRuntime, page: Page, name: str, number: str) -> None:
    open_form(page, rt)
    page.get_by_label("First name").fill(name)
    page.get_by_label("Mobile number").fill(number)
    page.get_by_role("checkbox").check()
    page.get_by_role("button", name="Text me a confirmation").click()
    expect(page.locator("#success")).to_be_visible()
    expect(page.locator("#success-heading")).to_have_text("A text is on its way")
    check_axe(page, rt.base_url)  # the success panel
    contact = rt.contact(number)
    assert contact is not None and contact["firstName"] == name


def assert_control_contrast(page: Page, field: Locator, *, border: bool = True) -> None:
    around = backdrop(field)
    if border:
        colour = field.evaluate("e => getComputedStyle(e).borderTopColor")
        inside = field.evaluate("e => getComputedStyle(e).backgroundColor")
        assert contrast(colour, inside) >= 3, (colour, inside)
        assert contrast(colour, around) >= 3, (colour, around)
    field.focus()
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Tab")  # by keyboard, so :focus-visible applies
    expect(field).to_be_focused()
    ring = field.evaluate("e => getComputedStyle(e).outlineColor")
    style = field.evaluate("e => getComputedStyle(e).outlineStyle")
    assert style == "solid" and contrast(ring, around) >= 3, (ring, style, around)


def test_input_borders_and_focus_rings_stand_out_3_to_1(rt: LocalRuntime, page: Page) -> None:
    """WCAG 1.4.11, computed from the styles the browser applies."""
    open_form(page, rt)
    for selector in ("#first-name", "#phone-number"):
        assert_control_contrast(page, page.locator(selector))
    assert_control_contrast(page, page.locator("#consent"), border=False)
    assert_control_contrast(page, page.locator("#submit"), border=False)

    page.goto(rt.base_url + "/simulator.html?phone=%2B12063400165")
    expect(page.locator("#reply-body")).to_be_enabled()
    for selector in ("#new-number", "#reply-body"):
        assert_control_contrast(page, page.locator(selector))


def test_the_resend_wait_is_a_countdown_that_gives_the_button_back(
    rt: LocalRuntime, page: Page
) -> None:
    number, typed = "+12063400166", "(206) 340-0166"
    page.clock.install()
    open_form(page, rt)

    def sign_up() -> None:
        page.get_by_label("First name").fill("Ada")
        page.get_by_label("Mobile number").fill(typed)
        page.get_by_role("checkbox").check()
        page.get_by_role("button", name="Text me a confirmation").click()

    sign_up()
    expect(page.locator("#success")).to_be_visible()
    deadline = time.monotonic() + 15
    while not rt.messages(number, "outbound"):  # the text is out: the cooldown runs from it
        assert time.monotonic() < deadline, "no confirmation text"
        time.sleep(0.2)
    page.get_by_role("button", name="Sign up another number").click()
    sign_up()

    notice = page.locator("#cooldown")
    expect(notice).to_be_visible()
    expect(notice).to_contain_text("We texted +1 (206) 340-0166 a moment ago.")
    expect(page.locator("#cooldown-wait")).to_have_text(
        re.compile(r"^You can ask for another text in (0:[0-5]\d|1:00)\.$")
    )
    link = notice.get_by_role("link", name="See the text in the phone simulator")
    expect(link).to_have_attribute("href", "simulator.html?phone=%2B12063400166")
    expect(page.locator("#cooldown-where")).to_be_hidden()  # the AWS wording, not here
    # Not an error: nothing red, nothing marked invalid, nothing in the error box.
    expect(page.locator("#form-error")).to_be_empty()
    expect(page.locator("#phone-error")).to_be_empty()
    expect(page.get_by_label("Mobile number")).not_to_have_attribute("aria-invalid", "true")
    danger = page.evaluate(
        "() => getComputedStyle(document.documentElement).getPropertyValue('--danger').trim()"
    )
    assert danger and notice.evaluate("e => getComputedStyle(e).color") != "rgb(179, 38, 30)"
    expect(page.locator("#cooldown-status")).to_contain_text("You can ask for another text in")
    submit = page.locator("#submit")
    expect(submit).to_be_disabled()
    check_axe(page, rt.base_url)  # the cooldown

    first = page.locator("#cooldown-wait").inner_text()
    page.clock.run_for(2_000)
    expect(page.locator("#cooldown-wait")).not_to_have_text(first)  # it counts down

    page.clock.run_for(61_000)
    expect(page.locator("#cooldown-wait")).to_have_text("You can ask for another text now.")
    expect(page.locator("#cooldown-status")).to_have_text("You can ask for another text now.")
    expect(submit).to_be_enabled()
    assert len(rt.messages(number, "outbound")) == 1  # the refused resend sent nothing

    # Another number need not wait.
    page.get_by_label("Mobile number").fill("(206) 340-0167")
    expect(notice).to_be_hidden()


def test_the_wait_on_aws_says_to_check_the_phone(rt: LocalRuntime, page: Page) -> None:
    """Without the SMS sandbox (the deployed stack) there is no simulator to link to."""
    page.route(
        "**/sandbox/conversations",
        lambda route: route.fulfill(status=404, content_type="application/json", body="{}"),
    )
    page.route(
        "**/signups",
        lambda route: route.fulfill(
            status=429,
            content_type="application/json",
            headers={"Retry-After": "42"},
            body='{"error": {"code": "resend_cooldown", "message": "Please wait 42 seconds.",'
            ' "retryAfterSeconds": 42}}',
        ),
    )
    page.clock.install()
    open_form(page, rt)
    page.get_by_label("First name").fill("Ada")
    page.get_by_label("Mobile number").fill("(206) 340-0168")
    page.get_by_role("checkbox").check()
    page.get_by_role("button", name="Text me a confirmation").click()
    expect(page.locator("#cooldown-wait")).to_have_text("You can ask for another text in 0:42.")
    expect(page.locator("#cooldown-where")).to_have_text(re.compile("Check the messages"))
    expect(page.locator("#cooldown-local")).to_be_hidden()
    expect(page.get_by_role("link", name="Phone simulator")).to_have_count(0)


def test_the_simulator_passes_axe_with_a_conversation(rt: LocalRuntime, page: Page) -> None:
    number = "+12063400169"
    status, _ = rt.signup(number)
    assert status == 202
    page.goto(rt.base_url + f"/simulator.html?phone=%2B{number[1:]}")
    expect(page.locator(".bubble--outbound").first).to_contain_text(PROGRAM)
    expect(page.locator("#status-badge")).to_have_attribute("data-status", "PENDING")
    check_axe(page, rt.base_url)

    # Its own errors sit beside their field too.
    reply = page.get_by_role("textbox", name="Reply")
    page.get_by_role("button", name="Send", exact=True).click()
    expect(page.locator("#reply-error")).to_have_text("Type a message first.")
    expect(reply).to_have_attribute("aria-invalid", "true")
    expect(reply).to_have_accessible_description("Type a message first.")
    expect(reply).to_be_focused()
    check_axe(page, rt.base_url)
    reply.fill("Y")
    expect(reply).not_to_have_attribute("aria-invalid", "true")

    page.get_by_label("New conversation").fill("12")
    page.get_by_role("button", name="Open", exact=True).click()
    expect(page.get_by_label("New conversation")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("New conversation")).to_be_focused()
    check_axe(page, rt.base_url)
