"""The send brakes end to end on the local runtime: the template's parameters, the real
Lambda workers, the ASL engine and the SMS sandbox."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.numbers import new_us_number
from tests.support.runtime import LocalRuntime, wait_for

# Each test starts a runtime of its own (seconds apiece; `-m "not slow"` skips them).
pytestmark = pytest.mark.slow


def status_of(rt: LocalRuntime, phone: str) -> str | None:
    contact = rt.contact(phone)
    return None if contact is None else str(contact["status"])


def test_signing_up_again_after_expiry_stops_at_the_daily_cap(tmp_path: Path) -> None:
    rt = LocalRuntime(
        tmp_path / "rt", {"ConfirmationWindowSeconds": "2", "MaxConfirmationTextsPerDay": "1"}
    ).start()
    try:
        phone = new_us_number()
        assert rt.signup(phone)[0] == 202
        wait_for(lambda: status_of(rt, phone) == "EXPIRED", what="expiry")
        assert len(rt.messages(phone, "outbound")) == 1

        status, answer = rt.signup(phone)
        assert status == 429, answer
        assert answer["error"]["code"] == "daily_cap"
        assert 86000 < answer["error"]["retryAfterSeconds"] <= 86400
        assert len(rt.messages(phone, "outbound")) == 1
        assert status_of(rt, phone) == "EXPIRED"
    finally:
        rt.stop()


def test_a_country_allowed_by_mistake_is_still_blocked_by_the_protect_configuration(
    tmp_path: Path,
) -> None:
    # On AWS the template's Rules refuse this deploy; locally it runs, and the sandbox
    # blocks the text as End User Messaging would.
    rt = LocalRuntime(tmp_path / "rt", {"AllowedCountries": "US,CA,GB"}).start()
    try:
        phone = "+447400123456"
        status, answer = rt.signup(phone)
        assert status == 202, answer
        wait_for(lambda: status_of(rt, phone) == "REJECTED", what="rejection")
        assert rt.messages(phone, "outbound") == []
        # The protect configuration refused it (the sandbox checks it before MaxPrice).
        assert "DESTINATION_COUNTRY_BLOCKED_BY_PROTECT_CONFIGURATION" in str(rt.contact(phone))
        # A US number on the same stack is texted.
        us = new_us_number()
        assert rt.signup(us)[0] == 202
        wait_for(lambda: len(rt.messages(us, "outbound")) == 1, what="the US text")
    finally:
        rt.stop()


def test_a_max_price_below_the_price_refuses_the_text(tmp_path: Path) -> None:
    rt = LocalRuntime(tmp_path / "rt", {"MaxPricePerMessage": "0.001"}).start()
    try:
        phone = new_us_number()
        assert rt.signup(phone)[0] == 202
        wait_for(lambda: status_of(rt, phone) == "REJECTED", what="rejection")
        assert rt.messages(phone, "outbound") == []
        assert "PRICE_OVER_THRESHOLD" in str(rt.contact(phone))
    finally:
        rt.stop()
