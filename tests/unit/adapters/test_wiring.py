"""The composition root reads the environment at call time and caches per environment."""

from __future__ import annotations

import socket

import pytest

from optin import wiring
from optin.adapters.dynamodb_contact_store import DynamoDbContactStore
from optin.adapters.eum_sms_sender import EumSmsSender
from optin.adapters.sfn_workflow import SfnWorkflow
from optin.adapters.sqlite_contact_store import SqliteContactStore
from optin.domain.errors import ConfigError, StoreUnavailable
from optin.handlers import validate_number
from optin.usecases.webhooks import OutboxContactStore
from tests.fakes.contact_store import MemoryContactStore


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in (
        "CONTACT_STORE",
        "SQLITE_PATH",
        "CONTACTS_TABLE",
        "ALLOWED_COUNTRIES",
        "STATE_MACHINE_ARN",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_DYNAMODB",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    wiring.reset_cache()
    yield
    wiring.reset_cache()


def test_sqlite_store_from_env(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("CONTACT_STORE", "sqlite")
    monkeypatch.setenv("SQLITE_PATH", str(tmp_path / "c.db"))
    deps = wiring.dependencies()
    # Wrapped once by the webhook outbox (usecases/webhooks.py), around the adapter.
    assert isinstance(deps.store, OutboxContactStore)
    assert isinstance(deps.store.inner, SqliteContactStore)
    assert isinstance(deps.sms, EumSmsSender) and isinstance(deps.workflow, SfnWorkflow)
    # Cached: a warm container reuses what it built.
    assert wiring.dependencies().store is deps.store
    # Another path (another function's environment in the same process): another store.
    monkeypatch.setenv("SQLITE_PATH", str(tmp_path / "other.db"))
    assert wiring.dependencies().store is not deps.store


def test_sqlite_without_a_path_is_a_clear_config_error(monkeypatch) -> None:
    monkeypatch.setenv("CONTACT_STORE", "sqlite")
    with pytest.raises(ConfigError, match="SQLITE_PATH"):
        wiring.dependencies()


def test_dynamodb_store_from_env(monkeypatch) -> None:
    monkeypatch.setenv("CONTACT_STORE", "dynamodb")
    monkeypatch.setenv("CONTACTS_TABLE", "Contacts-1")
    store = wiring.dependencies().store.inner
    assert isinstance(store, DynamoDbContactStore) and store.table_name == "Contacts-1"
    assert wiring.dependencies().store.inner is store  # a warm container reuses it
    # Another table, or another DynamoDB endpoint (the local runtime sets one per
    # invocation): another store, so no client is shared between them.
    monkeypatch.setenv("CONTACTS_TABLE", "Contacts-2")
    other_table = wiring.dependencies().store.inner
    assert other_table is not store and other_table.table_name == "Contacts-2"
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:8000")
    assert wiring.dependencies().store.inner is not other_table


def test_dynamodb_without_a_table_is_a_clear_config_error(monkeypatch) -> None:
    monkeypatch.setenv("CONTACT_STORE", "dynamodb")
    monkeypatch.setenv("CONTACTS_TABLE", "  ")
    with pytest.raises(ConfigError, match="CONTACTS_TABLE"):
        wiring.dependencies()


def test_dynamodb_client_uses_the_invocations_endpoint(monkeypatch) -> None:
    """The client is made on first use, from the environment of that invocation: here a
    port nobody listens on, so the call fails as a network error, StoreUnavailable."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead_port = probe.getsockname()[1]
    monkeypatch.setenv("CONTACT_STORE", "dynamodb")
    monkeypatch.setenv("CONTACTS_TABLE", "Contacts")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    store = wiring.dependencies().store
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", f"http://127.0.0.1:{dead_port}")
    with pytest.raises(StoreUnavailable, match="GetItem"):
        store.get("+12065550100")


def test_unknown_store_kind(monkeypatch) -> None:
    monkeypatch.setenv("CONTACT_STORE", "postgres")
    with pytest.raises(ConfigError, match="CONTACT_STORE"):
        wiring.dependencies()


def test_settings_are_read_per_invocation(monkeypatch, lambda_context, tmp_path) -> None:
    monkeypatch.setenv("CONTACT_STORE", "sqlite")
    monkeypatch.setenv("SQLITE_PATH", str(tmp_path / "contacts.db"))
    monkeypatch.setenv("ALLOWED_COUNTRIES", "US,CA")
    assert validate_number.handler({"phoneNumber": "+447400123456"}, lambda_context)["code"] == (
        "country_not_allowed"
    )
    monkeypatch.setenv("ALLOWED_COUNTRIES", "GB")
    assert validate_number.handler({"phoneNumber": "+447400123456"}, lambda_context)["acceptable"]


def test_override_wins_and_is_undone(world, monkeypatch) -> None:
    assert wiring.dependencies() is world.deps
    assert wiring.settings() is world.settings


def test_override_nesting() -> None:
    from optin.domain.settings import Settings
    from tests.fakes.sms_sender import MemorySmsSender
    from tests.fakes.workflow import MemoryWorkflow

    outer = wiring.Dependencies(
        Settings(), MemoryContactStore(), MemorySmsSender(), MemoryWorkflow()
    )
    inner = wiring.Dependencies(
        Settings(), MemoryContactStore(), MemorySmsSender(), MemoryWorkflow()
    )
    with wiring.override(outer):
        with wiring.override(inner):
            assert wiring.dependencies() is inner
        assert wiring.dependencies() is outer


def test_every_handler_imports_with_no_environment_at_all() -> None:
    """Settings and adapters are built per call, so a module imports (a Lambda cold start,
    a test) with nothing set; only the sign-up's CORS origins are read at import, and their
    absence means no CORS."""
    import importlib
    import os
    from unittest import mock

    from optin.handlers import (
        contact_status,
        create_contact,
        expire,
        inbound_sms,
        opt_in,
        send_confirmation,
        signup,
        validate_number,
    )

    modules = (
        contact_status,
        create_contact,
        expire,
        inbound_sms,
        opt_in,
        send_confirmation,
        signup,
        validate_number,
    )
    with mock.patch.dict(os.environ, {}, clear=True):
        assert os.environ.get("CONTACT_STORE") is None and not os.environ
        for module in modules:
            importlib.reload(module)
        assert signup._cors() is None
    for module in modules:
        importlib.reload(module)


def test_the_defences_are_built_from_env_and_a_missing_captcha_key_is_a_config_error(
    monkeypatch, tmp_path
) -> None:
    from optin.adapters.altcha_captcha import AltchaCaptcha
    from optin.adapters.dynamodb_rate_limiter import DynamoDbRateLimiter
    from optin.adapters.sqlite_rate_limiter import SqliteRateLimiter

    monkeypatch.setenv("CONTACT_STORE", "sqlite")
    monkeypatch.setenv("SQLITE_PATH", str(tmp_path / "c.db"))
    for name in ("CAPTCHA_REQUIRED", "CAPTCHA_HMAC_KEY"):
        monkeypatch.delenv(name, raising=False)
    deps = wiring.dependencies()
    assert isinstance(deps.limiter, SqliteRateLimiter)
    # A function that takes no form is not given CAPTCHA_REQUIRED, and builds no CAPTCHA.
    assert deps.captcha is None
    monkeypatch.setenv("CAPTCHA_REQUIRED", "true")
    monkeypatch.setenv("CAPTCHA_HMAC_KEY", "{{resolve:secretsmanager:CaptchaHmacSecret}}")
    with pytest.raises(ConfigError, match="CAPTCHA_HMAC_KEY"):
        wiring.dependencies()
    monkeypatch.setenv("CAPTCHA_HMAC_KEY", "short")
    with pytest.raises(ConfigError, match="CAPTCHA_HMAC_KEY"):
        wiring.dependencies()
    monkeypatch.setenv("CAPTCHA_HMAC_KEY", "k" * 32)
    assert isinstance(wiring.dependencies().captcha, AltchaCaptcha)
    monkeypatch.setenv("CAPTCHA_REQUIRED", "false")
    assert wiring.dependencies().captcha is None
    monkeypatch.setenv("CONTACT_STORE", "dynamodb")
    monkeypatch.setenv("CONTACTS_TABLE", "Contacts-1")
    assert isinstance(wiring.dependencies().limiter, DynamoDbRateLimiter)
