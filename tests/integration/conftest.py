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
from tests.support.cli import Optin, install
from tests.support.runtime import LocalRuntime


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


@pytest.fixture(scope="session")
def moto_runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRuntime]:
    """A runtime with its stores in DynamoDB on a moto server of its own, whatever TEST_DYNAMODB
    says, shared by the modules that need one (each start is a moto server, the runtime and its
    Lambda workers). Its tests use their own numbers; kills and restarts start their own."""
    rt = LocalRuntime(Path(tmp_path_factory.mktemp("moto")) / "runtime", dynamodb="moto")
    rt.start()
    try:
        yield rt
    finally:
        rt.stop()


@pytest.fixture(scope="session")
def optin_cli(tmp_path_factory: pytest.TempPathFactory) -> Optin:
    """The `optin` executable, installed once per session as `make setup` installs it."""
    return install(Path(tmp_path_factory.mktemp("optin-cli")))
