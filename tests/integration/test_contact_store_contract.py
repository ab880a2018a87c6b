"""One contract, every ContactStore adapter (in-memory fake, SQLite, DynamoDB on moto with
the table template.yaml declares): conditional writes, append-only ledger, registration
lookup, status listing, send claims, processed-inbound markers, and the race that
conditional writes exist for."""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from optin.adapters.dynamodb_contact_store import DynamoDbContactStore, contact_pk, event_sk
from optin.adapters.sqlite_contact_store import SqliteContactStore
from optin.domain import contact as transitions
from optin.domain.consent import ConsentEvent, EventType
from optin.domain.contact import Contact, Status
from optin.domain.errors import AlreadyRegistered, TransitionConflict
from optin.ports.contact_store import (
    ContactPage,
    ContactStore,
    Order,
    SendClaim,
    SignupQuery,
)
from tests.support import dynamodb

NUMBER = "+12065550100"
NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "dynamodb"])
def real_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ContactStore]:
    """The adapters that ship (the fake's cursor is a bare offset)."""
    if request.param == "sqlite":
        sqlite_store = SqliteContactStore(tmp_path / "contacts.db")
        yield sqlite_store
        sqlite_store.close()
    else:
        with dynamodb.moto_dynamodb():
            yield DynamoDbContactStore(dynamodb.CONTACTS_TABLE, dynamodb.client)


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
    # The expiry is kept while PENDING (to the microsecond) and only then.
    waiting = replace(
        full, version=3, status=Status.PENDING, expires_at=NOW + timedelta(days=1, microseconds=7)
    )
    store.save(waiting, expected_version=2)
    assert store.get(NUMBER) == waiting


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
    from optin.usecases.workflow_steps import WorkflowSteps
    from tests.fakes.sms_sender import MemorySmsSender
    from tests.fakes.workflow import MemoryWorkflow

    service = WorkflowSteps(Settings(), store, MemorySmsSender(), MemoryWorkflow())
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


# --- registration lookup ---------------------------------------------------------------------


def test_find_by_registration_follows_the_current_registration(store: ContactStore) -> None:
    first = pending("reg-1")
    store.save(first.after, expected_version=None, events=first.events)
    assert store.find_by_registration("reg-1") == first.after
    assert store.find_by_registration("reg-unknown") is None

    expired = transitions.expire(store.get(NUMBER), registration_id="reg-1", now=NOW)
    store.save(expired.after, expected_version=1, events=expired.events)
    assert store.find_by_registration("reg-1") == expired.after  # still its registration

    again = transitions.request(
        store.get(NUMBER),
        phone_number=NUMBER,
        registration_id="reg-2",
        first_name=None,
        execution_arn=None,
        evidence={},
        validation={},
        now=NOW + timedelta(days=1),
    )
    store.save(again.after, expected_version=2, events=again.events)
    assert store.find_by_registration("reg-2") == again.after
    # The number signed up again: the old registration no longer names a contact.
    assert store.find_by_registration("reg-1") is None


def imported(status: Status, version: int, at: datetime) -> tuple[Contact, ConsentEvent]:
    """What `optin import-pinpoint` saves: a contact and its one `imported` event."""
    contact = Contact(
        phone_number=NUMBER,
        status=status,
        opted_in=status == Status.CONFIRMED,
        registration_id="pinpoint-ep-1",
        created_at=NOW,
        updated_at=at,
        version=version,
    )
    event = ConsentEvent(EventType.IMPORTED, at, "pinpoint-ep-1", {"status": str(status)})
    return contact, event


def test_an_imported_contact_is_found_by_its_registration(store: ContactStore) -> None:
    # No `requested` event ever starts an imported contact's registration: the console's
    # detail page finds it by registration id all the same.
    contact, event = imported(Status.CONFIRMED, 1, NOW)
    store.save(contact, expected_version=None, events=[event])
    assert store.find_by_registration("pinpoint-ep-1") == contact
    # Imported again after the partner's Pinpoint project opted the number out.
    later, again = imported(Status.OPTED_OUT, 2, NOW + timedelta(hours=1))
    store.save(later, expected_version=1, events=[again])
    assert store.find_by_registration("pinpoint-ep-1") == later
    assert [e.type for e in store.events(NUMBER)] == [EventType.IMPORTED, EventType.IMPORTED]
    # Then a sign-up of its own: the imported registration no longer names the contact.
    signed = transitions.request(
        store.get(NUMBER),
        phone_number=NUMBER,
        registration_id="reg-after-import",
        first_name=None,
        execution_arn=None,
        evidence={},
        validation={},
        now=NOW + timedelta(days=1),
    )
    store.save(signed.after, expected_version=2, events=signed.events)
    assert store.find_by_registration("reg-after-import") == signed.after
    assert store.find_by_registration("pinpoint-ep-1") is None


# --- listing by status -----------------------------------------------------------------------


def contact_at(number: str, status: Status, minute: int) -> Contact:
    moment = NOW + timedelta(minutes=minute)
    return Contact(
        phone_number=number,
        status=status,
        opted_in=status == Status.CONFIRMED,
        registration_id=f"reg-{number}",
        created_at=NOW,
        updated_at=moment,
        version=1,
    )


def numbers(page_contacts: list[Contact]) -> list[str]:
    return [c.phone_number for c in page_contacts]


def test_list_by_status_pages_newest_first(store: ContactStore) -> None:
    pending_numbers = [f"+1206555010{i}" for i in range(5)]
    for minute, number in enumerate(pending_numbers):
        store.save(contact_at(number, Status.PENDING, minute), expected_version=None)
    store.save(contact_at("+12065550199", Status.CONFIRMED, 99), expected_version=None)

    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        page = store.list_by_status(Status.PENDING, limit=2, cursor=cursor)
        assert len(page.contacts) <= 2
        assert all(c.status == Status.PENDING for c in page.contacts)
        seen.extend(numbers(page.contacts))
        pages += 1
        cursor = page.cursor
        if cursor is None:
            break
    assert seen == list(reversed(pending_numbers))
    assert pages == 3  # 2 + 2 + 1, and no empty page at the end

    everything = store.list_by_status(Status.PENDING, limit=5)
    assert numbers(everything.contacts) == seen and everything.cursor is None
    assert numbers(store.list_by_status(Status.CONFIRMED).contacts) == ["+12065550199"]
    assert store.list_by_status(Status.EXPIRED) == ContactPage([], None)


def test_a_contact_leaves_the_listing_of_its_old_status(store: ContactStore) -> None:
    store.save(contact_at(NUMBER, Status.PENDING, 0), expected_version=None)
    current = store.get(NUMBER)
    moved = replace(current, status=Status.EXPIRED, version=2, updated_at=NOW + timedelta(hours=1))
    store.save(moved, expected_version=1)
    assert store.list_by_status(Status.PENDING).contacts == []
    assert store.list_by_status(Status.EXPIRED).contacts == [moved]


def test_a_garbled_cursor_is_a_value_error(store: ContactStore) -> None:
    store.save(contact_at(NUMBER, Status.PENDING, 0), expected_version=None)
    for garbage in ("!!!", "not-a-cursor", "e30"):  # "e30" is base64 of "{}"
        with pytest.raises(ValueError):
            store.list_by_status(Status.PENDING, cursor=garbage)


def test_cursors_are_url_safe_and_bound_to_their_status(real_store: ContactStore) -> None:
    for minute in range(3):
        real_store.save(
            contact_at(f"+1206555010{minute}", Status.PENDING, minute), expected_version=None
        )
    page = real_store.list_by_status(Status.PENDING, limit=1)
    assert page.cursor and re.fullmatch(r"[A-Za-z0-9_-]+", page.cursor)
    with pytest.raises(ValueError, match="PENDING"):
        real_store.list_by_status(Status.CONFIRMED, cursor=page.cursor)
    with pytest.raises(ValueError, match="limit"):
        real_store.list_by_status(Status.PENDING, limit=0)


# --- send claims -----------------------------------------------------------------------------


def test_a_send_is_claimed_once(store: ContactStore) -> None:
    first = store.claim_send("reg-1:confirmation", phone_number=NUMBER, now=NOW)
    assert first.claimed and first.message_id is None
    # In flight (or its sender died): refused, and nobody can tell a message id yet.
    second = store.claim_send("reg-1:confirmation", phone_number=NUMBER, now=NOW)
    assert not second.claimed and second.message_id is None

    store.complete_send("reg-1:confirmation", message_id="m-1", now=NOW)
    third = store.claim_send("reg-1:confirmation", phone_number=NUMBER, now=NOW)
    assert third == SendClaim("reg-1:confirmation", claimed=False, message_id="m-1")
    # Other keys are independent.
    assert store.claim_send("reg-1:welcome", phone_number=NUMBER, now=NOW).claimed


def test_a_released_claim_may_be_taken_again(store: ContactStore) -> None:
    assert store.claim_send("k", phone_number=NUMBER, now=NOW).claimed
    store.release_send("k", reason="SmsUnavailable", now=NOW)
    assert store.claim_send("k", phone_number=NUMBER, now=NOW).claimed
    assert not store.claim_send("k", phone_number=NUMBER, now=NOW).claimed
    store.complete_send("k", message_id="m-2", now=NOW)
    assert store.claim_send("k", phone_number=NUMBER, now=NOW).message_id == "m-2"


def test_release_never_undoes_a_completed_claim(store: ContactStore) -> None:
    store.claim_send("k", phone_number=NUMBER, now=NOW)
    store.complete_send("k", message_id="m-1", now=NOW)
    store.release_send("k", reason="late failure report", now=NOW)
    assert store.claim_send("k", phone_number=NUMBER, now=NOW) == SendClaim(
        "k", claimed=False, message_id="m-1"
    )


def test_completing_or_releasing_an_unclaimed_key_changes_nothing(store: ContactStore) -> None:
    store.complete_send("never-claimed", message_id="m-1", now=NOW)
    store.release_send("never-claimed-either", reason="x", now=NOW)
    assert store.claim_send("never-claimed", phone_number=NUMBER, now=NOW).claimed
    assert store.claim_send("never-claimed-either", phone_number=NUMBER, now=NOW).claimed
    # A released claim is not completed by a late receipt: it may be sent again instead.
    store.release_send("never-claimed", reason="x", now=NOW)
    store.complete_send("never-claimed", message_id="late", now=NOW)
    assert store.claim_send("never-claimed", phone_number=NUMBER, now=NOW).claimed


# --- ledger order and lost races -------------------------------------------------------------


def test_events_keep_save_order_across_many_saves(store: ContactStore) -> None:
    change = pending()
    store.save(change.after, expected_version=None, events=change.events)
    expected = [None]
    # Twelve saves: versions 9 -> 10 -> 11 must not sort as text ("10" < "9").
    for version in range(2, 14):
        current = store.get(NUMBER)
        batch = [
            ConsentEvent(EventType.CONFIRMATION_SENT, NOW, "reg-1", {"v": version, "i": i})
            for i in range(version % 3)  # 0, 1 or 2 events per save
        ]
        store.save(replace(current, version=version), expected_version=version - 1, events=batch)
        expected.extend((version, i) for i in range(version % 3))
    got = [
        (e.details["v"], e.details["i"]) if "v" in e.details else None for e in store.events(NUMBER)
    ]
    assert got == expected


def test_expecting_a_version_of_a_contact_that_is_not_there_conflicts(
    store: ContactStore,
) -> None:
    change = pending()
    with pytest.raises(TransitionConflict):
        store.save(replace(change.after, version=2), expected_version=1, events=change.events)
    assert store.get(NUMBER) is None
    assert store.events(NUMBER) == []
    assert store.find_by_registration("reg-1") is None


def test_the_loser_of_a_race_writes_no_event_and_no_registration(store: ContactStore) -> None:
    change = pending()
    store.save(change.after, expected_version=None, events=change.events)
    current = store.get(NUMBER)
    expired = transitions.expire(current, registration_id="reg-1", now=NOW)
    store.save(expired.after, expected_version=1, events=expired.events)
    # A second sign-up that read the contact before the expiry landed loses.
    late = transitions.request(
        expired.after,
        phone_number=NUMBER,
        registration_id="reg-late",
        first_name=None,
        execution_arn=None,
        evidence={},
        validation={},
        now=NOW,
    )
    with pytest.raises(TransitionConflict):
        store.save(replace(late.after, version=2), expected_version=1, events=late.events)
    assert store.find_by_registration("reg-late") is None
    assert [str(e.type) for e in store.events(NUMBER)] == ["requested", "expired"]


def test_dynamodb_ledger_items_are_never_overwritten() -> None:
    with dynamodb.moto_dynamodb() as client:
        store = DynamoDbContactStore(dynamodb.CONTACTS_TABLE, dynamodb.client)
        change = pending()
        store.save(change.after, expected_version=None, events=change.events)
        # An item already holds the key the next save's first event would take.
        planted = {"pk": {"S": contact_pk(NUMBER)}, "sk": {"S": event_sk(2, 0)}}
        client.put_item(
            TableName=dynamodb.CONTACTS_TABLE, Item={**planted, "marker": {"S": "original"}}
        )
        current = store.get(NUMBER)
        stop = transitions.opt_out(current, details={"reply": "STOP"}, now=NOW)
        with pytest.raises(TransitionConflict, match="exist already"):
            store.save(stop.after, expected_version=1, events=stop.events)
        # Nothing of the transaction landed: the contact and the planted item are unchanged.
        assert store.get(NUMBER) == current
        item = client.get_item(TableName=dynamodb.CONTACTS_TABLE, Key=planted)["Item"]
        assert item["marker"] == {"S": "original"}


def test_dynamodb_registration_ids_are_never_reused() -> None:
    with dynamodb.moto_dynamodb():
        store = DynamoDbContactStore(dynamodb.CONTACTS_TABLE, dynamodb.client)
        change = pending("reg-1")
        store.save(change.after, expected_version=None, events=change.events)
        other = transitions.request(
            None,
            phone_number="+16135550123",
            registration_id="reg-1",
            first_name=None,
            execution_arn=None,
            evidence={},
            validation={},
            now=NOW,
        )
        with pytest.raises(TransitionConflict):
            store.save(other.after, expected_version=None, events=other.events)
        assert store.get("+16135550123") is None
        assert store.find_by_registration("reg-1") == change.after


def test_dynamodb_save_refuses_a_version_that_does_not_follow() -> None:
    with dynamodb.moto_dynamodb():
        store = DynamoDbContactStore(dynamodb.CONTACTS_TABLE, dynamodb.client)
        change = pending()
        with pytest.raises(ValueError, match="version"):
            store.save(replace(change.after, version=3), expected_version=None)
        assert store.get(NUMBER) is None


def test_dynamodb_items_round_trip_floats_and_nested_details_exactly() -> None:
    with dynamodb.moto_dynamodb():
        store = DynamoDbContactStore(dynamodb.CONTACTS_TABLE, dynamodb.client)
        change = pending()
        details = {"score": 0.1, "nested": [1, {"x": None, "y": True}], "text": "Zoë ☂"}
        event = ConsentEvent(EventType.REQUESTED, NOW, "reg-1", details)
        store.save(change.after, expected_version=None, events=[event])
        assert store.events(NUMBER) == [event]


# --- carrier lookup cache -------------------------------------------------------------------


def test_a_line_lookup_is_kept_until_it_expires(store: ContactStore) -> None:
    from optin.ports.number_lookup import LineInfo, LineType

    assert store.cached_line_info(NUMBER, now=NOW) is None
    info = LineInfo(NUMBER, LineType.VOIP, carrier="Example Telecom", country="US")
    store.cache_line_info(info, now=NOW, expires_at=NOW + timedelta(days=30))
    assert store.cached_line_info(NUMBER, now=NOW + timedelta(days=29)) == info
    assert store.cached_line_info(NUMBER, now=NOW + timedelta(days=30, seconds=1)) is None
    # The newest answer replaces the old one; other numbers are not affected.
    newer = LineInfo(NUMBER, LineType.MOBILE)
    store.cache_line_info(newer, now=NOW, expires_at=NOW + timedelta(days=1))
    assert store.cached_line_info(NUMBER, now=NOW) == newer
    assert store.cached_line_info("+12065550199", now=NOW) is None
    # The cache is no contact: lookups never show up as one.
    assert store.get(NUMBER) is None


# --- the console's listing (list_signups) ----------------------------------------------------

# Statuses in turn, one minute apart, so every store orders them the same way.
LISTED = [
    (f"+1206555{1000 + i}", [Status.PENDING, Status.CONFIRMED, Status.EXPIRED][i % 3], i)
    for i in range(7)
]


def save_listed(store: ContactStore) -> None:
    for number, status, minute in LISTED:
        store.save(contact_at(number, status, minute), expected_version=None)


def all_pages(store: ContactStore, query: SignupQuery) -> tuple[list[str], int]:
    seen: list[str] = []
    pages = 0
    while True:
        page = store.list_signups(query)
        assert len(page.contacts) <= query.limit
        seen.extend(numbers(page.contacts))
        pages += 1
        if page.cursor is None:
            return seen, pages
        assert page.contacts, "a page before the end is never empty"
        query = replace(query, cursor=page.cursor)


def test_list_signups_merges_every_status_newest_first(store: ContactStore) -> None:
    save_listed(store)
    newest_first = [number for number, _, _ in reversed(LISTED)]
    seen, pages = all_pages(store, SignupQuery(limit=3))
    assert seen == newest_first
    assert pages == 3  # 3 + 3 + 1, no empty page at the end
    whole = store.list_signups(SignupQuery(limit=7))
    assert numbers(whole.contacts) == newest_first and whole.cursor is None
    assert store.list_signups(SignupQuery()).contacts[0] == contact_at(*LISTED[-1])


def test_list_signups_by_status_and_range(store: ContactStore) -> None:
    save_listed(store)
    expired = [n for n, s, _ in reversed(LISTED) if s == Status.EXPIRED]
    assert all_pages(store, SignupQuery(statuses=(Status.EXPIRED,), limit=1)) == (expired, 2)
    two = (Status.PENDING, Status.EXPIRED)
    both = [n for n, s, _ in reversed(LISTED) if s in two]
    assert all_pages(store, SignupQuery(statuses=two, limit=2))[0] == both
    # Both ends inclusive, on the time of the last change: minutes 2 to 4.
    window = SignupQuery(
        updated_from=NOW + timedelta(minutes=2), updated_to=NOW + timedelta(minutes=4)
    )
    assert numbers(store.list_signups(window).contacts) == [LISTED[i][0] for i in (4, 3, 2)]
    assert all_pages(store, replace(window, limit=1))[0] == [LISTED[i][0] for i in (4, 3, 2)]
    after_all = SignupQuery(updated_from=NOW + timedelta(days=1))
    assert store.list_signups(after_all) == ContactPage([], None)
    assert store.list_signups(SignupQuery(statuses=(Status.REJECTED,))) == ContactPage([], None)


def test_list_signups_cursors_are_bound_to_their_filters(store: ContactStore) -> None:
    save_listed(store)
    page = store.list_signups(SignupQuery(limit=2))
    assert page.cursor and re.fullmatch(r"[A-Za-z0-9_-]+", page.cursor)
    for other in (
        SignupQuery(statuses=(Status.PENDING,), cursor=page.cursor),
        SignupQuery(updated_from=NOW, cursor=page.cursor),
    ):
        with pytest.raises(ValueError, match="other filters"):
            store.list_signups(other)
    for garbage in ("!!!", "e30", "not-a-cursor"):
        with pytest.raises(ValueError):
            store.list_signups(SignupQuery(cursor=garbage))


def test_signup_query_refuses_bad_limits_and_ranges() -> None:
    for limit in (0, 101):
        with pytest.raises(ValueError, match="limit"):
            SignupQuery(limit=limit)
    with pytest.raises(ValueError, match="starts after"):
        SignupQuery(updated_from=NOW, updated_to=NOW - timedelta(seconds=1))
    with pytest.raises(ValueError, match="status"):
        SignupQuery(statuses=())
    assert SignupQuery().limit == 25 and SignupQuery(limit=100).limit == 100


def test_sqlite_list_signups_walks_an_index(tmp_path: Path) -> None:
    sqlite_store = SqliteContactStore(tmp_path / "contacts.db")
    try:
        for query, index in (
            (SignupQuery(), "contacts_by_time"),
            (SignupQuery(statuses=(Status.PENDING,)), "contacts_by_status_time"),
        ):
            plan = " / ".join(sqlite_store.explain_list_signups(query))
            assert index in plan, plan
            assert "TEMP B-TREE" not in plan, plan  # ordered by the index, not sorted after
            assert not re.search(r"SCAN contacts(?! USING)", plan), plan
    finally:
        sqlite_store.close()


class _Recording:
    """A boto3 client that notes each operation called through it."""

    def __init__(self, client: object) -> None:
        self._client = client
        self.calls: list[tuple[str, dict[str, object]]] = []

    def __getattr__(self, name: str) -> object:
        method = getattr(self._client, name)

        def call(**kwargs: object) -> object:
            self.calls.append((name, kwargs))
            return method(**kwargs)

        return call


def test_dynamodb_list_signups_only_queries_the_status_index() -> None:
    with dynamodb.moto_dynamodb() as client:
        recording = _Recording(client)
        store = DynamoDbContactStore(dynamodb.CONTACTS_TABLE, lambda: recording)
        save_listed(store)
        recording.calls.clear()
        seen, _ = all_pages(store, SignupQuery(limit=2))
        assert len(seen) == len(LISTED)
        assert {name for name, _ in recording.calls} == {"query"}
        assert {kwargs["IndexName"] for _, kwargs in recording.calls} == {"ByStatus"}
        # A status that has run out is not queried again on later pages.
        asked = [
            kwargs["ExpressionAttributeValues"][":status"]["S"] for _, kwargs in recording.calls
        ]
        assert asked.count("REJECTED") == 1 and asked.count("OPTED_OUT") == 1
        assert asked.count("PENDING") > 1


# --- the pending sign-ups, soonest to expire first (Order.EXPIRY) ------------------------------

BY_EXPIRY = SignupQuery(statuses=(Status.PENDING,), order=Order.EXPIRY)


def waiting(store: ContactStore, number: str, *, started: int, window: int | None) -> Contact:
    """A PENDING sign-up whose wait started `started` minutes after NOW (the real
    transitions: request, then the task token with the window)."""
    moment = NOW + timedelta(minutes=started)
    requested = transitions.request(
        store.get(number),
        phone_number=number,
        registration_id=f"reg-{number}",
        first_name=None,
        execution_arn=None,
        evidence={},
        validation={},
        now=moment,
    )
    assert requested.after is not None
    store.save(requested.after, expected_version=None, events=requested.events)
    change, _ = transitions.attach_task_token(
        requested.after,
        registration_id=f"reg-{number}",
        task_token="tok",
        now=moment,
        window_seconds=window,
    )
    assert change.after is not None
    store.save(change.after, expected_version=requested.after.version)
    return change.after


def test_pending_by_expiry_soonest_first_across_a_resend_and_pages(store: ContactStore) -> None:
    # Waits started at minutes 0..3 with windows that make the expiries run 2, 0, 3, 1.
    first = waiting(store, "+12065552000", started=0, window=3 * 3600)
    second = waiting(store, "+12065552001", started=1, window=3600)
    third = waiting(store, "+12065552002", started=2, window=4 * 3600)
    fourth = waiting(store, "+12065552003", started=3, window=2 * 3600)
    # Not yet waiting (no token yet): expiry unknown, last.
    reserved = transitions.request(
        None,
        phone_number="+12065552004",
        registration_id="reg-x",
        first_name=None,
        execution_arn=None,
        evidence={},
        validation={},
        now=NOW,
    ).after
    assert reserved is not None
    store.save(reserved, expected_version=None)
    store.save(contact_at("+12065552005", Status.CONFIRMED, 9), expected_version=None)
    soonest = [c.phone_number for c in (second, fourth, first, third)] + [reserved.phone_number]

    # A resend moves the last change (the newest-first order), never the expiry.
    resent, _ = transitions.reserve_resend(
        second,
        now=NOW + timedelta(minutes=30),
        cooldown_seconds=0,
        max_sends=5,
        evidence={},
    )
    assert resent.after is not None
    store.save(resent.after, expected_version=second.version, events=resent.events)
    newest = store.list_signups(SignupQuery(statuses=(Status.PENDING,), limit=1))
    assert numbers(newest.contacts) == [second.phone_number]

    whole = store.list_signups(BY_EXPIRY)
    assert numbers(whole.contacts) == soonest and whole.cursor is None
    assert whole.contacts[0].expires_at == NOW + timedelta(minutes=1, hours=1)
    assert whole.contacts[-1].expires_at is None
    seen, pages = all_pages(store, replace(BY_EXPIRY, limit=2))
    assert (seen, pages) == (soonest, 3)  # 2 + 2 + 1, no empty page at the end

    # Leaving PENDING takes a contact out of the order; the rest keep theirs.
    confirmed = transitions.confirm(
        resent.after, registration_id=f"reg-{second.phone_number}", reply={}, now=NOW
    )
    assert confirmed.after is not None and confirmed.after.expires_at is None
    store.save(confirmed.after, expected_version=resent.after.version)
    assert all_pages(store, replace(BY_EXPIRY, limit=2))[0] == soonest[1:]


def test_the_expiry_order_is_pending_only_and_its_cursors_are_its_own(
    store: ContactStore,
) -> None:
    for started in range(3):
        waiting(store, f"+1206555300{started}", started=started, window=3600)
    with pytest.raises(ValueError, match="Only PENDING"):
        SignupQuery(statuses=(Status.PENDING, Status.EXPIRED), order=Order.EXPIRY)
    with pytest.raises(ValueError, match="no range"):
        SignupQuery(statuses=(Status.PENDING,), order=Order.EXPIRY, updated_from=NOW)
    by_expiry = store.list_signups(replace(BY_EXPIRY, limit=1)).cursor
    newest = store.list_signups(SignupQuery(statuses=(Status.PENDING,), limit=1)).cursor
    assert by_expiry and newest and by_expiry != newest
    with pytest.raises(ValueError, match="other filters"):
        store.list_signups(SignupQuery(statuses=(Status.PENDING,), cursor=by_expiry))
    with pytest.raises(ValueError, match="other filters"):
        store.list_signups(replace(BY_EXPIRY, cursor=newest))


def test_sqlite_expiry_order_walks_the_partial_index(tmp_path: Path) -> None:
    sqlite_store = SqliteContactStore(tmp_path / "contacts.db")
    try:
        for number in ("+12065554000", "+12065554001"):
            waiting(sqlite_store, number, started=0, window=60)
        cursor = sqlite_store.list_signups(replace(BY_EXPIRY, limit=1)).cursor
        for query in (BY_EXPIRY, replace(BY_EXPIRY, limit=1, cursor=cursor)):
            plan = " / ".join(sqlite_store.explain_list_signups(query))
            assert "contacts_pending_by_expiry" in plan, plan
            assert "TEMP B-TREE" not in plan, plan
            assert not re.search(r"SCAN contacts(?! USING)", plan), plan
            if query.cursor:
                # A later page seeks to where the last one stopped, not walks up to it.
                assert plan.startswith("SEARCH contacts USING INDEX"), plan
    finally:
        sqlite_store.close()


def test_sqlite_rows_from_before_the_expiry_column_sort_last(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    old = sqlite3.connect(path)
    old.executescript(
        """CREATE TABLE contacts (
            phone_number TEXT PRIMARY KEY, version INTEGER NOT NULL, status TEXT NOT NULL,
            opted_in INTEGER NOT NULL, registration_id TEXT, first_name TEXT,
            execution_arn TEXT, task_token TEXT, send_count INTEGER NOT NULL DEFAULT 0,
            last_sent_at TEXT, last_send_key TEXT, last_message_id TEXT,
            welcome_message_id TEXT, clarified_registration TEXT,
            created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
        INSERT INTO contacts (phone_number, version, status, opted_in, created_at, updated_at)
        VALUES ('+12065555000', 1, 'PENDING', 0, '2026-10-01T00:00:00.000000Z',
                '2026-10-01T00:00:00.000000Z');"""
    )
    old.close()
    sqlite_store = SqliteContactStore(path)
    try:
        waiting(sqlite_store, "+12065555001", started=0, window=60)
        legacy = sqlite_store.get("+12065555000")
        assert legacy is not None and legacy.expires_at is None
        page = sqlite_store.list_signups(BY_EXPIRY)
        assert numbers(page.contacts) == ["+12065555001", "+12065555000"]
        # Opening it again (another process, or a restart) changes nothing.
        SqliteContactStore(path).close()
    finally:
        sqlite_store.close()


def test_dynamodb_expiry_order_is_one_query_of_the_sparse_index() -> None:
    with dynamodb.moto_dynamodb() as client:
        recording = _Recording(client)
        store = DynamoDbContactStore(dynamodb.CONTACTS_TABLE, lambda: recording)
        for started in range(3):
            waiting(store, f"+1206555600{started}", started=started, window=3600)
        recording.calls.clear()
        seen, pages = all_pages(store, replace(BY_EXPIRY, limit=2))
        assert len(seen) == 3 and pages == 2
        assert [name for name, _ in recording.calls] == ["query", "query"]
        assert {kwargs["IndexName"] for _, kwargs in recording.calls} == {"PendingByExpiry"}
        # Only a PENDING contact item carries the index's key.
        item = client.get_item(
            TableName=dynamodb.CONTACTS_TABLE,
            Key={"pk": {"S": contact_pk("+12065556000")}, "sk": {"S": "CONTACT"}},
        )["Item"]
        assert item["pendingExpiresAt"] == {"S": "2026-11-01T13:00:00.000000Z"}
        contact = store.get("+12065556000")
        assert contact is not None
        gone = transitions.expire(contact, registration_id="reg-+12065556000", now=NOW)
        assert gone.after is not None
        store.save(gone.after, expected_version=contact.version)
        item = client.get_item(
            TableName=dynamodb.CONTACTS_TABLE,
            Key={"pk": {"S": contact_pk("+12065556000")}, "sk": {"S": "CONTACT"}},
        )["Item"]
        assert "pendingExpiresAt" not in item


def test_dynamodb_pending_items_from_before_the_index_are_left_out_until_saved() -> None:
    with dynamodb.moto_dynamodb() as client:
        store = DynamoDbContactStore(dynamodb.CONTACTS_TABLE, dynamodb.client)
        fresh = waiting(store, "+12065557000", started=0, window=60)
        legacy = waiting(store, "+12065557001", started=1, window=60)
        # As an older version wrote it: no pendingExpiresAt.
        client.update_item(
            TableName=dynamodb.CONTACTS_TABLE,
            Key={"pk": {"S": contact_pk(legacy.phone_number)}, "sk": {"S": "CONTACT"}},
            UpdateExpression="REMOVE pendingExpiresAt",
        )
        assert numbers(store.list_signups(BY_EXPIRY).contacts) == [fresh.phone_number]
        newest = store.list_signups(SignupQuery(statuses=(Status.PENDING,)))
        assert numbers(newest.contacts) == [legacy.phone_number, fresh.phone_number]
        # Its next save (any change) puts it back, with an unknown expiry: last.
        stored = store.get(legacy.phone_number)
        assert stored is not None and stored.expires_at is None
        clarified = transitions.mark_clarified(stored, now=NOW + timedelta(minutes=5))
        assert clarified.after is not None
        store.save(clarified.after, expected_version=stored.version)
        assert numbers(store.list_signups(BY_EXPIRY).contacts) == [
            fresh.phone_number,
            legacy.phone_number,
        ]
