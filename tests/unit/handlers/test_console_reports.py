"""GET /console/api/funnel, format=csv on the list and the funnel, and the expiry fields
(expiredAt, unansweredText) on the list's summaries."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest

from optin.domain import contact as t
from optin.domain.consent import ExpiryReason
from optin.domain.funnel import bucket_middle, bucket_of
from optin.handlers import console
from optin.usecases import console as console_usecases
from tests.unit.handlers.test_console import API, DONE, GONE, WEB, Seeder
from tests.unit.handlers.test_console import seeded as seeded

LATE = "+12065550144"


@pytest.fixture
def raw(load_event, lambda_context):
    def do(
        path: str = "/console/api/signups",
        params: dict[str, str] | None = None,
        *,
        role: str | None = "viewer",
    ) -> dict[str, Any]:
        event = load_event("apigw_console_list.json")
        event["path"] = path
        event["resource"] = path
        event["queryStringParameters"] = params
        event["multiValueQueryStringParameters"] = (
            {key: [value] for key, value in params.items()} if params else None
        )
        if role is None:
            event["requestContext"].pop("authorizer", None)
        else:
            event["requestContext"]["authorizer"] = {
                "principalId": "ana",
                "username": "ana",
                "role": role,
            }
        response: dict[str, Any] = console.handler(event, lambda_context)
        return response

    return do


def body_of(response: dict[str, Any]) -> Any:
    assert response["multiValueHeaders"]["Content-Type"] == ["application/json"]
    return json.loads(response["body"])


def rows_of(response: dict[str, Any]) -> list[list[str]]:
    assert response["statusCode"] == 200
    assert response["multiValueHeaders"]["Content-Type"] == ["text/csv; charset=utf-8"]
    assert response["multiValueHeaders"]["Content-Disposition"][0].startswith(
        'attachment; filename="'
    )
    return list(csv.reader(io.StringIO(response["body"], newline="")))


@pytest.fixture
def expired(seeded: Any) -> Any:
    """A fifth sign-up whose text went unanswered until it expired."""
    world = seeded
    seed: Seeder = world.seed
    contact = seed.signup(LATE, "reg-late")
    world.clock.advance(600)
    change = t.expire(
        contact, registration_id="reg-late", now=world.clock(), reason=ExpiryReason.NO_REPLY
    )
    seed.save(change)
    world.expired_at = world.clock()
    return world


# --- the funnel ----------------------------------------------------------------------------


def test_the_funnel_counts_the_seeded_day_for_a_viewer(expired: Any, raw: Any) -> None:
    response = raw("/console/api/funnel", {"from": "2026-10-31", "to": "2026-11-01"})
    assert response["statusCode"] == 200
    answer = body_of(response)
    assert [day["date"] for day in answer["days"]] == ["2026-10-31", "2026-11-01"]
    assert answer["days"][0]["signedUp"] == 0
    # WEB, API pending; DONE confirmed 120 s after its text; GONE STOP while pending; LATE
    # expired.
    assert answer["totals"] == {
        "signedUp": 5,
        "texted": 5,
        "confirmed": 1,
        "expired": 1,
        "optedOut": 1,
        "rejected": 0,
    }
    assert answer["confirmationRate"] == 0.2
    assert answer["medianSecondsToConfirm"] == round(bucket_middle(bucket_of(120)), 1)


def test_the_funnel_carries_the_attempts_blocked_in_its_period(seeded: Any, raw: Any) -> None:
    from datetime import date

    from tests.fakes.rate_limiter import MemoryRateLimiter

    limiter = MemoryRateLimiter()
    limiter.count_blocked("rate_limit_ip_hour", date(2026, 11, 1))
    limiter.count_blocked("rate_limit_ip_hour", date(2026, 11, 1))
    limiter.count_blocked("captcha_invalid", date(2026, 10, 31))
    limiter.count_blocked("captcha_invalid", date(2026, 10, 1))  # outside the period
    seeded.deps.limiter = limiter
    answer = body_of(raw("/console/api/funnel", {"from": "2026-10-31", "to": "2026-11-01"}))
    assert answer["blocked"] == {"captcha_invalid": 1, "rate_limit_ip_hour": 2}
    seeded.deps.limiter = None
    assert (
        body_of(raw("/console/api/funnel", {"from": "2026-10-31", "to": "2026-11-01"}))["blocked"]
        == {}
    )


def test_the_funnel_without_dates_is_the_last_30_days(expired: Any, raw: Any) -> None:
    answer = body_of(raw("/console/api/funnel", role="agent"))
    assert len(answer["days"]) == 30
    assert answer["days"][-1]["date"] == expired.clock().date().isoformat()
    assert answer["totals"]["signedUp"] == 5


@pytest.mark.parametrize(
    ("params", "says"),
    [
        ({"from": "2026-11-02", "to": "2026-11-01"}, "later"),
        ({"from": "2026-11-01"}, "both"),
        ({"to": "2026-11-01"}, "both"),
        ({"from": "2025-11-01", "to": "2026-11-02"}, "366"),
        ({"from": "1 Nov", "to": "2026-11-02"}, "dates like"),
        ({"from": "2026-11-01T00:00:00Z", "to": "2026-11-02"}, "dates like"),
    ],
)
def test_bad_funnel_ranges_get_a_400_with_a_sentence(
    seeded: Any,
    raw: Any,
    params: dict[str, str],
    says: str,
) -> None:
    response = raw("/console/api/funnel", params)
    assert response["statusCode"] == 400
    error = body_of(response)["error"]
    assert error["code"] == "invalid_date_range" and says in error["message"]


def test_the_funnel_needs_a_signed_in_console_user(seeded: Any, raw: Any) -> None:
    assert raw("/console/api/funnel", role=None)["statusCode"] == 401
    assert raw("/console/api/funnel", role="admin")["statusCode"] == 403


def test_the_funnel_as_csv(expired: Any, raw: Any) -> None:
    rows = rows_of(
        raw("/console/api/funnel", {"from": "2026-11-01", "to": "2026-11-01", "format": "csv"})
    )
    assert rows == [
        ["date", "signedUp", "texted", "confirmed", "expired", "optedOut", "rejected"],
        ["2026-11-01", "5", "5", "1", "1", "1", "0"],
        ["total", "5", "5", "1", "1", "1", "0"],
    ]


def test_an_unknown_format_is_a_400(seeded: Any, raw: Any) -> None:
    for path in ("/console/api/funnel", "/console/api/signups"):
        response = raw(path, {"format": "xlsx"})
        assert response["statusCode"] == 400
        assert body_of(response)["error"]["code"] == "invalid_format"


# --- expiry tracking -----------------------------------------------------------------------


def test_an_expired_sign_up_says_when_and_which_text_went_unanswered(
    expired: Any, raw: Any
) -> None:
    items = body_of(raw(params={"status": "EXPIRED"}, role="agent"))["items"]
    assert [item["phoneNumber"] for item in items] == [LATE]
    item = items[0]
    assert item["expiredAt"] == expired.expired_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    events = expired.store.events(LATE)
    sent = next(event for event in events if event.type == "confirmation_sent")
    assert item["unansweredText"] == {
        "at": sent.at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "body": sent.details["text"],
    }
    assert item["expiresAt"] is None
    # Every other status: both null.
    others = body_of(raw(role="agent"))["items"]
    for other in others:
        if other["status"] != "EXPIRED":
            assert other["expiredAt"] is None and other["unansweredText"] is None


SOON = "+12065550155"
LEGACY = "+12065550166"


def test_pending_sign_ups_soonest_to_expire_first(seeded: Any, raw: Any) -> None:
    world = seeded
    # WEB and API waited a day from minutes 0 and 1; SOON waits 10 min from now; LEGACY's
    # workflow did not give its window (an execution of an older definition): unknown, last.
    world.seed.signup(SOON, "reg-soon", window=600)
    world.seed.signup(LEGACY, "reg-legacy", window=None)
    # A resend moves WEB to the top of the newest-first list, not in the expiry order.
    world.clock.advance(60)
    web = world.store.get(WEB)
    resent, _ = t.reserve_resend(
        web, now=world.clock(), cooldown_seconds=0, max_sends=5, evidence={}
    )
    world.seed.save(resent)
    assert body_of(raw(params={"status": "PENDING"}))["items"][0]["phoneNumber"] == "+1206***0100"

    first = body_of(raw(params={"status": "PENDING", "sort": "expiry", "limit": "2"}))
    second = body_of(
        raw(params={"status": "PENDING", "sort": "expiry", "cursor": first["nextCursor"]})
    )
    assert second["nextCursor"] is None
    items = first["items"] + second["items"]
    assert [item["registrationId"] for item in items] == [
        "reg-soon",
        "reg-web",
        "reg-api",
        "reg-legacy",
    ]
    expiries = [item["expiresAt"] for item in items[:3]]
    assert expiries == sorted(expiries)
    assert items[0]["outcome"]["summary"] == "Waiting for a reply: 9 min left"
    # Outcome `waiting` is PENDING's: the same order without a status.
    waiting = body_of(raw(params={"outcome": "waiting", "sort": "expiry"}))["items"]
    assert [item["registrationId"] for item in waiting] == [i["registrationId"] for i in items]
    # The CSV of the same list keeps its order.
    rows = rows_of(raw(params={"status": "PENDING", "sort": "expiry", "format": "csv"}))
    assert [row[0] for row in rows[1:]] == [item["registrationId"] for item in items]


@pytest.mark.parametrize(
    ("params", "code", "says"),
    [
        ({"sort": "expiry"}, "unsupported_sort", "Only pending"),
        ({"status": "EXPIRED", "sort": "expiry"}, "unsupported_sort", "Only pending"),
        ({"outcome": "confirmed", "sort": "expiry"}, "unsupported_sort", "Only pending"),
        ({"status": "PENDING", "sort": "expiry", "from": "2026-11-01"}, "unsupported_sort", "from"),
        ({"status": "PENDING", "sort": "soonest"}, "invalid_sort", "newest or expiry"),
    ],
)
def test_an_expiry_order_the_store_cannot_give_is_refused_not_ignored(
    seeded: Any, raw: Any, params: dict[str, str], code: str, says: str
) -> None:
    response = raw(params=params)
    assert response["statusCode"] == 400
    error = body_of(response)["error"]
    assert error["code"] == code and says in error["message"]
    assert raw(params={"sort": "newest"})["statusCode"] == 200


def test_a_newest_first_cursor_does_not_page_the_expiry_order(seeded: Any, raw: Any) -> None:
    cursor = body_of(raw(params={"status": "PENDING", "limit": "1"}))["nextCursor"]
    response = raw(params={"status": "PENDING", "sort": "expiry", "cursor": cursor})
    assert response["statusCode"] == 400
    assert body_of(response)["error"]["code"] == "invalid_cursor"


# --- CSV export of the list -----------------------------------------------------------------


def test_the_list_as_csv_for_a_viewer_is_masked_and_complete(expired: Any, raw: Any) -> None:
    rows = rows_of(raw(params={"format": "csv", "limit": "1"}))
    header, data = rows[0], rows[1:]
    assert header == list(console_usecases.EXPORT_COLUMNS)
    # Every page (limit is the page size of the JSON list, not of the export).
    assert len(data) == 5
    numbers = [row[1] for row in data]
    assert numbers == ["'+1206***0144", "'+1206***0133", "'+1206***0122", "'+1206***0111",
                       "'+1206***0100"]  # fmt: skip
    body = raw(params={"format": "csv"})["body"]
    for whole in (WEB, API, DONE, GONE, LATE):
        assert whole not in body
    late = data[0]
    assert late[2] == "EXPIRED" and late[3] == "expired_no_reply"
    assert late[9] and late[10] and "Reply YES" in late[11]  # the text left unanswered


def test_the_list_as_csv_keeps_its_filters(expired: Any, raw: Any) -> None:
    rows = rows_of(raw(params={"format": "csv", "status": "PENDING"}, role="agent"))
    assert [row[1] for row in rows[1:]] == ["'" + API, "'" + WEB]


def test_the_export_stops_at_its_cap_and_says_so(
    expired: Any, raw: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(console_usecases, "EXPORT_CAP", 3)
    rows = rows_of(raw(params={"format": "csv"}, role="agent"))
    assert len(rows) == 1 + 3 + 1
    assert rows[-1][0].startswith("# The export stops at 3 rows")
    # Exactly at the cap with nothing more: no such line.
    monkeypatch.setattr(console_usecases, "EXPORT_CAP", 5)
    rows = rows_of(raw(params={"format": "csv"}, role="agent"))
    assert len(rows) == 1 + 5 and not rows[-1][0].startswith("#")


def test_a_filtered_export_stops_after_its_page_budget_and_says_so(
    expired: Any, raw: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Pages of one row, two contacts examined for each, one page allowed: the export stops
    # short, saying so.
    monkeypatch.setattr(console_usecases, "MAX_PAGE_SIZE", 1)
    monkeypatch.setattr(console_usecases, "MAX_EXAMINED", 2)
    monkeypatch.setattr(console_usecases, "FILTER_CHUNK", 2)
    monkeypatch.setattr(console_usecases, "EXPORT_MAX_PAGES", 1)
    rows = rows_of(raw(params={"format": "csv", "channel": "web"}, role="agent"))
    assert rows[-1][0].startswith("# The export stops after reading 1 pages")
    assert [row[1] for row in rows[1:-1]] == ["'" + LATE]  # the newest of four web sign-ups
    # With the budget back, every web sign-up and no such line.
    monkeypatch.setattr(console_usecases, "EXPORT_MAX_PAGES", 250)
    rows = rows_of(raw(params={"format": "csv", "channel": "web"}, role="agent"))
    assert len(rows) == 1 + 4 and not rows[-1][0].startswith("#")
