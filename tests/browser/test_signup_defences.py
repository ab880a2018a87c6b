"""The sign-up form with the pumping defences on (the runtime's default; other browser tests
turn them off): the ALTCHA widget solves the server's challenge offline, under the page's
CSP (no 'unsafe-eval', no blob: workers), the sign-up goes through with the solution, and a
rate-limit refusal is said beside the submit button. axe finds nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.a11y import check_axe
from tests.browser.console_fixtures import csp_refusals
from tests.support.runtime import DEFENCES_ON, LocalRuntime

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def defended(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRuntime]:
    runtime = LocalRuntime(
        Path(tmp_path_factory.mktemp("defended")) / "rt",
        {**DEFENCES_ON, "RateLimitPerIp": "1,10", "CaptchaMaxNumber": "20000"},
    ).start()
    try:
        yield runtime
    finally:
        runtime.stop()


def fill(page: Page, typed: str) -> None:
    page.get_by_label("First name").fill("Ada")
    page.get_by_label("Mobile number").fill(typed)
    page.get_by_role("checkbox", name="By checking this box").check()


def test_the_widget_solves_the_challenge_and_the_limit_is_said_beside_the_button(
    defended: LocalRuntime, page: Page
) -> None:
    refused = csp_refusals(page)
    page.goto(defended.base_url + "/")
    widget = page.locator("altcha-widget")
    expect(widget).to_be_visible()
    # Solved on its own, on this machine, with no outside service.
    solution = page.locator('input[name="altcha"]')
    expect(solution).not_to_have_value("", timeout=20_000)
    fill(page, "(206) 340-0155")
    page.get_by_role("button", name="Text me a confirmation").click()
    expect(page.locator("#success")).to_be_visible()
    contact = defended.contact("+12063400155")
    assert contact is not None and contact["status"] == "PENDING"

    # A second sign-up from this address is over its limit (1 an hour here).
    page.get_by_role("button", name="Sign up another number").click()
    expect(solution).not_to_have_value("", timeout=20_000)
    fill(page, "(206) 340-0156")
    page.get_by_role("button", name="Text me a confirmation").click()
    beside = page.locator("#submit-error")
    expect(beside).to_contain_text("Too many sign-ups have come from your network")
    expect(beside).to_contain_text("try again in")
    expect(page.locator("#success")).to_be_hidden()
    assert defended.contact("+12063400156") is None
    check_axe(page, defended.base_url)
    assert refused == []


def test_without_a_solution_the_server_refuses_and_the_form_says_so(
    defended: LocalRuntime, page: Page
) -> None:
    page.route("**/signups/challenge", lambda route: route.abort())
    page.goto(defended.base_url + "/")
    expect(page.locator("#captcha-field")).to_be_hidden()
    fill(page, "(206) 340-0157")
    page.get_by_role("button", name="Text me a confirmation").click()
    expect(page.locator("#captcha-error")).to_contain_text("not a robot")
    assert defended.contact("+12063400157") is None
