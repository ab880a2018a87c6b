"""One contract, every ApiKeyStore adapter (in-memory fake, SQLite, DynamoDB on moto with
the table template.yaml declares): records kept without the key, listed, revoked."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from optin.adapters.dynamodb_api_key_store import DynamoDbApiKeyStore
from optin.adapters.sqlite_api_key_store import SqliteApiKeyStore
from optin.domain import api_keys
from optin.domain.api_keys import KeyNotFound
from optin.ports.api_keys import ApiKeyStore
from tests.fakes.api_keys import MemoryApiKeyStore
from tests.support import dynamodb

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["memory", "sqlite", "dynamodb"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ApiKeyStore]:
    if request.param == "memory":
        yield MemoryApiKeyStore()
    elif request.param == "sqlite":
        sqlite_store = SqliteApiKeyStore(tmp_path / "contacts.db")
        yield sqlite_store
        sqlite_store.close()
    else:
        with dynamodb.moto_dynamodb():
            yield DynamoDbApiKeyStore(dynamodb.CONTACTS_TABLE, dynamodb.client)


def test_a_key_is_kept_as_its_hash_only_and_recognised(store: ApiKeyStore) -> None:
    made = api_keys.new_key("Checkout", NOW)
    store.add(made.record)
    kept = store.get(made.record.key_id)
    assert kept == made.record
    assert made.key not in repr(kept)
    assert api_keys.matches(kept, made.key)
    assert not api_keys.matches(kept, made.key[:-1] + ("A" if made.key[-1] != "A" else "B"))


def test_unknown_key_id_is_none(store: ApiKeyStore) -> None:
    assert store.get("0123456789abcdef") is None


def test_a_key_id_is_added_once(store: ApiKeyStore) -> None:
    made = api_keys.new_key("Checkout", NOW)
    store.add(made.record)
    with pytest.raises(ValueError):
        store.add(made.record)


def test_list_is_oldest_first_and_holds_no_secret(store: ApiKeyStore) -> None:
    first = api_keys.new_key("CRM", NOW)
    second = api_keys.new_key("POS", NOW + timedelta(seconds=1))
    store.add(second.record)
    store.add(first.record)
    listed = store.list()
    assert [record.key_id for record in listed] == [first.record.key_id, second.record.key_id]
    assert all(first.key not in repr(record) for record in listed)


def test_revoke_stops_the_key_and_keeps_the_first_time(store: ApiKeyStore) -> None:
    made = api_keys.new_key("CRM", NOW)
    store.add(made.record)
    revoked = store.revoke(made.record.key_id, now=NOW + timedelta(minutes=1))
    assert revoked.revoked_at == NOW + timedelta(minutes=1)
    again = store.revoke(made.record.key_id, now=NOW + timedelta(minutes=2))
    assert again.revoked_at == NOW + timedelta(minutes=1)
    kept = store.get(made.record.key_id)
    assert kept is not None and not kept.active
    assert not api_keys.matches(kept, made.key)


def test_revoking_an_unknown_key_says_so(store: ApiKeyStore) -> None:
    with pytest.raises(KeyNotFound):
        store.revoke("0123456789abcdef", now=NOW)
