"""The outcome in words, one test per outcome, with ledgers made by the real transitions."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from optin.domain import contact as t
from optin.domain.consent import ConsentEvent
from optin.domain.contact import Contact, Status
from optin.domain.messages import confirmation
from optin.domain.outcome import (
    OUTCOME_STATUS,
    Outcome,
    OutcomeCode,
    describe,
    duration,
    expires_at,
    quoted,
)
from optin.domain.settings import Settings

NUMBER = "+12065550100"
T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
DAY = 86400


class Ledger:
    """A contact and its ledger, moved along by the domain's own transitions."""

    def __init__(self) -> None:
        self.contact: Contact | None = None
        self.events: list[ConsentEvent] = []

    def apply(self, change: t.Change) -> Ledger:
        self.contact = change.after
        self.events.extend(change.events)
        return self

    def signed_up(self, at: datetime = T0, registration_id: str = "r1") -> Ledger:
        return self.apply(
            t.request(
                self.contact,
                phone_number=NUMBER,
                registration_id=registration_id,
                first_name=None,
                execution_arn=f"arn:aws:states:us-east-1:1:execution:sm:{registration_id}",
                evidence={"channel": "web"},
                validation={},
                now=at,
            )
        )

    def texted(self, at: datetime, window: int | None = None, token: str = "tok") -> Ledger:
        assert self.contact is not None and self.contact.registration_id
        registration_id = self.contact.registration_id
        change, key = t.attach_task_token(
            self.contact,
            registration_id=registration_id,
            task_token=token,
            now=at,
            window_seconds=window,
        )
        self.apply(change)
        return self.apply(
            t.record_send(
                self.contact,
                registration_id=registration_id,
                dedup_key=key,
                message=confirmation(Settings(), None),
                message_id=f"m-{len(self.events)}",
                now=at,
            )
        )

    def replied_yes(self, reply: str, at: datetime) -> Ledger:
        assert self.contact is not None and self.contact.registration_id
        return self.apply(
            t.confirm(
                self.contact,
                registration_id=self.contact.registration_id,
                reply={"reply": reply, "inboundMessageId": "in-1", "receivedAt": at.isoformat()},
                now=at,
            )
        )

    def stopped(self, at: datetime, reply: str = "STOP", **details: object) -> Ledger:
        details = {"reply": reply, "source": "reply", **details} if reply else dict(details)
        return self.apply(t.opt_out(self.contact, details=details, now=at))

    def expired(self, at: datetime, **details: object) -> Ledger:
        """The expiry as the outcomes part writes it: with a reason (or, older, without)."""
        assert self.contact is not None and self.contact.registration_id
        change = t.expire(self.contact, registration_id=self.contact.registration_id, now=at)
        if details:
            change = replace(
                change,
                events=tuple(
                    replace(event, details={**event.details, **details}) for event in change.events
                ),
            )
        return self.apply(change)

    def describe(self, now: datetime, window: int | None = None) -> Outcome:
        assert self.contact is not None
        return describe(self.contact, self.events, now=now, window_seconds=window)


def test_confirmed_by_reply_minutes_after_the_text() -> None:
    ledger = Ledger().signed_up().texted(T0 + timedelta(seconds=5))
    ledger.replied_yes("yes!", T0 + timedelta(minutes=2, seconds=5))
    outcome = ledger.describe(T0 + timedelta(days=1))
    assert outcome == Outcome(
        OutcomeCode.CONFIRMED, "Confirmed by reply 'yes!' 2 min after the text"
    )
    assert outcome.as_dict() == {
        "code": "confirmed",
        "summary": "Confirmed by reply 'yes!' 2 min after the text",
    }


def test_the_time_is_from_the_latest_text_before_the_reply() -> None:
    ledger = Ledger().signed_up().texted(T0)
    resend, key = t.reserve_resend(
        ledger.contact,
        now=T0 + timedelta(hours=3),
        cooldown_seconds=60,
        max_sends=3,
        evidence={},
    )
    ledger.apply(resend)
    ledger.apply(
        t.record_send(
            ledger.contact,
            registration_id="r1",
            dedup_key=key,
            message=confirmation(Settings(), None),
            message_id="m-2",
            now=T0 + timedelta(hours=3),
        )
    )
    ledger.replied_yes("Y", T0 + timedelta(hours=3, seconds=40))
    assert ledger.describe(T0).summary == "Confirmed by reply 'Y' 40 s after the text"


def test_a_long_reply_is_quoted_as_received_and_cut() -> None:
    reply = "YES   please sign me up, I have wanted these alerts for a very long time"
    ledger = Ledger().signed_up().texted(T0).replied_yes(reply, T0 + timedelta(minutes=1))
    summary = ledger.describe(T0).summary
    assert summary.startswith("Confirmed by reply 'YES please sign me up, I have wanted")
    assert "…'" in summary and "long time" not in summary
    assert quoted("a\nb") == "'a b'" and quoted(None) == "''"


def test_expired_no_reply_in_the_window_the_ledger_shows() -> None:
    ledger = Ledger().signed_up().texted(T0 + timedelta(seconds=2))
    ledger.expired(T0 + timedelta(seconds=2 + DAY))  # no reason: an older event
    assert ledger.describe(T0 + timedelta(days=2)) == Outcome(
        OutcomeCode.EXPIRED_NO_REPLY, "Expired: no reply in 24 h"
    )
    with_reason = (
        Ledger().signed_up().texted(T0).expired(T0 + timedelta(minutes=2), reason="no_reply")
    )
    assert with_reason.describe(T0).summary == "Expired: no reply in 2 min"


def test_expired_without_a_text_on_record_uses_the_configured_window() -> None:
    ledger = Ledger().signed_up().expired(T0 + timedelta(days=1), reason="no_reply")
    assert ledger.describe(T0, window=DAY).summary == "Expired: no reply in 24 h"
    assert ledger.describe(T0).summary == "Expired: no reply"


def test_expired_after_several_texts_says_how_many() -> None:
    ledger = Ledger().signed_up().texted(T0)
    assert ledger.contact is not None
    ledger.contact = replace(ledger.contact, send_count=3)
    ledger.expired(T0 + timedelta(days=1))
    assert ledger.describe(T0).summary == "Expired: no reply in 24 h (3 texts sent)"


def test_expired_because_the_workflow_failed() -> None:
    ledger = Ledger().signed_up().texted(T0)
    ledger.expired(
        T0 + timedelta(minutes=1),
        reason="workflow_failed",
        error="States.Timeout",
        cause="Lambda timed out",
        state="SendConfirmation",
    )
    assert ledger.describe(T0) == Outcome(
        OutcomeCode.EXPIRED_WORKFLOW_FAILED,
        "Expired: the workflow failed at SendConfirmation (States.Timeout)",
    )
    bare = Ledger().signed_up().expired(T0, reason="workflow_failed")
    assert bare.describe(T0).summary == "Expired: the workflow failed (an error)"


def test_expired_because_its_execution_ended() -> None:
    ledger = Ledger().signed_up().texted(T0)
    ledger.expired(T0 + timedelta(hours=1), reason="execution_ended", executionStatus="ABORTED")
    assert ledger.describe(T0) == Outcome(
        OutcomeCode.EXPIRED_EXECUTION_ENDED, "Expired: its execution ended (ABORTED)"
    )


def test_an_expiry_reason_this_code_does_not_know_is_said_as_recorded() -> None:
    ledger = (
        Ledger().signed_up().texted(T0).expired(T0 + timedelta(hours=1), reason="quota_reached")
    )
    assert ledger.describe(T0) == Outcome(OutcomeCode.EXPIRED_OTHER, "Expired: quota reached")


@pytest.mark.parametrize(
    ("reason", "code", "summary"),
    [
        ("agent_cancelled", OutcomeCode.AGENT_CANCELLED, "Cancelled by ana: asked by phone"),
        ("agent_expired", OutcomeCode.AGENT_EXPIRED, "Expired by ana: asked by phone"),
    ],
)
def test_cancelled_or_expired_by_an_agent_names_who_and_why(
    reason: str, code: OutcomeCode, summary: str
) -> None:
    ledger = Ledger().signed_up().texted(T0)
    ledger.expired(
        T0 + timedelta(hours=1), reason=reason, by="ana", why="asked  by\nphone", source="console"
    )
    assert ledger.describe(T0) == Outcome(code, summary)
    assert OUTCOME_STATUS[code] == Status.EXPIRED


def test_an_agent_s_long_reason_is_cut_and_a_missing_one_left_out() -> None:
    long = Ledger().signed_up().texted(T0)
    long.expired(T0, reason="agent_expired", by="ana", why="w" * 500)
    summary = long.describe(T0).summary
    assert summary.startswith("Expired by ana: www") and summary.endswith("…")
    assert len(summary) == len("Expired by ana: ") + 120
    bare = Ledger().signed_up().texted(T0).expired(T0, reason="agent_cancelled")
    assert bare.describe(T0).summary == "Cancelled by an agent"


def test_cancelled_by_stop_while_pending() -> None:
    ledger = Ledger().signed_up().texted(T0).stopped(T0 + timedelta(minutes=3))
    assert ledger.describe(T0) == Outcome(OutcomeCode.CANCELLED, "Cancelled: STOP while pending")
    other = Ledger().signed_up().texted(T0).stopped(T0, reply="stop texting me")
    assert other.describe(T0).summary == "Cancelled: reply 'stop texting me' while pending"
    listed = Ledger().signed_up().stopped(T0, reply="", source="sms-opt-out-list")
    assert listed.describe(T0).summary == (
        "Cancelled while pending: on the SMS service's opt-out list"
    )


def test_opted_out_by_stop_days_after_confirming() -> None:
    ledger = Ledger().signed_up().texted(T0).replied_yes("YES", T0 + timedelta(minutes=1))
    ledger.stopped(T0 + timedelta(days=3, minutes=1))
    assert ledger.describe(T0) == Outcome(
        OutcomeCode.OPTED_OUT, "Opted out by STOP 3 days after confirming"
    )


def test_opted_out_after_the_sign_up_had_ended() -> None:
    ledger = Ledger().signed_up().texted(T0).expired(T0 + timedelta(days=1))
    ledger.stopped(T0 + timedelta(days=2), reply="Stop")
    assert ledger.describe(T0).summary == "Opted out by reply 'Stop' after the sign-up expired"
    agent = Ledger().signed_up().texted(T0).replied_yes("yes", T0)
    agent.stopped(T0 + timedelta(hours=5), reply="", source="console", by="bo", why="by phone")
    assert agent.describe(T0) == Outcome(OutcomeCode.OPTED_OUT, "Opted out by bo: by phone")
    pending = Ledger().signed_up().texted(T0)
    pending.stopped(T0, reply="", source="console", by="bo", why="by phone")
    assert pending.describe(T0) == Outcome(
        OutcomeCode.CANCELLED, "Opted out while pending by bo: by phone"
    )


def test_resubscribed_by_start() -> None:
    ledger = Ledger().signed_up().texted(T0).stopped(T0 + timedelta(minutes=1))
    ledger.apply(
        t.resubscribe(ledger.contact, details={"reply": "START"}, now=T0 + timedelta(days=1))
    )
    assert ledger.describe(T0) == Outcome(OutcomeCode.RESUBSCRIBED, "Resubscribed by reply 'START'")


@pytest.mark.parametrize(
    ("reason", "summary"),
    [
        (
            "That number is a landline, which can't receive text messages. Enter a mobile number.",
            "Rejected: landline",
        ),
        (
            "That number is not in service. Check it and enter a mobile number.",
            "Rejected: not in service",
        ),
        (
            "That is a toll-free number, which can't receive text messages. Enter a mobile number.",
            "Rejected: That is a toll-free number, which can't receive text messages",
        ),
        (
            "DESTINATION_PHONE_NUMBER_NOT_VERIFIED",
            "Rejected: DESTINATION_PHONE_NUMBER_NOT_VERIFIED",
        ),
    ],
)
def test_rejected_says_why_in_short(reason: str, summary: str) -> None:
    ledger = Ledger().signed_up()
    ledger.apply(t.reject(ledger.contact, registration_id="r1", reason=reason, now=T0))
    assert ledger.describe(T0) == Outcome(OutcomeCode.REJECTED, summary)


def test_waiting_for_a_reply_with_the_time_left() -> None:
    ledger = Ledger().signed_up().texted(T0)
    assert ledger.describe(T0 + timedelta(hours=1), window=DAY) == Outcome(
        OutcomeCode.WAITING, "Waiting for a reply: 23 h left"
    )
    assert expires_at(ledger.contact, ledger.events, DAY) == T0 + timedelta(days=1)  # type: ignore[arg-type]
    assert ledger.describe(T0 + timedelta(minutes=5)).summary == (
        "Waiting for a reply: texted 5 min ago"
    )
    late = ledger.describe(T0 + timedelta(days=1, minutes=10), window=DAY).summary
    assert late == ("Waiting for a reply: the window closed 10 min ago and it has not expired yet")


def test_the_stored_expiry_is_what_the_time_left_and_expires_at_read() -> None:
    # The wait started with a 2 h window; the console believes 24 h (a later deploy): the
    # contact's own expiry wins, and a resend does not move it.
    ledger = Ledger().signed_up().texted(T0, window=7200)
    assert ledger.contact is not None and ledger.contact.expires_at == T0 + timedelta(hours=2)
    assert expires_at(ledger.contact, ledger.events, DAY) == T0 + timedelta(hours=2)
    assert ledger.describe(T0 + timedelta(hours=1), window=DAY).summary == (
        "Waiting for a reply: 1 h left"
    )
    resent, _ = t.reserve_resend(
        ledger.contact,
        now=T0 + timedelta(minutes=30),
        cooldown_seconds=60,
        max_sends=3,
        evidence={},
    )
    ledger.apply(resent)
    assert expires_at(ledger.contact, ledger.events, DAY) == T0 + timedelta(hours=2)
    # A retried task (a new token) is a new wait with its own timeout.
    ledger.texted(T0 + timedelta(hours=1), window=7200, token="tok-2")
    assert expires_at(ledger.contact, ledger.events, None) == T0 + timedelta(hours=3)
    # Leaving PENDING clears it.
    ledger.expired(T0 + timedelta(hours=3))
    assert ledger.contact is not None and ledger.contact.expires_at is None


def test_waiting_before_the_text_went_out() -> None:
    ledger = Ledger().signed_up()
    assert ledger.describe(T0, window=DAY).summary == "Waiting for the confirmation text to go out"
    assert expires_at(ledger.contact, ledger.events, DAY) is None  # type: ignore[arg-type]


def test_expiry_time_only_for_pending_and_only_for_the_current_registration() -> None:
    ledger = Ledger().signed_up().texted(T0).expired(T0 + timedelta(days=1))
    assert ledger.contact is not None
    assert expires_at(ledger.contact, ledger.events, DAY) is None
    ledger.signed_up(T0 + timedelta(days=2), registration_id="r2")
    assert expires_at(ledger.contact, ledger.events, DAY) is None  # r2 has no text yet
    ledger.texted(T0 + timedelta(days=2, seconds=1))
    assert expires_at(ledger.contact, ledger.events, DAY) == T0 + timedelta(days=3, seconds=1)


def test_a_status_with_no_event_on_record_still_has_an_outcome() -> None:
    bare = Contact(NUMBER, Status.CONFIRMED, True, "r1", T0, T0)
    assert describe(bare, [], now=T0) == Outcome(OutcomeCode.CONFIRMED, "Confirmed")


def test_every_outcome_belongs_to_one_status() -> None:
    assert set(OUTCOME_STATUS) == set(OutcomeCode)
    assert set(OUTCOME_STATUS.values()) == set(Status)


@pytest.mark.parametrize(
    ("seconds", "words"),
    [
        (0, "0 s"),
        (59, "59 s"),
        (90, "2 min"),
        (3599, "1 h"),
        (5400, "2 h"),
        (DAY, "24 h"),
        (2 * DAY - 1000, "2 days"),
        (3 * DAY, "3 days"),
    ],
)
def test_durations_read_as_a_person_says_them(seconds: int, words: str) -> None:
    assert duration(timedelta(seconds=seconds)) == words
