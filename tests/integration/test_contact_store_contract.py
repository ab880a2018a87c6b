"""One contract, every ContactStore adapter: conditional writes, append-only ledger,
processed-inbound markers, and the race that conditional writes exist for."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from optin.adapters.sqlite_contact_store import SqliteContactStore
from optin.domain import contact as transitions
from optin.domain.consent import ConsentEvent, EventType
from optin.domain.contact import Contact, Status
from optin.domain.errors import AlreadyRegistered, TransitionConflict
from optin.ports.contact_store import ContactStore
from tests.fakes.contact_store import MemoryContactStore

NUMBER = "+12065550100"
NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ContactStore]:
    if request.param == "memory":
        yield MemoryContactStore()
    else:
        sqlite_store = SqliteContactStore(tmp_path / "contacts.db")
        yield sqlite_store
        sqlite_store.close()


def pending(registration_id: str = "reg-1") -> transitions.Change:
    return transitions.request(
        None,
        phone_number=NUMBER,
        registration_id=registration_id,
        first_name="Ana",
        execution_arn="arn:exec",
        evidence={"ip": "203.0.113.7", "nested": {"list": [1, 2]}},
        validation={"e164": NUMBER},
        now=NOW,
    )


def test_get_unknown_is_none(store: ContactStore) -> None:
    assert store.get(NUMBER) is None
    assert store.events(NUMBER) == []


def test_save_new_and_read_back(store: ContactStore) -> None:
    change = pending()
    store.save(change.after, expected_version=None, events=change.events)
    contact = store.get(NUMBER)
    assert contact == change.after
    assert contact.version == 1 and contact.status == Status.PENDING
    [event] = store.events(NUMBER)
    assert event == change.events[0]
    assert event.details["evidence"]["nested"] == {"list": [1, 2]}


def test_every_field_round_trips(store: ContactStore) -> None:
    change = pending()
    store.save(change.after, expected_version=None)
    full = replace(
        change.after,
        version=2,
        task_token="t" * 1000,
        send_count=3,
        last_sent_at=NOW + timedelta(seconds=1, microseconds=5),
        last_send_key="reg-1:resend:3",
        last_message_id="m-3",
        welcome_message_id="w-1",
        clarified_registration="reg-1",
        opted_in=True,
        status=Status.CONFIRMED,
        updated_at=NOW + timedelta(hours=1),
    )
    store.save(full, expected_version=1)
    assert store.get(NUMBER) == full


def test_creating_twice_conflicts(store: ContactStore) -> None:
    change = pending()
    store.save(change.after, expected_version=None, events=change.events)
    with pytest.raises(TransitionConflict):
        store.save(pending("reg-2").after, expected_version=None, events=pending("reg-2").events)
    assert store.get(NUMBER).registration_id == "reg-1"
    assert len(store.events(NUMBER)) == 1  # the losing write appended nothing


def test_stale_version_conflicts_and_writes_nothing(store: ContactStore) -> None:
    change = pending()
    store.save(change.after, expected_version=None, events=change.events)
    current = store.get(NUMBER)
    stop = transitions.opt_out(current, details={"reply": "STOP"}, now=NOW)
    confirm = transitions.confirm(current, registration_id="reg-1", reply={"reply": "YES"}, now=NOW)
    store.save(stop.after, expected_version=current.version, events=stop.events)
    with pytest.raises(TransitionConflict):
        store.save(confirm.after, expected_version=current.version, events=confirm.events)
    assert store.get(NUMBER).status == Status.OPTED_OUT
    assert [str(e.type) for e in store.events(NUMBER)] == ["requested", "opted_out"]


def test_ledger_is_ordered_and_per_number(store: ContactStore) -> None:
    change = pending()
    store.save(change.after, expected_version=None, events=change.events)
    other = replace(change.after, phone_number="+16135550123")
    store.save(
        other,
        expected_version=None,
        events=[ConsentEvent(EventType.REQUESTED, NOW, "reg-x", {})],
    )
    current = store.get(NUMBER)
    events = [
        ConsentEvent(EventType.CONFIRMATION_SENT, NOW + timedelta(seconds=i), "reg-1", {"i": i})
        for i in range(5)
    ]
    store.save(replace(current, version=2), expected_version=1, events=events)
    assert [e.details.get("i") for e in store.events(NUMBER)] == [None, 0, 1, 2, 3, 4]
    assert len(store.events("+16135550123")) == 1


def test_inbound_markers(store: ContactStore) -> None:
    assert not store.inbound_processed("in-1")
    assert store.mark_inbound_processed("in-1", phone_number=NUMBER, processed_at=NOW) is True
    assert store.inbound_processed("in-1")
    assert store.mark_inbound_processed("in-1", phone_number=NUMBER, processed_at=NOW) is False
    assert not store.inbound_processed("in-2")


def test_racing_transitions_exactly_one_wins(store: ContactStore) -> None:
    """Many threads try to create a PENDING contact for the same number with their own
    registration: one wins; the others see a conflict, recompute, and are refused."""
    from optin.domain.settings import Settings
    from optin.service import Registrations
    from tests.fakes.sms_sender import MemorySmsSender
    from tests.fakes.workflow import MemoryWorkflow

    service = Registrations(Settings(), store, MemorySmsSender(), MemoryWorkflow())
    outcomes: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(8)

    def attempt(index: int) -> None:
        barrier.wait()
        try:
            service.create_contact(
                registration_id=f"reg-{index}",
                phone_number=NUMBER,
                first_name=None,
                evidence={},
                validation={},
                execution_arn=None,
            )
            result = "won"
        except AlreadyRegistered:
            result = "refused"
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["refused"] * 7 + ["won"]
    assert len(store.events(NUMBER)) == 1


def test_sqlite_ledger_refuses_update_and_delete(tmp_path: Path) -> None:
    path = tmp_path / "contacts.db"
    store = SqliteContactStore(path)
    change = pending()
    store.save(change.after, expected_version=None, events=change.events)
    conn = sqlite3.connect(path)
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("UPDATE consent_events SET type = 'confirmed'")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("DELETE FROM consent_events")
    conn.close()


def test_sqlite_uses_wal_and_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "contacts.db"
    store = SqliteContactStore(path)
    change = pending()
    store.save(change.after, expected_version=None, events=change.events)
    store.close()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()
    reopened = SqliteContactStore(path)
    assert reopened.get(NUMBER) == change.after
    assert reopened.events(NUMBER) == list(change.events)


def test_sqlite_two_stores_on_one_file_see_each_other(tmp_path: Path) -> None:
    path = tmp_path / "contacts.db"
    first, second = SqliteContactStore(path), SqliteContactStore(path)
    change = pending()
    first.save(change.after, expected_version=None, events=change.events)
    assert second.get(NUMBER) == change.after
    with pytest.raises(TransitionConflict):
        second.save(change.after, expected_version=None)


def test_contact_is_a_frozen_value() -> None:
    contact: Contact = pending().after
    with pytest.raises(AttributeError):
        contact.status = Status.CONFIRMED  # type: ignore[misc]
