"""Fixtures the integration tests share."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from optin.adapters.dynamodb_contact_store import DynamoDbContactStore
from optin.adapters.sqlite_contact_store import SqliteContactStore
from optin.ports.contact_store import ContactStore
from tests.fakes.contact_store import MemoryContactStore
from tests.support import dynamodb


@pytest.fixture(params=["memory", "sqlite", "dynamodb"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ContactStore]:
    """Each contact store in turn: the in-memory fake, SQLite, DynamoDB (moto). A module that
    needs another kind of store (API keys) defines its own `store`."""
    if request.param == "memory":
        yield MemoryContactStore()
    elif request.param == "sqlite":
        sqlite_store = SqliteContactStore(tmp_path / "contacts.db")
        yield sqlite_store
        sqlite_store.close()
    else:
        with dynamodb.moto_dynamodb():
            yield DynamoDbContactStore(dynamodb.CONTACTS_TABLE, dynamodb.client)
