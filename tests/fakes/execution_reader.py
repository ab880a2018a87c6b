"""In-memory execution reader: executions, their histories and the definition, as tests
set them; paging and the cap behave as the Step Functions adapter's do."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from optin.ports.execution_reader import MAX_HISTORY_EVENTS, ExecutionHistory, ExecutionInfo


@dataclass
class MemoryExecutionReader:
    state_machine_arn: str = "arn:aws:states:us-east-1:123456789012:stateMachine:Registration"
    asl: dict[str, Any] = field(
        default_factory=lambda: {"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}
    )
    executions: dict[str, ExecutionInfo] = field(default_factory=dict)
    histories: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, info: ExecutionInfo, events: list[dict[str, Any]]) -> None:
        with self._lock:
            self.executions[info.execution_arn] = info
            self.histories[info.execution_arn] = list(events)

    def execution_arn(self, name: str) -> str:
        prefix, _, machine = self.state_machine_arn.rpartition(":stateMachine:")
        return f"{prefix}:execution:{machine}:{name}"

    def describe(self, execution_arn: str) -> ExecutionInfo | None:
        with self._lock:
            return self.executions.get(execution_arn)

    def history(
        self, execution_arn: str, *, max_events: int = MAX_HISTORY_EVENTS
    ) -> ExecutionHistory:
        with self._lock:
            events = list(self.histories.get(execution_arn, []))
        return ExecutionHistory(events[:max_events], truncated=len(events) > max_events)

    def definition(self) -> dict[str, Any]:
        return dict(self.asl)
