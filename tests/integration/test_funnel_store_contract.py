"""The funnel's daily counters, one contract for every ContactStore adapter (in-memory fake,
SQLite, DynamoDB on moto with the template's table): kept in the save's own transaction,
per UTC day of the event, nothing counted by a save that lost its race."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from optin.adapters.dynamodb_contact_store import DynamoDbContactStore
from optin.domain import contact as transitions
from optin.domain.consent import ExpiryReason
from optin.domain.contact import Contact, confirmation_key, resend_key
from optin.domain.errors import TransitionConflict
from optin.domain.funnel import bucket_of
from optin.domain.messages import Message
from optin.ports.contact_store import ContactStore
from tests.support import dynamodb

DAY = datetime(2026, 11, 1, 23, 59, 0, tzinfo=UTC)
TEXT = Message(kind="confirmation", text="Reply YES", version="v1")


def apply(store: ContactStore, change: transitions.Change) -> Contact:
    assert change.after is not None
    store.save(
        change.after,
        expected_version=change.before.version if change.before else None,
        events=change.events,
    )
    return change.after


def texted(store: ContactStore, number: str, registration_id: str, at: datetime) -> Contact:
    contact = apply(
        store,
        transitions.request(
            None,
            phone_number=number,
            registration_id=registration_id,
            first_name=None,
            execution_arn=None,
            evidence={},
            validation={},
            now=at,
        ),
    )
    change, key = transitions.attach_task_token(
        contact, registration_id=registration_id, task_token="t", now=at
    )
    contact = apply(store, change)
    return apply(
        store,
        transitions.record_send(
            contact,
            registration_id=registration_id,
            dedup_key=key,
            message=TEXT,
            message_id=f"m-{registration_id}",
            now=at,
        ),
    )


def stages(counts: dict[str, int]) -> dict[str, int]:
    return {name: n for name, n in counts.items() if not name.startswith("ttc")}


def test_each_stage_is_counted_on_the_utc_day_of_its_event(store: ContactStore) -> None:
    next_day = DAY + timedelta(minutes=2)  # 2026-11-02 00:01 UTC
    # Confirmed the next day, 120 s after the text.
    a = texted(store, "+12065550101", "reg-a", DAY)
    apply(store, transitions.confirm(a, registration_id="reg-a", reply={}, now=next_day))
    # Expired, opted out while pending, rejected: all on DAY.
    b = texted(store, "+12065550102", "reg-b", DAY)
    apply(store, transitions.expire(b, registration_id="reg-b", now=DAY))
    c = texted(store, "+12065550103", "reg-c", DAY)
    apply(store, transitions.opt_out(c, details={}, now=DAY))
    d = texted(store, "+12065550104", "reg-d", DAY)
    apply(store, transitions.reject(d, registration_id="reg-d", reason="landline", now=DAY))

    counts = store.daily_counts(date(2026, 11, 1), date(2026, 11, 2))
    assert stages(counts[date(2026, 11, 1)]) == {
        "signedUp": 4,
        "texted": 4,
        "expired": 1,
        "optedOut": 1,
        "rejected": 1,
    }
    assert counts[date(2026, 11, 2)] == {"confirmed": 1, f"ttc{bucket_of(120)}": 1}
    # Days outside the range are not returned; days without events are absent.
    assert store.daily_counts(date(2026, 11, 2), date(2026, 11, 2)).keys() == {date(2026, 11, 2)}
    assert store.daily_counts(date(2026, 10, 1), date(2026, 10, 31)) == {}


def test_a_resend_is_not_texted_twice_and_a_later_stop_is_no_funnel_opt_out(
    store: ContactStore,
) -> None:
    contact = texted(store, "+12065550105", "reg-e", DAY)
    # A resend: reserved, then its own confirmation_sent (a resend key).
    change, key = transitions.reserve_resend(
        contact, now=DAY + timedelta(seconds=30), cooldown_seconds=0, max_sends=3, evidence={}
    )
    assert key == resend_key("reg-e", 2)
    contact = apply(store, change)
    contact = apply(
        store,
        transitions.record_send(
            contact,
            registration_id="reg-e",
            dedup_key=key,
            message=TEXT,
            message_id="m-2",
            now=DAY + timedelta(seconds=31),
        ),
    )
    contact = apply(
        store,
        transitions.confirm(
            contact, registration_id="reg-e", reply={}, now=DAY + timedelta(seconds=40)
        ),
    )
    # A confirmed subscriber who texts STOP is not a sign-up that opted out.
    apply(store, transitions.opt_out(contact, details={}, now=DAY + timedelta(seconds=50)))
    counts = store.daily_counts(DAY.date(), DAY.date())[DAY.date()]
    assert stages(counts) == {"signedUp": 1, "texted": 1, "confirmed": 1}
    # Time to confirm runs from the last text (sent at +30 s: 10 s), not the first (40 s).
    assert counts[f"ttc{bucket_of(10)}"] == 1


def test_a_save_that_lost_its_race_counts_nothing(store: ContactStore) -> None:
    contact = texted(store, "+12065550106", "reg-f", DAY)
    stale = transitions.expire(contact, registration_id="reg-f", now=DAY)
    apply(store, transitions.confirm(contact, registration_id="reg-f", reply={}, now=DAY))
    with pytest.raises(TransitionConflict):
        apply(store, stale)
    counts = store.daily_counts(DAY.date(), DAY.date())[DAY.date()]
    assert "expired" not in counts and counts["confirmed"] == 1


def test_counters_add_up_over_many_saves(store: ContactStore) -> None:
    for index in range(12):
        contact = texted(store, f"+1206555{index:04d}", f"reg-{index}", DAY)
        apply(
            store,
            transitions.expire(
                contact,
                registration_id=f"reg-{index}",
                now=DAY,
                reason=ExpiryReason.WORKFLOW_FAILED,
            ),
        )
    counts = store.daily_counts(DAY.date(), DAY.date())[DAY.date()]
    assert stages(counts) == {"signedUp": 12, "texted": 12, "expired": 12}


def test_dynamodb_counts_in_the_contact_transaction_with_one_update_per_day() -> None:
    """The counter update rides in the TransactWriteItems of the save, after the
    conditional items (their cancellation reasons keep their positions)."""
    calls: list[dict[str, Any]] = []
    with dynamodb.moto_dynamodb():
        real = dynamodb.client()

        class Recording:
            def __getattr__(self, name: str) -> Any:
                method = getattr(real, name)
                if name != "transact_write_items":
                    return method

                def record(**kwargs: Any) -> Any:
                    calls.append(kwargs)
                    return method(**kwargs)

                return record

        store = DynamoDbContactStore(dynamodb.CONTACTS_TABLE, lambda: Recording())
        texted(store, "+12065550107", "reg-g", DAY)
    first = calls[0]["TransactItems"]
    assert [next(iter(action)) for action in first] == ["Put", "Put", "Put", "Update"]
    update = first[-1]["Update"]
    assert update["Key"] == {"pk": {"S": "STATS#DAILY"}, "sk": {"S": "DAY#2026-11-01"}}
    assert update["UpdateExpression"].startswith("ADD ")
    assert "ConditionExpression" not in update
    # attach_task_token records no event: nothing to count, no Update.
    assert [next(iter(action)) for action in calls[1]["TransactItems"]] == ["Put"]
    assert confirmation_key("reg-g") in str(calls[2])
