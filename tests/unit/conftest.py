"""Fixtures for the Lambda code's unit tests: in-memory adapters wired in through
`wiring.override`, a settable clock, a Lambda context and the JSON event fixtures."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from optin import wiring
from optin.domain.settings import Settings
from tests.fakes.contact_store import MemoryContactStore
from tests.fakes.sms_sender import MemorySmsSender
from tests.fakes.workflow import MemoryWorkflow

EVENTS = Path(__file__).parent / "events"
NUMBER = "+12065550100"
OUR_NUMBER = "+12065550142"


class FakeClock:
    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 11, 1, 12, 0, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class LambdaContextStub:
    function_name: str = "test-function"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:test-function"
    aws_request_id: str = "00000000-0000-0000-0000-000000000000"
    log_group_name: str = "/aws/lambda/test-function"
    log_stream_name: str = "2026/11/01/[$LATEST]0000"

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


@dataclass
class World:
    """Everything a handler sees, as in-memory fakes the tests can inspect."""

    settings: Settings
    store: MemoryContactStore
    sms: MemorySmsSender
    workflow: MemoryWorkflow
    clock: FakeClock
    deps: wiring.Dependencies


def _load_event(name: str) -> dict[str, Any]:
    return copy.deepcopy(json.loads((EVENTS / name).read_text()))


def _settings(**overrides: Any) -> Settings:
    base = Settings(
        contact_store="sqlite",
        origination_identity=OUR_NUMBER,
        state_machine_arn="arn:aws:states:us-east-1:123456789012:stateMachine:Registration",
    )
    return Settings(**{**base.__dict__, **overrides})


@pytest.fixture
def load_event() -> Any:
    """load_event("apigw_post_signup.json") -> a fresh copy of a fixture event."""
    return _load_event


@pytest.fixture
def make_settings() -> Any:
    """make_settings(resend_cooldown_seconds=0, ...) -> Settings for tests."""
    return _settings


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def world(clock: FakeClock) -> Iterator[World]:
    settings = _settings()
    store = MemoryContactStore()
    sms = MemorySmsSender()
    workflow = MemoryWorkflow(state_machine_arn=settings.state_machine_arn)
    deps = wiring.Dependencies(
        settings=settings, store=store, sms=sms, workflow=workflow, clock=clock
    )
    with wiring.override(deps):
        yield World(settings, store, sms, workflow, clock, deps)


@pytest.fixture
def lambda_context() -> LambdaContextStub:
    return LambdaContextStub()


@pytest.fixture
def call_partner_api(lambda_context: LambdaContextStub) -> Any:
    """call_partner_api(method, path, headers, body=None, query=None) -> (status, response
    headers, raw body): the partner API's handler with a REST API proxy event for the route."""
    from optin.handlers import partner_api

    def call(
        method: str,
        path: str,
        headers: dict[str, str],
        body: str | None = None,
        query: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, str], str]:
        event = _load_event("apigw_get_contact.json")
        event.update(
            httpMethod=method,
            path=path,
            resource=path,
            queryStringParameters=query,
            multiValueQueryStringParameters=None,
            pathParameters=None,
            body=body,
            headers=headers,
            multiValueHeaders={name: [value] for name, value in headers.items()},
        )
        event["requestContext"].update(httpMethod=method, path=f"/Prod{path}")
        answer = partner_api.handler(event, lambda_context)
        got = dict(answer.get("headers") or {})
        got.update({k: v[-1] for k, v in (answer.get("multiValueHeaders") or {}).items()})
        return answer["statusCode"], got, answer["body"]

    return call
