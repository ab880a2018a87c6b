"""In-memory workflow: records starts and task callbacks; tokens can be made "gone"."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from optin.domain.errors import ExecutionAlreadyExists, TaskTokenGone


@dataclass
class TaskCallback:
    task_token: str
    outcome: str  # "success" | "failure"
    output: dict[str, Any] | None = None
    error: str | None = None
    cause: str | None = None


@dataclass(frozen=True)
class StopCall:
    name: str  # the execution's name (its registration id)
    error: str
    cause: str


@dataclass
class MemoryWorkflow:
    state_machine_arn: str = "arn:aws:states:us-east-1:123456789012:stateMachine:Registration"
    started: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    callbacks: list[TaskCallback] = field(default_factory=list)
    # Token -> Step Functions error code (TaskTimedOut, InvalidToken, TaskDoesNotExist).
    gone_tokens: dict[str, str] = field(default_factory=dict)
    # Tests set this to make StartExecution fail (e.g. WorkflowUnavailable).
    fail_start_with: Exception | None = None
    # Execution name -> its status once over (ABORTED, FAILED, ...); `end` sets it.
    ended: dict[str, str] = field(default_factory=dict)
    # Tests set this to make DescribeExecution fail (e.g. WorkflowUnavailable).
    fail_status_with: Exception | None = None
    status_calls: list[str] = field(default_factory=list)
    # StopExecution calls, and an error tests make it raise (e.g. WorkflowUnavailable).
    stops: list[StopCall] = field(default_factory=list)
    fail_stop_with: Exception | None = None
    # Unit tests make PENDING contacts without starting their executions here: those are
    # taken to be running unless a test ends them. The contract test turns this off to hold
    # the fake to Step Functions' answer for an execution nobody started (None).
    assume_running: bool = True
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def start(self, name: str, payload: dict[str, Any]) -> str:
        with self._lock:
            if self.fail_start_with is not None:
                raise self.fail_start_with
            if name in self.ended:
                # Step Functions' rule: a name is reused only while its execution runs.
                raise ExecutionAlreadyExists(f"Execution {name} already exists.")
            self.started.append((name, payload))
        return self.execution_arn(name)

    def execution_arn(self, name: str) -> str:
        arn = self.state_machine_arn.replace(":stateMachine:", ":execution:")
        return f"{arn}:{name}"

    def end(self, name: str, status: str = "ABORTED") -> None:
        """What StopExecution (or a failure, a timeout) does to an execution: it is over.
        (Its waiting task token is refused only once a test puts it in `gone_tokens`: the
        fake does not know which token belongs to which execution.)"""
        with self._lock:
            self.ended[name] = status

    def status(self, execution: str) -> str | None:
        with self._lock:
            self.status_calls.append(execution)
            if self.fail_status_with is not None:
                raise self.fail_status_with
            name = execution.rsplit(":", 1)[-1] if execution.startswith("arn:") else execution
            if execution.startswith("arn:") and execution != self.execution_arn(name):
                return None  # another state machine's execution
            if name in self.ended:
                return self.ended[name]
            if self.assume_running or any(started == name for started, _ in self.started):
                return "RUNNING"
            return None

    def stop(self, execution: str, *, error: str, cause: str) -> None:
        with self._lock:
            if self.fail_stop_with is not None:
                raise self.fail_stop_with
            name = execution.rsplit(":", 1)[-1] if execution.startswith("arn:") else execution
            self.stops.append(StopCall(name, error, cause))
            # Like StopExecution: only a running execution changes; a closed one stays as
            # is, and one nobody started stays unknown.
            running = self.assume_running or any(started == name for started, _ in self.started)
            if name not in self.ended and running:
                self.ended[name] = "ABORTED"

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
