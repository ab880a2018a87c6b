"""One contract, every webhook store (in-memory fake, SQLite, DynamoDB on moto with the
template's table and indexes), and the contact store's side of the outbox: a save writes its
deliveries in its transaction, once, and a save that loses its race writes none."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from optin.adapters.dynamodb_contact_store import DynamoDbContactStore
from optin.adapters.dynamodb_webhook_store import DynamoDbWebhookStore
from optin.adapters.sqlite_contact_store import SqliteContactStore
from optin.adapters.sqlite_webhook_store import SqliteWebhookStore
from optin.domain import contact as transitions
from optin.domain import webhooks
from optin.domain.errors import TransitionConflict
from optin.domain.webhooks import Attempt, DeliveryStatus, Endpoint
from optin.ports.contact_store import ContactStore
from optin.ports.webhooks import WebhookStore
from tests.fakes.contact_store import MemoryContactStore
from tests.support import dynamodb

NUMBER = "+12065550100"
NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
KEY = "key-a"


@pytest.fixture(params=["memory", "sqlite", "dynamodb"])
def stores(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[ContactStore, WebhookStore]]:
    if request.param == "memory":
        memory = MemoryContactStore()
        yield memory, memory.webhooks
    elif request.param == "sqlite":
        contacts = SqliteContactStore(tmp_path / "contacts.db")
        hooks = SqliteWebhookStore(tmp_path / "contacts.db")
        yield contacts, hooks
        contacts.close()
        hooks.close()
    else:
        with dynamodb.moto_dynamodb():
            yield (
                DynamoDbContactStore(dynamodb.CONTACTS_TABLE, dynamodb.client),
                DynamoDbWebhookStore(dynamodb.CONTACTS_TABLE, dynamodb.client),
            )


def _pending(api_client: str | None = KEY) -> transitions.Change:
    return transitions.request(
        None,
        phone_number=NUMBER,
        registration_id="reg-1",
        first_name=None,
        execution_arn=None,
        evidence={},
        validation={},
        now=NOW,
        api_client=api_client,
    )


def _endpoint(events: tuple[str, ...] = webhooks.EVENT_TYPES) -> Endpoint:
    return Endpoint(KEY, "https://hooks.example.com/in", events, NOW, "whsec_x")


def _delivery(n: int, *, at: datetime = NOW) -> webhooks.Delivery:
    body = webhooks.payload(f"evt-{n}", webhooks.TEST, at, {})
    return webhooks.new_delivery(KEY, body, at)


def test_api_client_round_trips_and_is_replaced(stores: tuple[ContactStore, WebhookStore]) -> None:
    contacts, _ = stores
    change = _pending()
    contacts.save(change.after, expected_version=None, events=change.events)
    stored = contacts.get(NUMBER)
    assert stored is not None and stored.api_client == KEY
    expired = transitions.expire(stored, registration_id="reg-1", now=NOW)
    contacts.save(expired.after, expected_version=1, events=expired.events)
    assert contacts.get(NUMBER).api_client == KEY  # kept through the workflow
    again = transitions.request(
        contacts.get(NUMBER),
        phone_number=NUMBER,
        registration_id="reg-2",
        first_name=None,
        execution_arn=None,
        evidence={},
        validation={},
        now=NOW,
    )
    contacts.save(again.after, expected_version=2, events=again.events)
    assert contacts.get(NUMBER).api_client is None  # the next (web) registration's


def test_a_save_writes_its_deliveries_once(stores: tuple[ContactStore, WebhookStore]) -> None:
    contacts, hooks = stores
    change = _pending()
    contacts.save(change.after, expected_version=None, events=change.events)
    confirmed = transitions.confirm(change.after, registration_id="reg-1", reply={}, now=NOW)
    made = webhooks.deliveries_for(confirmed.after, confirmed.events, _endpoint(), NOW)
    assert len(made) == 1 and made[0].id == confirmed.events[0].event_id
    contacts.save(confirmed.after, expected_version=1, events=confirmed.events, deliveries=made)
    stored = hooks.get_delivery(made[0].id)
    assert stored == made[0]
    assert stored.event["type"] == "signup.confirmed"
    assert stored.event["data"]["phoneNumber"] == NUMBER


def test_a_lost_race_writes_no_delivery(stores: tuple[ContactStore, WebhookStore]) -> None:
    contacts, hooks = stores
    change = _pending()
    contacts.save(change.after, expected_version=None, events=change.events)
    confirmed = transitions.confirm(change.after, registration_id="reg-1", reply={}, now=NOW)
    made = webhooks.deliveries_for(confirmed.after, confirmed.events, _endpoint(), NOW)
    # A STOP landed first (its save carries no delivery here): the YES lost its race.
    stop = transitions.opt_out(change.after, details={}, now=NOW)
    contacts.save(stop.after, expected_version=1, events=stop.events)
    with pytest.raises(TransitionConflict):
        contacts.save(confirmed.after, expected_version=1, events=confirmed.events, deliveries=made)
    assert hooks.get_delivery(made[0].id) is None
    assert contacts.get(NUMBER).status == stop.after.status


def test_a_delivery_id_is_written_once(stores: tuple[ContactStore, WebhookStore]) -> None:
    contacts, hooks = stores
    change = _pending()
    first = _delivery(1)
    hooks.add_delivery(first)
    with pytest.raises(ValueError):
        hooks.add_delivery(first)
    with pytest.raises(TransitionConflict):
        contacts.save(change.after, expected_version=None, events=change.events, deliveries=[first])
    assert contacts.get(NUMBER) is None  # the contact did not land either


def test_endpoint_set_replaced_deleted(stores: tuple[ContactStore, WebhookStore]) -> None:
    _, hooks = stores
    assert hooks.get_endpoint(KEY) is None
    hooks.put_endpoint(_endpoint())
    assert hooks.get_endpoint(KEY) == _endpoint()
    hooks.put_endpoint(_endpoint((webhooks.CONFIRMED,)))
    assert hooks.get_endpoint(KEY).events == (webhooks.CONFIRMED,)
    assert hooks.get_endpoint("key-b") is None
    hooks.delete_endpoint(KEY, now=NOW)
    assert hooks.get_endpoint(KEY) is None


def test_listing_is_newest_first_per_key_with_cursor_and_filter(
    stores: tuple[ContactStore, WebhookStore],
) -> None:
    _, hooks = stores
    for n in range(5):
        hooks.add_delivery(_delivery(n, at=NOW + timedelta(seconds=n)))
    other = replace(_delivery(9), key_id="key-b")
    hooks.add_delivery(other)
    first = hooks.list_deliveries(KEY, limit=2)
    assert [d.id for d in first.deliveries] == ["evt-4", "evt-3"]
    assert first.cursor is not None
    second = hooks.list_deliveries(KEY, limit=2, cursor=first.cursor)
    third = hooks.list_deliveries(KEY, limit=2, cursor=second.cursor)
    assert [d.id for d in second.deliveries + third.deliveries] == ["evt-2", "evt-1", "evt-0"]
    assert third.cursor is None
    done = replace(hooks.get_delivery("evt-1"), status=DeliveryStatus.DELIVERED)
    hooks.requeue(replace(done, next_attempt_at=None))
    delivered = hooks.list_deliveries(KEY, status=DeliveryStatus.DELIVERED)
    assert [d.id for d in delivered.deliveries] == ["evt-1"]
    pending = hooks.list_deliveries(KEY, status=DeliveryStatus.PENDING, limit=3)
    assert [d.id for d in pending.deliveries] == ["evt-4", "evt-3", "evt-2"]
    with pytest.raises(ValueError):
        hooks.list_deliveries(KEY, cursor="not-a-cursor!")


def test_due_claim_and_lease(stores: tuple[ContactStore, WebhookStore]) -> None:
    _, hooks = stores
    hooks.add_delivery(_delivery(1))
    later = replace(_delivery(2), next_attempt_at=NOW + timedelta(minutes=5))
    hooks.add_delivery(later)
    assert [d.id for d in hooks.due(NOW, limit=10)] == ["evt-1"]
    until = NOW + webhooks.LEASE
    claimed = hooks.claim("evt-1", token="a", now=NOW, until=until)
    assert claimed is not None and claimed.lease_token == "a"
    # The nudge and the sweep cannot both hold it while the lease runs.
    assert hooks.claim("evt-1", token="b", now=NOW, until=until) is None
    assert hooks.claim("evt-2", token="b", now=NOW, until=until) is None  # not due yet
    attempt = Attempt(NOW, 503, None, 12)
    after = webhooks.after_attempt(claimed, attempt, jitter=0.0)
    assert not hooks.finish(after, token="b")  # not the holder
    assert hooks.finish(after, token="a")
    stored = hooks.get_delivery("evt-1")
    assert stored.attempts == (attempt,) and stored.lease_token is None
    assert stored.next_attempt_at == NOW + timedelta(seconds=30)
    assert hooks.due(NOW, limit=10) == []
    # A dispatcher that died: its lease runs out and another one may take it.
    due_at = NOW + timedelta(seconds=30)
    assert hooks.claim("evt-1", token="c", now=due_at, until=due_at + webhooks.LEASE)
    assert hooks.claim("evt-1", token="d", now=due_at + webhooks.LEASE, until=due_at) is not None


def test_delivered_leaves_the_due_list(stores: tuple[ContactStore, WebhookStore]) -> None:
    _, hooks = stores
    hooks.add_delivery(_delivery(1))
    claimed = hooks.claim("evt-1", token="a", now=NOW, until=NOW + webhooks.LEASE)
    assert claimed is not None
    hooks.finish(webhooks.after_attempt(claimed, Attempt(NOW, 204, None, 3), jitter=0.5), token="a")
    assert hooks.due(NOW + timedelta(days=1), limit=10) == []
    assert hooks.get_delivery("evt-1").status == DeliveryStatus.DELIVERED
    hooks.requeue(webhooks.replayed(hooks.get_delivery("evt-1"), NOW))
    assert [d.id for d in hooks.due(NOW, limit=10)] == ["evt-1"]
