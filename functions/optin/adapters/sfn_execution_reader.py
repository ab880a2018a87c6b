"""Reading executions from AWS Step Functions (boto3 `stepfunctions`): DescribeExecution,
GetExecutionHistory (every page, capped) and DescribeStateMachine.

The client is made on first use, as in sfn_workflow, so boto3 reads the invocation's
environment (AWS_ENDPOINT_URL_SFN locally)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from optin.adapters.lazy_client import LazyClient, session_client
from optin.domain.clock import to_iso
from optin.domain.errors import ConfigError, WorkflowUnavailable
from optin.ports.execution_reader import MAX_HISTORY_EVENTS, ExecutionHistory, ExecutionInfo

default_client_factory = session_client("stepfunctions")

# GetExecutionHistory's largest page.
PAGE_SIZE = 1000
# Not an execution we can read: a contact may name one that was deleted with its stack.
_NO_EXECUTION = frozenset({"ExecutionDoesNotExist", "InvalidArn"})


def _error_code(error: ClientError) -> str:
    code = str(error.response.get("Error", {}).get("Code", ""))
    return code.rsplit("#", 1)[-1]


def _iso_times(value: Any) -> Any:
    """boto3 parses timestamps into datetimes; the console's JSON wants ISO-8601 text."""
    if isinstance(value, datetime):
        return to_iso(value)
    if isinstance(value, dict):
        return {key: _iso_times(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_iso_times(item) for item in value]
    return value


class SfnExecutionReader:
    def __init__(
        self,
        state_machine_arn: str,
        client_factory: Callable[[], Any] = default_client_factory,
        *,
        page_size: int = PAGE_SIZE,
    ) -> None:
        self._state_machine_arn = state_machine_arn
        self._client = LazyClient(client_factory)
        self._page_size = page_size

    def _machine(self) -> str:
        if not self._state_machine_arn:
            raise ConfigError("STATE_MACHINE_ARN is not set for this function.")
        return self._state_machine_arn

    def execution_arn(self, name: str) -> str:
        # arn:aws:states:<region>:<account>:stateMachine:<machine> → …:execution:<machine>:<name>
        prefix, marker, machine = self._machine().rpartition(":stateMachine:")
        if not marker:
            raise ConfigError("STATE_MACHINE_ARN is not a state machine ARN.")
        return f"{prefix}:execution:{machine}:{name}"

    def describe(self, execution_arn: str) -> ExecutionInfo | None:
        try:
            response = self._client().describe_execution(executionArn=execution_arn)
        except ClientError as error:
            if _error_code(error) in _NO_EXECUTION:
                return None
            raise WorkflowUnavailable(f"DescribeExecution failed: {_error_code(error)}") from error
        except BotoCoreError as error:
            raise WorkflowUnavailable(
                f"DescribeExecution failed: {type(error).__name__}"
            ) from error
        return ExecutionInfo(
            execution_arn=str(response["executionArn"]),
            state_machine_arn=str(response["stateMachineArn"]),
            status=str(response["status"]),
            start_date=response["startDate"],
            stop_date=response.get("stopDate"),
            error=response.get("error"),
            cause=response.get("cause"),
        )

    def history(
        self, execution_arn: str, *, max_events: int = MAX_HISTORY_EVENTS
    ) -> ExecutionHistory:
        events: list[dict[str, Any]] = []
        request: dict[str, Any] = {"executionArn": execution_arn}
        while True:
            # One more than the cap tells a history that is exactly the cap from a longer one.
            request["maxResults"] = min(self._page_size, max_events + 1 - len(events))
            try:
                response = self._client().get_execution_history(**request)
            except ClientError as error:
                if _error_code(error) in _NO_EXECUTION:
                    return ExecutionHistory([])
                raise WorkflowUnavailable(
                    f"GetExecutionHistory failed: {_error_code(error)}"
                ) from error
            except BotoCoreError as error:
                raise WorkflowUnavailable(
                    f"GetExecutionHistory failed: {type(error).__name__}"
                ) from error
            events.extend(_iso_times(event) for event in response.get("events", []))
            if len(events) > max_events:
                return ExecutionHistory(events[:max_events], truncated=True)
            token = response.get("nextToken")
            if not token:
                return ExecutionHistory(events)
            request["nextToken"] = token

    def definition(self) -> dict[str, Any]:
        machine = self._machine()
        try:
            response = self._client().describe_state_machine(stateMachineArn=machine)
        except ClientError as error:
            code = _error_code(error)
            if code in {"StateMachineDoesNotExist", "InvalidArn"}:
                raise ConfigError(
                    f"STATE_MACHINE_ARN names no state machine this function can read ({code})."
                ) from error
            raise WorkflowUnavailable(f"DescribeStateMachine failed: {code}") from error
        except BotoCoreError as error:
            raise WorkflowUnavailable(
                f"DescribeStateMachine failed: {type(error).__name__}"
            ) from error
        definition: dict[str, Any] = json.loads(response["definition"])
        return definition
