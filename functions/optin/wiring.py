"""Composition root: Settings and adapters from the environment, at call time.

Nothing here runs at import time: tests change the environment between invocations in one
process. Built objects are cached on the values of the environment variables they depend on:
a warm Lambda (or a warm worker of the local runtime, which runs each function in its own
processes with its own environment, as Lambda does) builds them once, and a test that changes
a variable gets new ones.

Tests replace everything with `with wiring.override(Dependencies(...)):`.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, TypeVar

from aws_lambda_powertools.utilities.idempotency import BasePersistenceLayer

from optin.domain.clock import Clock, utc_now
from optin.domain.errors import ConfigError, SmsConfigurationError
from optin.domain.settings import Settings
from optin.observability import count_blocked_attempt, count_configuration_error
from optin.ports.api_keys import ApiKeyStore
from optin.ports.captcha import Captcha
from optin.ports.contact_store import ContactStore
from optin.ports.execution_reader import ExecutionReader
from optin.ports.number_lookup import NumberLookup
from optin.ports.rate_limiter import RateLimiter
from optin.ports.sms_sender import SmsSender
from optin.ports.webhooks import DispatchNudge, WebhookPoster, WebhookStore
from optin.ports.workflow import Workflow
from optin.usecases.base import UseCase
from optin.usecases.console import Console
from optin.usecases.console_actions import ConsoleActions
from optin.usecases.defences import Defences
from optin.usecases.inbound import InboundTexts
from optin.usecases.partner import Partners
from optin.usecases.signup import Signups
from optin.usecases.support import Support
from optin.usecases.webhooks import OutboxContactStore, Webhooks
from optin.usecases.workflow_steps import WorkflowSteps

U = TypeVar("U", bound=UseCase)
T = TypeVar("T")


@dataclass
class Dependencies:
    settings: Settings
    store: ContactStore
    sms: SmsSender
    workflow: Workflow
    clock: Clock = field(default=utc_now)
    lookup: NumberLookup | None = None
    on_configuration_error: Callable[[SmsConfigurationError], None] = field(
        default=lambda _error: None
    )
    reader: ExecutionReader | None = None
    # CONFIRMATION_WINDOW_SECONDS: the template's ConfirmationWindowSeconds, for the console.
    confirmation_window_seconds: int | None = None
    # The partner API's keys (same store kind and place as the contacts).
    api_keys: ApiKeyStore | None = None
    # The partner API's Idempotency-Key records (Powertools persistence layer).
    idempotency: BasePersistenceLayer | None = None
    # Webhooks: endpoints and deliveries (beside the contacts), the POST, the nudge.
    webhook_store: WebhookStore | None = None
    webhook_poster: WebhookPoster | None = None
    nudger: DispatchNudge | None = None
    allow_private_webhooks: bool = False
    webhook_retry_base_seconds: float | None = None

    # The pumping defences' store and the form's CAPTCHA. dependencies() always builds the
    # limiter, and the CAPTCHA whenever CAPTCHA_REQUIRED is on; a test's override without
    # them runs without those defences.
    limiter: RateLimiter | None = None
    captcha: Captcha | None = None
    on_blocked: Callable[[str], None] = field(default=lambda _reason: None)

    def _use_case(self, kind: type[U]) -> U:
        return kind(
            settings=self.settings,
            store=self.store,
            sms=self.sms,
            workflow=self.workflow,
            clock=self.clock,
            lookup=self.lookup,
            on_configuration_error=self.on_configuration_error,
        )

    @property
    def signups(self) -> Signups:
        return self._use_case(Signups)

    @property
    def steps(self) -> WorkflowSteps:
        return self._use_case(WorkflowSteps)

    @property
    def inbound(self) -> InboundTexts:
        return self._use_case(InboundTexts)

    @property
    def support(self) -> Support:
        return self._use_case(Support)

    @property
    def console_actions(self) -> ConsoleActions:
        return self._use_case(ConsoleActions)

    @property
    def partners(self) -> Partners:
        if self.api_keys is None:
            raise ConfigError("The partner API needs an API key store (CONTACT_STORE).")
        return Partners(
            keys=self.api_keys,
            store=self.store,
            signups=self.signups,
            actions=self.console_actions,
            clock=self.clock,
        )

    @property
    def webhooks(self) -> Webhooks:
        if self.webhook_store is None:
            raise ConfigError("Webhooks need a webhook store (CONTACT_STORE).")
        made = Webhooks(
            store=self.webhook_store,
            poster=self.webhook_poster,
            nudger=self.nudger,
            clock=self.clock,
            allow_private=self.allow_private_webhooks,
        )
        if self.webhook_retry_base_seconds is not None:
            made.retry_base = timedelta(seconds=self.webhook_retry_base_seconds)
        return made

    @property
    def defences(self) -> Defences:
        return Defences(
            settings=self.settings,
            limiter=self.limiter,
            captcha=self.captcha,
            clock=self.clock,
            on_blocked=self.on_blocked,
        )

    @property
    def console(self) -> Console:
        if self.reader is None:
            raise ConfigError("The console needs an execution reader (STATE_MACHINE_ARN).")
        return Console(
            store=self.store,
            reader=self.reader,
            clock=self.clock,
            window_seconds=self.confirmation_window_seconds,
            allowed_countries=self.settings.allowed_countries,
            limiter=self.limiter,
        )


_lock = threading.RLock()
_cache: dict[tuple[Any, ...], Any] = {}
_overrides: list[Dependencies] = []

# Environment variables boto3 reads when it builds a client; part of the cache key so a
# client built for one endpoint/region/account is never reused for another.
_AWS_ENV = (
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ENDPOINT_URL",
    "AWS_ACCESS_KEY_ID",
    "AWS_PROFILE",
)


def _cached(key: tuple[Any, ...], build: Callable[[], T]) -> T:
    with _lock:
        if key not in _cache:
            _cache[key] = build()
        built: T = _cache[key]
        return built


def _aws_key(env: Mapping[str, str], *extra: str) -> tuple[str | None, ...]:
    return tuple(env.get(name) for name in (*_AWS_ENV, *extra))


def _store(settings: Settings, env: Mapping[str, str]) -> ContactStore:
    kind = settings.contact_store
    if kind == "sqlite":
        if not settings.sqlite_path:
            raise ConfigError("CONTACT_STORE is sqlite but SQLITE_PATH is empty.")
        from optin.adapters.sqlite_contact_store import SqliteContactStore

        path = os.path.abspath(settings.sqlite_path)
        return _cached(("store", "sqlite", path), lambda: SqliteContactStore(path))
    if kind == "dynamodb":
        table = settings.contacts_table
        if not table:
            raise ConfigError("CONTACT_STORE is dynamodb but CONTACTS_TABLE is empty.")
        from optin.adapters.dynamodb_contact_store import DynamoDbContactStore

        key = ("store", "dynamodb", table, *_aws_key(env, "AWS_ENDPOINT_URL_DYNAMODB"))
        return _cached(key, lambda: DynamoDbContactStore(table))
    raise ConfigError(f"CONTACT_STORE={kind} has no adapter; use sqlite or dynamodb.")


def _beside_contacts(
    kind: str,
    settings: Settings,
    env: Mapping[str, str],
    sqlite: Callable[[str], T],
    dynamodb: Callable[[str], T],
) -> T:
    """A store kept beside the contacts: in the SQLite file (its own tables), or in the contacts
    table (its own partitions). The factories import their adapter, so a function pays only
    for the one it uses."""
    if settings.contact_store == "sqlite":
        path = os.path.abspath(settings.sqlite_path)
        return _cached((kind, "sqlite", path), lambda: sqlite(path))
    table = settings.contacts_table
    key = (kind, "dynamodb", table, *_aws_key(env, "AWS_ENDPOINT_URL_DYNAMODB"))
    return _cached(key, lambda: dynamodb(table))


def _api_keys(settings: Settings, env: Mapping[str, str]) -> ApiKeyStore:
    """The SQLite file's api_keys table, or the contacts table's APIKEYS partition
    (ports/api_keys.py)."""

    def sqlite(path: str) -> ApiKeyStore:
        from optin.adapters.sqlite_api_key_store import SqliteApiKeyStore

        return SqliteApiKeyStore(path)

    def dynamodb(table: str) -> ApiKeyStore:
        from optin.adapters.dynamodb_api_key_store import DynamoDbApiKeyStore

        return DynamoDbApiKeyStore(table)

    return _beside_contacts("api-keys", settings, env, sqlite, dynamodb)


def _idempotency(settings: Settings, env: Mapping[str, str]) -> BasePersistenceLayer | None:
    """Locally the contact store's SQLite file; on AWS Powertools' DynamoDB layer on the
    IDEMPOTENCY_TABLE, which only the partner API's function is given."""
    if settings.contact_store == "sqlite":
        from optin.adapters.sqlite_idempotency import SqlitePersistenceLayer

        path = os.path.abspath(settings.sqlite_path)
        return _cached(("idempotency", "sqlite", path), lambda: SqlitePersistenceLayer(path))
    table = (env.get("IDEMPOTENCY_TABLE") or "").strip()
    if not table:
        return None
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

    key = ("idempotency", "dynamodb", table, *_aws_key(env, "AWS_ENDPOINT_URL_DYNAMODB"))
    return _cached(key, lambda: DynamoDBPersistenceLayer(table_name=table))


def _webhook_store(settings: Settings, env: Mapping[str, str]) -> WebhookStore:
    """Endpoints and deliveries, as the API keys are kept (ports/webhooks.py)."""

    def sqlite(path: str) -> WebhookStore:
        from optin.adapters.sqlite_webhook_store import SqliteWebhookStore

        return SqliteWebhookStore(path)

    def dynamodb(table: str) -> WebhookStore:
        from optin.adapters.dynamodb_webhook_store import DynamoDbWebhookStore

        return DynamoDbWebhookStore(table)

    return _beside_contacts("webhooks", settings, env, sqlite, dynamodb)


def _nudger(env: Mapping[str, str]) -> DispatchNudge | None:
    """WEBHOOK_DISPATCH_FUNCTION: the dispatcher, given to the functions that save (and to
    the partner API, for tests and replays); absent elsewhere, where nothing is nudged."""
    name = (env.get("WEBHOOK_DISPATCH_FUNCTION") or "").strip()
    if not name:
        return None
    from optin.adapters.lambda_nudge import LambdaNudge

    key = ("nudge", name, *_aws_key(env, "AWS_ENDPOINT_URL_LAMBDA"))
    return _cached(key, lambda: LambdaNudge(name))


def _flag(env: Mapping[str, str], name: str) -> bool:
    raw = (env.get(name) or "false").strip().lower()
    if raw not in ("true", "false"):
        raise ConfigError(f"{name} must be true or false: {raw!r}.")
    return raw == "true"


def _retry_base(env: Mapping[str, str]) -> float | None:
    raw = (env.get("WEBHOOK_RETRY_BASE_SECONDS") or "").strip()
    if not raw:
        return None
    try:
        seconds = float(raw)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds <= 3600:
        raise ConfigError(f"WEBHOOK_RETRY_BASE_SECONDS must be 0 to 3600 seconds: {raw!r}.")
    return seconds


def _limiter(settings: Settings, env: Mapping[str, str]) -> RateLimiter:
    """The SQLite file's own tables, or the contacts table's RATE#, CHALLENGE# and BLOCKED#
    partitions (ports/rate_limiter.py)."""

    def sqlite(path: str) -> RateLimiter:
        from optin.adapters.sqlite_rate_limiter import SqliteRateLimiter

        return SqliteRateLimiter(path)

    def dynamodb(table: str) -> RateLimiter:
        from optin.adapters.dynamodb_rate_limiter import DynamoDbRateLimiter

        return DynamoDbRateLimiter(table)

    return _beside_contacts("limiter", settings, env, sqlite, dynamodb)


def _captcha(settings: Settings, env: Mapping[str, str]) -> Captcha | None:
    # Only the sign-up function is given CAPTCHA_REQUIRED (template.yaml): the others take
    # no form and need no key.
    if "CAPTCHA_REQUIRED" not in env or not settings.captcha_required:
        return None
    key = settings.captcha_hmac_key
    # An unresolved dynamic reference is a template that was not deployed through
    # CloudFormation (or a local run without local/env.json's key).
    if len(key) < 32 or key.startswith("{{resolve:"):
        raise ConfigError(
            "CAPTCHA_REQUIRED is on but CAPTCHA_HMAC_KEY is not a key of at least 32 characters."
        )
    from optin.adapters.altcha_captcha import AltchaCaptcha

    return _cached(
        ("captcha", key, settings.captcha_max_number),
        lambda: AltchaCaptcha(key, max_number=settings.captcha_max_number),
    )


def _sms(settings: Settings, env: Mapping[str, str]) -> SmsSender:
    from optin.adapters.eum_sms_sender import EumSmsSender

    key = (
        "sms",
        settings.origination_identity,
        settings.configuration_set_name,
        settings.opt_out_list_name,
        settings.max_price_per_message,
        *_aws_key(env, "AWS_ENDPOINT_URL_PINPOINT_SMS_VOICE_V2"),
    )
    return _cached(
        key,
        lambda: EumSmsSender(
            settings.origination_identity,
            configuration_set=settings.configuration_set_name,
            opt_out_list=settings.opt_out_list_name,
            max_price=settings.max_price_per_message,
        ),
    )


def _lookup(settings: Settings, env: Mapping[str, str]) -> NumberLookup | None:
    if not settings.carrier_lookup:
        return None
    from optin.adapters.eum_carrier_lookup import EumCarrierLookup

    key = ("lookup", *_aws_key(env, "AWS_ENDPOINT_URL_PINPOINT_SMS_VOICE_V2"))
    return _cached(key, EumCarrierLookup)


def _workflow(settings: Settings, env: Mapping[str, str]) -> Workflow:
    from optin.adapters.sfn_workflow import SfnWorkflow

    key = ("sfn", settings.state_machine_arn, *_aws_key(env, "AWS_ENDPOINT_URL_SFN"))
    return _cached(key, lambda: SfnWorkflow(settings.state_machine_arn))


def _reader(settings: Settings, env: Mapping[str, str]) -> ExecutionReader:
    from optin.adapters.sfn_execution_reader import SfnExecutionReader

    key = ("sfn-reader", settings.state_machine_arn, *_aws_key(env, "AWS_ENDPOINT_URL_SFN"))
    return _cached(key, lambda: SfnExecutionReader(settings.state_machine_arn))


def _window(env: Mapping[str, str]) -> int | None:
    raw = (env.get("CONFIRMATION_WINDOW_SECONDS") or "").strip()
    if not raw:
        return None
    if not raw.isdigit() or int(raw) < 1:
        raise ConfigError(
            f"CONFIRMATION_WINDOW_SECONDS must be a whole number of seconds: {raw!r}."
        )
    return int(raw)


def settings() -> Settings:
    """Settings for the current invocation (the override's, in tests)."""
    with _lock:
        if _overrides:
            return _overrides[-1].settings
    return Settings.from_mapping(os.environ)


def dependencies() -> Dependencies:
    """Everything a handler needs, for the current invocation's environment."""
    with _lock:
        if _overrides:
            return _overrides[-1]
    env = dict(os.environ)
    current = Settings.from_mapping(env)
    inner = _store(current, env)  # first: it says what is wrong with the store settings
    webhook_store = _webhook_store(current, env)
    nudger = _nudger(env)
    allow_private = _flag(env, "WEBHOOK_ALLOW_PRIVATE_TARGETS")
    # Every save may report a status change to its partner: the outbox wraps the store here,
    # once, instead of in each use case (usecases/webhooks.py).
    store = _cached(
        ("outbox", id(inner), id(webhook_store), id(nudger)),
        lambda: OutboxContactStore(inner, webhook_store, nudger),
    )
    # The boto3 adapters create their clients on first use, so functions that never
    # text or call Step Functions never pay for a client.
    return Dependencies(
        settings=current,
        store=store,
        sms=_sms(current, env),
        workflow=_workflow(current, env),
        lookup=_lookup(current, env),
        on_configuration_error=count_configuration_error,
        reader=_reader(current, env),
        confirmation_window_seconds=_window(env),
        api_keys=_api_keys(current, env),
        idempotency=_idempotency(current, env),
        webhook_store=webhook_store,
        webhook_poster=_poster(allow_private),
        nudger=nudger,
        allow_private_webhooks=allow_private,
        webhook_retry_base_seconds=_retry_base(env),
        limiter=_limiter(current, env),
        captcha=_captcha(current, env),
        on_blocked=count_blocked_attempt,
    )


def _poster(allow_private: bool) -> WebhookPoster:
    from optin.adapters.http_webhook_poster import HttpWebhookPoster

    return _cached(
        ("poster", allow_private), lambda: HttpWebhookPoster(allow_private=allow_private)
    )


@contextmanager
def override(deps: Dependencies) -> Iterator[Dependencies]:
    """Use `deps` instead of the environment's adapters inside the block."""
    with _lock:
        _overrides.append(deps)
    try:
        yield deps
    finally:
        with _lock:
            _overrides.remove(deps)


def reset_cache() -> None:
    """Forget built adapters (tests, or a runtime that wants fresh clients)."""
    with _lock:
        _cache.clear()
