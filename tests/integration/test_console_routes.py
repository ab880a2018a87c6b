"""The console's read API through the runtime's front door, as the console's pages call it:
the template's authorizer runs first, so nothing answers without a signed-in user, and what a
viewer reads has every number masked while an agent's has them whole."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest

from tests.support.console import cookie_for, request
from tests.support.numbers import new_us_number
from tests.support.runtime import LocalRuntime, wait_for

SIGNUPS = "/console/api/signups"


@pytest.fixture(scope="module")
def rt(shared_runtime: LocalRuntime) -> LocalRuntime:
    return shared_runtime


def read(rt: LocalRuntime, path: str, headers: dict[str, str]) -> tuple[int, Any]:
    status, _, body = request(rt, "GET", path, headers=headers)
    return status, body


def test_no_console_route_answers_without_signing_in(rt: LocalRuntime) -> None:
    phone = new_us_number()
    assert rt.signup(phone)[0] == 202
    for path in (SIGNUPS, f"{SIGNUPS}?q={quote(phone)}", f"{SIGNUPS}/anything"):
        status, body = read(rt, path, {})
        assert status == 401, (path, body)
        assert phone not in str(body)
        status, body = read(rt, path, {"Cookie": "console_session=forged-token"})
        assert status == 401, (path, body)


def test_an_agent_finds_a_sign_up_by_number_as_typed_and_reads_its_page(rt: LocalRuntime) -> None:
    phone = new_us_number()  # +1NXXNXXXXXX
    status, signup = rt.signup(phone)
    assert status == 202
    agent = cookie_for(rt, "route-agent", "agent")
    typed = f"({phone[2:5]}) {phone[5:8]}-{phone[8:]}"

    def found() -> list[dict[str, Any]] | None:
        status, body = read(rt, f"{SIGNUPS}?q={quote(typed)}", agent)
        assert status == 200, body
        # The number is reserved before its execution starts: wait for the execution's ARN.
        items: list[dict[str, Any]] = body["items"]
        return items if items and items[0]["executionArn"] else None

    items = wait_for(found, what="the sign-up in the console's list")
    assert [item["phoneNumber"] for item in items] == [phone]
    registration = items[0]["registrationId"]
    assert registration == signup["registrationId"]

    status, page = read(rt, f"{SIGNUPS}/{registration}", agent)
    assert status == 200, page
    assert page["signup"]["phoneNumber"] == phone
    assert page["definition"]["StartAt"]
    assert page["execution"]["executionArn"] == items[0]["executionArn"]


def test_a_viewer_sees_the_same_sign_up_masked(rt: LocalRuntime) -> None:
    phone = new_us_number()
    assert rt.signup(phone)[0] == 202
    viewer = cookie_for(rt, "route-viewer", "viewer")

    def found() -> list[dict[str, Any]] | None:
        status, body = read(rt, f"{SIGNUPS}?q={quote(phone)}", viewer)
        assert status == 200, body
        return body["items"] or None

    items = wait_for(found, what="the sign-up in the console's list")
    assert items[0]["phoneNumber"] == f"{phone[:5]}***{phone[-4:]}"
    status, page = read(rt, f"{SIGNUPS}/{items[0]['registrationId']}", viewer)
    assert status == 200, page
    assert phone not in str(page)


def test_bad_parameters_are_4xx_with_a_code_for_a_signed_in_user(rt: LocalRuntime) -> None:
    agent = cookie_for(rt, "route-agent", "agent")
    for path, code in (
        (f"{SIGNUPS}?status=MAYBE", 400),
        (f"{SIGNUPS}?limit=0", 400),
        (f"{SIGNUPS}?cursor=not-a-cursor", 400),
        (f"{SIGNUPS}/no-such-registration", 404),
    ):
        status, body = read(rt, path, agent)
        assert status == code, (path, body)
        assert body["error"]["code"] and body["error"]["message"], body
