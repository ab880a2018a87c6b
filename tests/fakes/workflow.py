"""In-memory workflow: records starts and task callbacks; tokens can be made "gone"."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from optin.domain.errors import TaskTokenGone


@dataclass
class TaskCallback:
    task_token: str
    outcome: str  # "success" | "failure"
    output: dict[str, Any] | None = None
    error: str | None = None
    cause: str | None = None


@dataclass
class MemoryWorkflow:
    state_machine_arn: str = "arn:aws:states:us-east-1:123456789012:stateMachine:Registration"
    started: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    callbacks: list[TaskCallback] = field(default_factory=list)
    # Token -> Step Functions error code (TaskTimedOut, InvalidToken, TaskDoesNotExist).
    gone_tokens: dict[str, str] = field(default_factory=dict)
    # Tests set this to make StartExecution fail (e.g. WorkflowUnavailable).
    fail_start_with: Exception | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def start(self, name: str, payload: dict[str, Any]) -> str:
        with self._lock:
            if self.fail_start_with is not None:
                raise self.fail_start_with
            self.started.append((name, payload))
        arn = self.state_machine_arn.replace(":stateMachine:", ":execution:")
        return f"{arn}:{name}"

    def _check(self, task_token: str) -> None:
        if task_token in self.gone_tokens:
            reason = self.gone_tokens[task_token]
            raise TaskTokenGone(f"Task token cannot be used: {reason}", reason=reason)

    def succeed(self, task_token: str, output: dict[str, Any]) -> None:
        with self._lock:
            self._check(task_token)
            self.callbacks.append(TaskCallback(task_token, "success", output=output))
            # Like Step Functions: a token completes its task once, and a closed task's token
            # answers TaskTimedOut, the same as one whose task timed out.
            self.gone_tokens[task_token] = "TaskTimedOut"

    def fail(self, task_token: str, *, error: str, cause: str) -> None:
        with self._lock:
            self._check(task_token)
            self.callbacks.append(TaskCallback(task_token, "failure", error=error, cause=cause))
            self.gone_tokens[task_token] = "TaskTimedOut"
