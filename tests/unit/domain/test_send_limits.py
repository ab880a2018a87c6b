"""The daily cap on confirmation texts, counted from the ledger."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from optin.domain.consent import ConsentEvent, EventType
from optin.domain.contact import Contact, Status
from optin.domain.send_limits import (
    DailyCapReached,
    check_daily_cap,
    confirmation_texts,
    ledger_reason,
)

NOW = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)


def sent(hours_ago: float, kind: EventType = EventType.CONFIRMATION_SENT) -> ConsentEvent:
    return ConsentEvent(kind, NOW - timedelta(hours=hours_ago), "reg")


def contact(**fields: object) -> Contact:
    return Contact(
        phone_number="+12065550100",
        status=Status.PENDING,
        opted_in=False,
        registration_id="reg",
        created_at=NOW - timedelta(days=3),
        updated_at=NOW,
        **fields,  # type: ignore[arg-type]
    )


def test_only_confirmation_texts_of_the_last_24_hours_count() -> None:
    events = [
        sent(25),  # out of the window
        sent(24),  # exactly 24 h ago: out
        sent(23.9),
        sent(1),
        sent(0.5, EventType.WELCOME_SENT),
        sent(0.4, EventType.RESEND_REQUESTED),
        sent(0.3, EventType.REPLY_SENT),
    ]
    times = confirmation_texts(events, None, now=NOW)
    assert times == [NOW - timedelta(hours=23.9), NOW - timedelta(hours=1)]


def test_a_reserved_send_not_yet_recorded_counts() -> None:
    reserved = contact(last_send_key="reg:resend:2", last_sent_at=NOW - timedelta(minutes=5))
    assert len(confirmation_texts([sent(2)], reserved, now=NOW)) == 2
    recorded = contact(
        last_send_key="reg:resend:2",
        last_message_id="m-2",
        last_sent_at=NOW - timedelta(minutes=5),
    )
    # Recorded: its confirmation_sent event is the one that counts, not the contact too.
    assert len(confirmation_texts([sent(2)], recorded, now=NOW)) == 1


def test_under_the_cap_passes() -> None:
    check_daily_cap([NOW - timedelta(hours=1)] * 2, now=NOW, cap=3)
    check_daily_cap([], now=NOW, cap=1)


def test_at_the_cap_says_when_one_more_fits() -> None:
    times = [NOW - timedelta(hours=h) for h in (20, 10, 1)]
    with pytest.raises(DailyCapReached) as caught:
        check_daily_cap(times, now=NOW, cap=3)
    error = caught.value
    # The oldest leaves the window in 4 hours.
    assert error.retry_after_seconds == 4 * 3600
    assert (error.code, error.sent, error.cap) == ("daily_cap", 3, 3)
    assert "3 confirmation texts" in error.message and "4 hours" in error.message
    assert ledger_reason(error).startswith("daily_cap: 3 confirmation texts")


def test_over_the_cap_waits_for_enough_texts_to_leave() -> None:
    # A lowered cap: 4 texts, cap 2: three must leave, the third oldest at 5 h ago.
    times = [NOW - timedelta(hours=h) for h in (23, 22, 5, 1)]
    with pytest.raises(DailyCapReached) as caught:
        check_daily_cap(times, now=NOW, cap=2)
    assert caught.value.retry_after_seconds == 19 * 3600


def test_a_wait_under_a_second_is_one_second() -> None:
    times = [NOW - timedelta(hours=24) + timedelta(milliseconds=10)]
    with pytest.raises(DailyCapReached) as caught:
        check_daily_cap(times, now=NOW, cap=1)
    assert caught.value.retry_after_seconds == 1
