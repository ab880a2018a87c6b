"""The funnel's counting rules, histogram median and report, without a store."""

from __future__ import annotations

import random
import statistics
from datetime import UTC, date, datetime, timedelta

import pytest

from optin.domain.consent import ConsentEvent, EventType
from optin.domain.contact import Contact, Status
from optin.domain.funnel import (
    MAX_RANGE_DAYS,
    FunnelRange,
    bucket_middle,
    bucket_of,
    increments,
    median_seconds,
    report,
)

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def contact(last_sent_at: datetime | None = None) -> Contact:
    return Contact(
        phone_number="+12065550100",
        status=Status.PENDING,
        opted_in=False,
        registration_id="reg-1",
        created_at=NOW,
        updated_at=NOW,
        last_sent_at=last_sent_at,
    )


def test_only_the_first_confirmation_text_counts_as_texted() -> None:
    first = ConsentEvent(
        EventType.CONFIRMATION_SENT, NOW, "reg-1", {"dedupKey": "reg-1:confirmation"}
    )
    again = ConsentEvent(EventType.CONFIRMATION_SENT, NOW, "reg-1", {"dedupKey": "reg-1:resend:2"})
    assert increments(contact(), [first]) == {NOW.date(): {"texted": 1}}
    assert increments(contact(), [again]) == {}


def test_opt_out_counts_only_while_pending() -> None:
    pending = ConsentEvent(EventType.OPTED_OUT, NOW, "reg-1", {"previousStatus": "PENDING"})
    confirmed = ConsentEvent(EventType.OPTED_OUT, NOW, "reg-1", {"previousStatus": "CONFIRMED"})
    assert increments(contact(), [pending]) == {NOW.date(): {"optedOut": 1}}
    assert increments(contact(), [confirmed]) == {}


def test_events_count_on_their_utc_day_whatever_their_offset() -> None:
    from datetime import timezone

    late = datetime(2026, 11, 1, 20, 0, tzinfo=timezone(timedelta(hours=-8)))  # 11-02 04:00Z
    event = ConsentEvent(EventType.REQUESTED, late, "reg-1")
    assert increments(contact(), [event]) == {date(2026, 11, 2): {"signedUp": 1}}


def test_a_confirmation_records_its_wait_in_a_bucket() -> None:
    event = ConsentEvent(EventType.CONFIRMED, NOW, "reg-1")
    sent = NOW - timedelta(seconds=300)
    assert increments(contact(last_sent_at=sent), [event]) == {
        NOW.date(): {"confirmed": 1, f"ttc{bucket_of(300)}": 1}
    }
    # No text on record: confirmed, with no wait to record.
    assert increments(contact(), [event]) == {NOW.date(): {"confirmed": 1}}


@pytest.mark.parametrize("seconds", [0, 1, 7, 59, 60, 3600, 86_399, 2_592_000])
def test_bucket_middles_are_within_the_stated_error(seconds: float) -> None:
    middle = bucket_middle(bucket_of(seconds))
    assert abs((1 + middle) - (1 + seconds)) / (1 + seconds) <= 2 ** (1 / 16) - 1 + 1e-9


def test_the_histogram_median_is_near_the_exact_median() -> None:
    rng = random.Random(7)
    values = [rng.lognormvariate(5, 1.5) for _ in range(1001)]
    buckets: dict[int, int] = {}
    for value in values:
        buckets[bucket_of(value)] = buckets.get(bucket_of(value), 0) + 1
    estimate = median_seconds(buckets)
    exact = statistics.median(values)
    assert estimate is not None
    assert abs(estimate - exact) / exact < 0.05
    assert median_seconds({}) is None
    assert median_seconds({bucket_of(10): 1, bucket_of(1000): 1}) == pytest.approx(
        (bucket_middle(bucket_of(10)) + bucket_middle(bucket_of(1000))) / 2, abs=0.1
    )


def test_the_report_fills_missing_days_and_sums_the_range() -> None:
    span = FunnelRange.parse("2026-11-01", "2026-11-03")
    answer = report(
        span,
        {
            date(2026, 11, 1): {"signedUp": 3, "texted": 2, "confirmed": 1, "ttc40": 1},
            date(2026, 11, 3): {"signedUp": 1, "texted": 2, "confirmed": 2, "ttc60": 2},
        },
    )
    assert [day["date"] for day in answer["days"]] == ["2026-11-01", "2026-11-02", "2026-11-03"]
    assert answer["days"][1] == {
        "date": "2026-11-02",
        "signedUp": 0,
        "texted": 0,
        "confirmed": 0,
        "expired": 0,
        "optedOut": 0,
        "rejected": 0,
    }
    assert answer["totals"]["signedUp"] == 4 and answer["totals"]["confirmed"] == 3
    assert answer["confirmationRate"] == 0.75
    assert answer["medianSecondsToConfirm"] == round(bucket_middle(60), 1)
    empty = report(span, {})
    assert empty["confirmationRate"] is None and empty["medianSecondsToConfirm"] is None


@pytest.mark.parametrize(
    ("start", "end", "says"),
    [
        ("2026-11-02", "2026-11-01", "later"),
        ("2026-13-01", "2026-11-01", "dates like"),
        ("yesterday", "2026-11-01", "dates like"),
        ("2026-11-1", "2026-11-01", "dates like"),
        ("2024-01-01", "2025-01-01", f"at most {MAX_RANGE_DAYS}"),
    ],
)
def test_bad_ranges_are_refused_with_a_sentence(start: str, end: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        FunnelRange.parse(start, end)


def test_a_range_of_exactly_366_days_is_accepted() -> None:
    assert len(FunnelRange.parse("2024-01-01", "2024-12-31").days()) == MAX_RANGE_DAYS
