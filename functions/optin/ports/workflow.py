"""Workflow port: the registration state machine (AWS Step Functions)."""

from __future__ import annotations

from typing import Any, Protocol


class Workflow(Protocol):
    def start(self, name: str, payload: dict[str, Any]) -> str:
        """Start an execution named `name` with `payload` as input; return its ARN."""
        ...

    def succeed(self, task_token: str, output: dict[str, Any]) -> None:
        """SendTaskSuccess. Raises TaskTokenGone when the task is over (timed out, done)."""
        ...

    def fail(self, task_token: str, *, error: str, cause: str) -> None:
        """SendTaskFailure. Raises TaskTokenGone when the task is over."""
        ...
