"""Workflow port: the registration state machine (AWS Step Functions)."""

from __future__ import annotations

from typing import Any, Protocol


class Workflow(Protocol):
    def start(self, name: str, payload: dict[str, Any]) -> str:
        """Start an execution named `name` with `payload` as input; return its ARN.

        Starting again while that execution runs with the same input returns the same ARN.
        Raises ExecutionAlreadyExists when the name belongs to an execution that is over."""
        ...

    def status(self, execution: str) -> str | None:
        """DescribeExecution's status (RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED, …) of
        an execution given by ARN, or by name within this state machine; None when Step
        Functions knows no such execution. Raises WorkflowUnavailable when it cannot say."""
        ...

    def stop(self, execution: str, *, error: str, cause: str) -> None:
        """StopExecution of an execution given by ARN, or by name within this state machine:
        it ends ABORTED with `error` and `cause` in its history. An execution that is over
        already, or that Step Functions does not know, is left as it is (no error). Raises
        WorkflowUnavailable when Step Functions cannot be asked."""
        ...

    def succeed(self, task_token: str, output: dict[str, Any]) -> None:
        """SendTaskSuccess. Raises TaskTokenGone when the task is over (timed out, done)."""
        ...

    def fail(self, task_token: str, *, error: str, cause: str) -> None:
        """SendTaskFailure. Raises TaskTokenGone when the task is over."""
        ...
