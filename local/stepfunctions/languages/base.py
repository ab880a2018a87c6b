"""The interface every query language implements: how a state reads its input and shapes
its output. The engine talks only to this, so JSONPath and JSONata states mix in one machine."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .scope import Scope


@dataclass
class MapPlan:
    items: list[Any]
    max_concurrency: int
    tolerated_count: float | None = None
    tolerated_percentage: float | None = None


class QueryLanguage:
    """Interface; each method returns plain values and raises StatesError."""

    def pass_state(self, state: dict[str, Any], scope: Scope) -> tuple[Any, Any, Any]:
        raise NotImplementedError

    def choice_state(self, state: dict[str, Any], scope: Scope) -> tuple[str, Any, Any]:
        raise NotImplementedError

    def wait_state(self, state: dict[str, Any], scope: Scope, now: float) -> tuple[float, Any, Any]:
        """(when the wait ends, output, variables to assign); `now` is the engine's clock."""
        raise NotImplementedError

    def succeed_state(self, state: dict[str, Any], scope: Scope) -> Any:
        raise NotImplementedError

    def fail_state(self, state: dict[str, Any], scope: Scope) -> tuple[str | None, str | None]:
        raise NotImplementedError

    def task_arguments(self, state: dict[str, Any], scope: Scope) -> Any:
        raise NotImplementedError

    def task_timeouts(
        self, state: dict[str, Any], scope: Scope
    ) -> tuple[float | None, float | None]:
        raise NotImplementedError

    def task_output(self, state: dict[str, Any], scope: Scope, result: Any) -> tuple[Any, Any]:
        raise NotImplementedError

    def catch_output(
        self, catcher: dict[str, Any], scope: Scope, error_output: dict[str, Any]
    ) -> tuple[Any, Any]:
        raise NotImplementedError

    def parallel_input(self, state: dict[str, Any], scope: Scope) -> Any:
        raise NotImplementedError

    def map_plan(self, state: dict[str, Any], scope: Scope) -> MapPlan:
        raise NotImplementedError

    def map_item_input(self, state: dict[str, Any], scope: Scope, item: Any) -> Any:
        raise NotImplementedError
