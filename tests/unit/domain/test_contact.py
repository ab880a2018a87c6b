"""Contact transitions, pure: no store, no mocks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from optin.domain import contact as t
from optin.domain.consent import EventType, ExpiryReason
from optin.domain.contact import Status
from optin.domain.errors import (
    AlreadyRegistered,
    ContactNotFound,
    OptedOut,
    RegistrationSuperseded,
    ResendCooldown,
    ResendLimit,
)
from optin.domain.messages import confirmation
from optin.domain.settings import Settings

NUMBER = "+12065550100"
NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def requested(registration_id: str = "r1", current: t.Contact | None = None) -> t.Contact:
    change = t.request(
        current,
        phone_number=NUMBER,
        registration_id=registration_id,
        first_name="Ana",
        execution_arn="arn",
        evidence={"ip": "1"},
        validation={},
        now=NOW,
    )
    assert change.after is not None
    return change.after


def sent(contact: t.Contact, token: str = "tok") -> t.Contact:
    change, key = t.attach_task_token(
        contact, registration_id=contact.registration_id, task_token=token, now=NOW
    )
    after = change.after
    recorded = t.record_send(
        after,
        registration_id=after.registration_id,
        dedup_key=key,
        message=confirmation(Settings()),
        message_id="m1",
        now=NOW,
    )
    return recorded.after


def test_request_creates_pending_opted_out_with_a_requested_event() -> None:
    change = t.request(
        None,
        phone_number=NUMBER,
        registration_id="r1",
        first_name=None,
        execution_arn=None,
        evidence={"ip": "1"},
        validation={"e164": NUMBER},
        now=NOW,
    )
    assert change.changed and change.after.status == Status.PENDING
    assert change.after.opted_in is False and change.after.version == 1
    [event] = change.events
    assert event.type == EventType.REQUESTED and event.details["evidence"] == {"ip": "1"}


def test_request_rules() -> None:
    pending = requested()
    assert not t.request(
        pending,
        phone_number=NUMBER,
        registration_id="r1",
        first_name=None,
        execution_arn=None,
        evidence={},
        validation={},
        now=NOW,
    ).changed
    with pytest.raises(AlreadyRegistered):
        requested("r2", pending)
    confirmed = t.confirm(sent(pending), registration_id="r1", reply={}, now=NOW).after
    with pytest.raises(AlreadyRegistered):
        requested("r2", confirmed)
    for finished in (
        t.expire(pending, registration_id="r1", now=NOW).after,
        t.opt_out(pending, details={}, now=NOW).after,
        t.reject(pending, registration_id="r1", reason="x", now=NOW).after,
    ):
        again = requested("r2", finished)
        assert again.status == Status.PENDING and again.registration_id == "r2"
        assert again.version == finished.version + 1
        assert again.created_at == finished.created_at


def test_attach_task_token_reserves_the_first_send_once() -> None:
    contact = requested()
    change, key = t.attach_task_token(contact, registration_id="r1", task_token="a", now=NOW)
    assert key == "r1:confirmation"
    assert change.after.send_count == 1 and change.after.task_token == "a"
    retry, _ = t.attach_task_token(change.after, registration_id="r1", task_token="b", now=NOW)
    assert retry.after.send_count == 1 and retry.after.task_token == "b"
    same, _ = t.attach_task_token(retry.after, registration_id="r1", task_token="b", now=NOW)
    assert not same.changed


def test_attach_task_token_refusals() -> None:
    with pytest.raises(ContactNotFound):
        t.attach_task_token(None, registration_id="r1", task_token="a", now=NOW)
    pending = requested()
    with pytest.raises(RegistrationSuperseded):
        t.attach_task_token(pending, registration_id="other", task_token="a", now=NOW)
    with pytest.raises(OptedOut):
        t.attach_task_token(
            t.opt_out(pending, details={}, now=NOW).after,
            registration_id="r1",
            task_token="a",
            now=NOW,
        )
    with pytest.raises(RegistrationSuperseded):
        t.attach_task_token(
            t.expire(pending, registration_id="r1", now=NOW).after,
            registration_id="r1",
            task_token="a",
            now=NOW,
        )


def test_record_send_is_idempotent() -> None:
    contact = sent(requested())
    again = t.record_send(
        contact,
        registration_id="r1",
        dedup_key="r1:confirmation",
        message=confirmation(Settings()),
        message_id="m1",
        now=NOW,
    )
    assert not again.changed


def test_resend_policy_on_the_contact() -> None:
    contact = sent(requested())
    with pytest.raises(ResendCooldown):
        t.reserve_resend(
            contact, now=NOW + timedelta(seconds=10), cooldown_seconds=60, max_sends=3, evidence={}
        )
    change, key = t.reserve_resend(
        contact, now=NOW + timedelta(seconds=60), cooldown_seconds=60, max_sends=3, evidence={}
    )
    assert key == "r1:resend:2" and change.after.send_count == 2
    assert change.events[0].type == EventType.RESEND_REQUESTED
    with pytest.raises(ResendLimit):
        t.reserve_resend(
            change.after, now=NOW + timedelta(hours=1), cooldown_seconds=0, max_sends=2, evidence={}
        )
    with pytest.raises(RegistrationSuperseded):
        t.reserve_resend(None, now=NOW, cooldown_seconds=0, max_sends=3, evidence={})


def test_confirm_only_pending_of_this_registration() -> None:
    contact = sent(requested())
    change = t.confirm(contact, registration_id="r1", reply={"reply": "YES"}, now=NOW)
    assert change.after.status == Status.CONFIRMED and change.after.opted_in
    assert change.after.task_token is None
    assert change.events[0].details["reply"] == "YES"
    assert not t.confirm(change.after, registration_id="r1", reply={}, now=NOW).changed
    assert not t.confirm(contact, registration_id="r2", reply={}, now=NOW).changed
    stopped = t.opt_out(contact, details={}, now=NOW).after
    assert not t.confirm(stopped, registration_id="r1", reply={}, now=NOW).changed


def test_opt_out_from_any_status_keeps_the_token_in_before() -> None:
    contact = sent(requested())
    change = t.opt_out(contact, details={"reply": "STOP"}, now=NOW)
    assert change.before.task_token == "tok" and change.after.task_token is None
    assert change.after.status == Status.OPTED_OUT and not change.after.opted_in
    assert change.events[0].details["previousStatus"] == "PENDING"
    assert not t.opt_out(change.after, details={}, now=NOW).changed
    assert not t.opt_out(None, details={}, now=NOW).changed
    confirmed = t.confirm(contact, registration_id="r1", reply={}, now=NOW).after
    assert t.opt_out(confirmed, details={}, now=NOW).after.status == Status.OPTED_OUT


def test_resubscribe_only_from_opted_out() -> None:
    contact = sent(requested())
    assert not t.resubscribe(contact, details={}, now=NOW).changed
    stopped = t.opt_out(contact, details={}, now=NOW).after
    back = t.resubscribe(stopped, details={"reply": "START"}, now=NOW)
    assert back.after.status == Status.CONFIRMED and back.after.opted_in
    assert back.events[0].type == EventType.RESUBSCRIBED


def test_clarify_once_per_registration() -> None:
    contact = sent(requested())
    first = t.mark_clarified(contact, now=NOW)
    assert first.changed
    assert not t.mark_clarified(first.after, now=NOW).changed


def test_welcome_recorded_once() -> None:
    confirmed = t.confirm(sent(requested()), registration_id="r1", reply={}, now=NOW).after
    first = t.record_welcome(
        confirmed, registration_id="r1", message=confirmation(Settings()), message_id="w", now=NOW
    )
    assert first.changed and first.events[0].type == EventType.WELCOME_SENT
    assert not t.record_welcome(
        first.after, registration_id="r1", message=confirmation(Settings()), message_id="w", now=NOW
    ).changed


def test_every_change_bumps_the_version_once() -> None:
    contact = requested()
    for change in (
        t.attach_task_token(contact, registration_id="r1", task_token="x", now=NOW)[0],
        t.expire(contact, registration_id="r1", now=NOW),
        t.opt_out(contact, details={}, now=NOW),
        t.reject(contact, registration_id="r1", reason="x", now=NOW),
    ):
        assert change.after.version == contact.version + 1


# -- expiry reasons --------------------------------------------------------------------


def test_the_window_passing_is_recorded_as_no_reply() -> None:
    change = t.expire(sent(requested()), registration_id="r1", now=NOW)
    assert change.status == Status.EXPIRED and change.after.opted_in is False
    (event,) = change.events
    assert event.type == EventType.EXPIRED
    assert event.details == {
        "sendCount": 1,
        "lastSentAt": "2026-11-01T12:00:00.000000Z",
        "reason": "no_reply",
    }


@pytest.mark.parametrize(
    ("reason", "details"),
    [
        (
            ExpiryReason.WORKFLOW_FAILED,
            {"error": "States.TaskFailed", "cause": "boom", "state": "SendConfirmation"},
        ),
        (ExpiryReason.EXECUTION_ENDED, {"executionStatus": "ABORTED", "error": "TaskTimedOut"}),
    ],
)
def test_other_reasons_carry_their_details(reason: ExpiryReason, details: dict) -> None:
    change = t.expire(
        sent(requested()), registration_id="r1", now=NOW, reason=reason, details=details
    )
    assert change.status == Status.EXPIRED and change.after.task_token is None
    (event,) = change.events
    assert event.details == {
        "sendCount": 1,
        "lastSentAt": "2026-11-01T12:00:00.000000Z",
        **details,
        "reason": str(reason),
    }


def test_details_cannot_overwrite_the_reason() -> None:
    change = t.expire(
        requested(),
        registration_id="r1",
        now=NOW,
        reason=ExpiryReason.WORKFLOW_FAILED,
        details={"reason": "no_reply"},
    )
    assert change.events[0].details["reason"] == "workflow_failed"


@pytest.mark.parametrize("reason", list(ExpiryReason))
def test_no_reason_touches_a_contact_that_moved_on(reason: ExpiryReason) -> None:
    pending = requested()
    confirmed = t.confirm(pending, registration_id="r1", reply={}, now=NOW).after
    opted_out = t.opt_out(pending, details={}, now=NOW).after
    rejected = t.reject(pending, registration_id="r1", reason="x", now=NOW).after
    newer = requested("r2", t.expire(pending, registration_id="r1", now=NOW).after)
    for contact in (confirmed, opted_out, rejected, newer, None):
        change = t.expire(contact, registration_id="r1", now=NOW, reason=reason)
        assert not change.changed and change.events == ()


def waiting(window: int | None = 3600, token: str = "tok") -> t.Contact:
    change, _ = t.attach_task_token(
        requested(), registration_id="r1", task_token=token, now=NOW, window_seconds=window
    )
    assert change.after is not None
    return change.after


def test_a_wait_sets_the_expiry_once_per_token() -> None:
    assert requested().expires_at is None  # no wait yet
    contact = waiting()
    assert contact.expires_at == NOW + timedelta(hours=1)
    # The same token again (a Lambda retry of the same attempt): the same wait.
    again, _ = t.attach_task_token(
        contact,
        registration_id="r1",
        task_token="tok",
        now=NOW + timedelta(minutes=5),
        window_seconds=3600,
    )
    assert again.after is not None and again.after.expires_at == NOW + timedelta(hours=1)
    # A new token (Step Functions retried the task): a new wait, timed afresh.
    retried, _ = t.attach_task_token(
        contact,
        registration_id="r1",
        task_token="tok-2",
        now=NOW + timedelta(minutes=5),
        window_seconds=3600,
    )
    assert retried.after is not None
    assert retried.after.expires_at == NOW + timedelta(hours=1, minutes=5)
    # A workflow that does not say its window: unknown, not a stale value.
    unknown, _ = t.attach_task_token(
        contact, registration_id="r1", task_token="tok-3", now=NOW, window_seconds=None
    )
    assert unknown.after is not None and unknown.after.expires_at is None


@pytest.mark.parametrize(
    "leave",
    [
        lambda c: t.confirm(c, registration_id="r1", reply={"reply": "YES"}, now=NOW),
        lambda c: t.expire(c, registration_id="r1", now=NOW),
        lambda c: t.opt_out(c, details={"reply": "STOP"}, now=NOW),
        lambda c: t.reject(c, registration_id="r1", reason="refused", now=NOW),
    ],
    ids=["confirm", "expire", "opt_out", "reject"],
)
def test_leaving_pending_clears_the_expiry(leave: object) -> None:
    contact = waiting()
    assert contact.expires_at is not None
    change = leave(contact)  # type: ignore[operator]
    assert change.after.status != Status.PENDING and change.after.expires_at is None
    # A resend while PENDING keeps it: the wait did not start again.
    resent, _ = t.reserve_resend(contact, now=NOW, cooldown_seconds=0, max_sends=5, evidence={})
    assert resent.after is not None and resent.after.expires_at == contact.expires_at
