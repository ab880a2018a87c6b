"""The console's reports through the runtime's front door: the daily funnel (counted by the
SQLite store in the sign-up's own transactions) and the CSV exports, behind the sign-in."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import pytest

from tests.support.console import cookie_for, request
from tests.support.numbers import new_us_number
from tests.support.runtime import LocalRuntime, wait_for

FUNNEL = "/console/api/funnel"
SIGNUPS = "/console/api/signups"


@pytest.fixture(scope="module")
def rt(shared_runtime: LocalRuntime) -> LocalRuntime:
    return shared_runtime


def days() -> str:
    today = datetime.now(UTC).date()
    return f"from={(today - timedelta(days=1)).isoformat()}&to={today.isoformat()}"


def test_nothing_answers_without_signing_in(rt: LocalRuntime) -> None:
    for path in (f"{FUNNEL}?{days()}", f"{SIGNUPS}?format=csv", f"{FUNNEL}?format=csv"):
        status, _, body = request(rt, "GET", path)
        assert status == 401, (path, body)


def test_a_sign_up_moves_the_funnel_and_a_viewer_exports_it_masked(rt: LocalRuntime) -> None:
    viewer = cookie_for(rt, "reports-viewer", "viewer")
    status, _, before = request(rt, "GET", f"{FUNNEL}?{days()}", headers=viewer)
    assert status == 200, before
    phone = new_us_number()
    assert rt.signup(phone)[0] == 202

    def moved() -> dict[str, Any] | None:
        status, _, body = request(rt, "GET", f"{FUNNEL}?{days()}", headers=viewer)
        assert status == 200, body
        totals = body["totals"]
        done = totals["texted"] > before["totals"]["texted"]
        return body if done and totals["signedUp"] > before["totals"]["signedUp"] else None

    after = wait_for(moved, what="the sign-up counted as signed up and texted")
    assert len(after["days"]) == 2 and set(after["days"][0]) == {
        "date",
        "signedUp",
        "texted",
        "confirmed",
        "expired",
        "optedOut",
        "rejected",
    }

    status, headers, text = request(
        rt, "GET", f"{SIGNUPS}?format=csv&q={quote(phone)}", headers=viewer
    )
    assert status == 200, text
    assert headers["content-type"].startswith("text/csv")
    assert headers["content-disposition"].startswith("attachment;")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows[0][:3] == ["registrationId", "phoneNumber", "status"]
    assert [row[1] for row in rows[1:]] == [f"'{phone[:5]}***{phone[-4:]}"]
    assert phone not in text

    status, headers, text = request(rt, "GET", f"{FUNNEL}?{days()}&format=csv", headers=viewer)
    assert status == 200 and headers["content-type"].startswith("text/csv"), text
    lines = list(csv.reader(io.StringIO(text, newline="")))
    assert lines[0][0] == "date" and lines[-1][0] == "total"
    assert int(lines[-1][1]) == after["totals"]["signedUp"]


def test_bad_report_parameters_are_400_with_a_code(rt: LocalRuntime) -> None:
    agent = cookie_for(rt, "reports-agent", "agent")
    for path, code in (
        (f"{FUNNEL}?from=2026-11-02&to=2026-11-01", "invalid_date_range"),
        (f"{FUNNEL}?from=2024-01-01&to=2025-12-31", "invalid_date_range"),
        (f"{FUNNEL}?from=2026-11-01", "invalid_date_range"),
        (f"{FUNNEL}?format=pdf", "invalid_format"),
        (f"{SIGNUPS}?format=csv&status=MAYBE", "invalid_status"),
        (f"{SIGNUPS}?sort=expiry", "unsupported_sort"),
        (f"{SIGNUPS}?status=PENDING&sort=soonest", "invalid_sort"),
    ):
        status, _, body = request(rt, "GET", path, headers=agent)
        assert status == 400, (path, body)
        assert body["error"]["code"] == code and body["error"]["message"], body
