"""The ExecutionReader port's contract, against the in-memory fake and against the Step
Functions adapter through boto3 on the local engine's standalone server (the JSON API AWS
serves): describe, every page of the history up to a cap, the definition."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from local.stepfunctions.server import Server
from optin.adapters.sfn_execution_reader import SfnExecutionReader
from optin.domain.clock import from_iso, to_iso
from optin.ports.execution_reader import ExecutionInfo, ExecutionReader
from tests.fakes.execution_reader import MemoryExecutionReader
from tests.support.aws import local_client
from tests.unit.asl.conftest import ROLE, FakeLambdas

# Three Pass states: 8 history events (started, 3 × entered/exited, succeeded).
THREE_STEPS = {
    "StartAt": "One",
    "States": {
        "One": {"Type": "Pass", "Next": "Two"},
        "Two": {"Type": "Pass", "Next": "Three"},
        "Three": {"Type": "Pass", "End": True},
    },
}
EVENT_TYPES = [
    "ExecutionStarted",
    *(["PassStateEntered", "PassStateExited"] * 3),
    "ExecutionSucceeded",
]


@dataclass
class Subject:
    reader: ExecutionReader
    run: Callable[[str], str]  # start an execution named so, wait for its end; its ARN
    small_pages: ExecutionReader  # the same, reading the history two events a call


def memory() -> Iterator[Subject]:
    fake = MemoryExecutionReader(asl=THREE_STEPS)

    def run(name: str) -> str:
        arn = fake.execution_arn(name)
        start = datetime.now(UTC)
        events = [
            {"timestamp": to_iso(start + timedelta(milliseconds=i)), "type": kind, "id": i + 1}
            for i, kind in enumerate(EVENT_TYPES)
        ]
        fake.add(
            ExecutionInfo(arn, fake.state_machine_arn, "SUCCEEDED", start, start + timedelta(1)),
            events,
        )
        return arn

    yield Subject(fake, run, fake)


def step_functions(tmp_path: Path) -> Iterator[Subject]:
    server = Server(tmp_path / "sfn.db", invoker=FakeLambdas()).start()
    client = local_client("stepfunctions", server.url)
    machine = client.create_state_machine(
        name="Registration", definition=json.dumps(THREE_STEPS), roleArn=ROLE
    )["stateMachineArn"]

    def run(name: str) -> str:
        arn = str(
            client.start_execution(stateMachineArn=machine, name=name, input="{}")["executionArn"]
        )
        deadline = time.monotonic() + 10
        while client.describe_execution(executionArn=arn)["status"] == "RUNNING":
            assert time.monotonic() < deadline, "the execution did not finish"
            time.sleep(0.02)
        return arn

    try:
        yield Subject(
            SfnExecutionReader(machine, client_factory=lambda: client),
            run,
            SfnExecutionReader(machine, client_factory=lambda: client, page_size=2),
        )
    finally:
        server.stop()


@pytest.fixture(params=["memory", "step_functions"])
def subject(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Subject]:
    yield from memory() if request.param == "memory" else step_functions(tmp_path)


def test_describe_a_finished_execution(subject: Subject) -> None:
    name = uuid.uuid4().hex
    arn = subject.run(name)
    assert arn == subject.reader.execution_arn(name)
    info = subject.reader.describe(arn)
    assert info is not None
    assert info.status == "SUCCEEDED" and info.execution_arn == arn
    assert info.stop_date is not None and info.start_date <= info.stop_date
    shown = info.as_dict()
    assert shown["executionArn"] == arn and shown["status"] == "SUCCEEDED"
    assert from_iso(shown["startDate"]) == info.start_date.astimezone(UTC)


def test_an_unknown_execution_is_none_and_has_no_history(subject: Subject) -> None:
    arn = subject.reader.execution_arn("never-started")
    assert subject.reader.describe(arn) is None
    history = subject.reader.history(arn)
    assert history.events == [] and history.truncated is False


def test_the_whole_history_in_order_with_iso_timestamps(subject: Subject) -> None:
    arn = subject.run(uuid.uuid4().hex)
    for reader in (subject.reader, subject.small_pages):
        history = reader.history(arn)
        assert [event["type"] for event in history.events] == EVENT_TYPES
        assert history.truncated is False
        ids = [event["id"] for event in history.events]
        assert ids == sorted(ids) and len(set(ids)) == len(ids)
        for event in history.events:
            assert isinstance(event["timestamp"], str)
            from_iso(event["timestamp"])  # ISO-8601, or this raises
        json.dumps(history.events)  # plain JSON: nothing left for the handler to convert


def test_a_longer_history_is_cut_at_the_cap_and_says_so(subject: Subject) -> None:
    arn = subject.run(uuid.uuid4().hex)
    for reader in (subject.reader, subject.small_pages):
        capped = reader.history(arn, max_events=3)
        assert [event["type"] for event in capped.events] == EVENT_TYPES[:3]
        assert capped.truncated is True
        exact = reader.history(arn, max_events=len(EVENT_TYPES))
        assert len(exact.events) == len(EVENT_TYPES) and exact.truncated is False


def test_the_definition_is_the_state_machine_s(subject: Subject) -> None:
    definition: dict[str, Any] = subject.reader.definition()
    assert definition == THREE_STEPS
