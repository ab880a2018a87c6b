"""Fixtures: a StepFunctionsService on a temporary database with fake Lambda functions."""

from __future__ import annotations

import json
import pathlib
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from local.stepfunctions import StepFunctionsService
from local.stepfunctions.clock import Clock, ManualClock

ROLE = "arn:aws:iam::123456789012:role/test"


class FakeLambdas:
    """Functions keyed by the last segment of the name or ARN; records every call."""

    def __init__(self) -> None:
        self.functions: dict[str, Callable[[Any], Any]] = {}
        self.calls: list[tuple[str, Any]] = []
        self._lock = threading.Lock()

    def add(self, name: str, fn: Callable[[Any], Any]) -> None:
        self.functions[name] = fn

    def invoke(self, function_name: str, payload: Any) -> Any:
        name = function_name.split(":function:")[-1].split(":")[0]
        with self._lock:
            self.calls.append((name, payload))
        return self.functions[name](payload)

    def count(self, name: str) -> int:
        with self._lock:
            return sum(1 for n, _ in self.calls if n == name)


class Harness:
    def __init__(self, db: pathlib.Path, lambdas: FakeLambdas, clock: Clock | None = None) -> None:
        self.db = db
        self.lambdas = lambdas
        self.svc = StepFunctionsService(db, lambdas, workers=4, clock=clock)
        self.svc.start()

    def machine(self, definition: dict[str, Any] | str, name: str = "m") -> str:
        text = definition if isinstance(definition, str) else json.dumps(definition)
        return self.svc.upsert_state_machine(name, text, ROLE)

    def start(self, sm_arn: str, input_value: Any = None, name: str | None = None) -> str:
        req: dict[str, Any] = {"stateMachineArn": sm_arn, "input": json.dumps(input_value or {})}
        if name:
            req["name"] = name
        return str(self.svc.start_execution(req)["executionArn"])

    def run(
        self, definition: dict[str, Any], input_value: Any = None, timeout: float = 10
    ) -> dict[str, Any]:
        arn = self.start(self.machine(definition), input_value)
        return self.svc.wait_for(arn, timeout)

    def history(self, arn: str) -> list[dict[str, Any]]:
        return list(
            self.svc.get_execution_history({"executionArn": arn, "maxResults": 1000})["events"]
        )


@pytest.fixture
def lambdas() -> FakeLambdas:
    return FakeLambdas()


@pytest.fixture
def harness(tmp_path: pathlib.Path, lambdas: FakeLambdas) -> Iterator[Harness]:
    h = Harness(tmp_path / "sfn.db", lambdas)
    yield h
    h.svc.stop()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def timed(tmp_path: pathlib.Path, lambdas: FakeLambdas, clock: ManualClock) -> Iterator[Harness]:
    """A harness on a ManualClock: timers fire when the test moves the clock, not by waiting."""
    h = Harness(tmp_path / "sfn.db", lambdas, clock)
    yield h
    h.svc.stop()


def output(desc: dict[str, Any]) -> Any:
    assert desc["status"] == "SUCCEEDED", desc
    return json.loads(desc["output"])
