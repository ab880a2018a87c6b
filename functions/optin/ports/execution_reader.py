"""Execution reader port: what the support console reads from Step Functions about a
sign-up's execution (DescribeExecution, GetExecutionHistory, DescribeStateMachine)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from optin.domain.clock import to_iso

# GetExecutionHistory answers at most 1000 events a call. A registration's execution has
# a few dozen; a cap keeps a runaway one (a retry loop) from making a page unbounded.
MAX_HISTORY_EVENTS = 1000


@dataclass(frozen=True)
class ExecutionInfo:
    execution_arn: str
    state_machine_arn: str
    # RUNNING | SUCCEEDED | FAILED | TIMED_OUT | ABORTED | PENDING_REDRIVE
    status: str
    start_date: datetime
    stop_date: datetime | None = None
    error: str | None = None
    cause: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "executionArn": self.execution_arn,
            "status": self.status,
            "startDate": to_iso(self.start_date),
            "stopDate": to_iso(self.stop_date) if self.stop_date else None,
        }


@dataclass(frozen=True)
class ExecutionHistory:
    """Events as GetExecutionHistory returns them, oldest first, timestamps as ISO-8601
    text. `truncated`: the execution has more events than were read (the first ones are
    here); the console says so rather than showing a history that looks complete."""

    events: list[dict[str, Any]]
    truncated: bool = False


class ExecutionReader(Protocol):
    def execution_arn(self, name: str) -> str:
        """The ARN of the configured state machine's execution called `name` (a sign-up's
        execution is named after its registrationId)."""
        ...

    def describe(self, execution_arn: str) -> ExecutionInfo | None:
        """DescribeExecution; None when there is no such execution."""
        ...

    def history(
        self, execution_arn: str, *, max_events: int = MAX_HISTORY_EVENTS
    ) -> ExecutionHistory:
        """Every event, page after page, up to `max_events` (then `truncated`); an
        execution that does not exist has no events."""
        ...

    def definition(self) -> dict[str, Any]:
        """The configured state machine's definition (its ASL, parsed)."""
        ...
