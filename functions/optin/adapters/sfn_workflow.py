"""The registration workflow on AWS Step Functions (boto3 `stepfunctions`).

Like the SMS adapter, the client is created on first use so boto3 reads the
invocation's environment (AWS_ENDPOINT_URL_SFN locally).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from optin.adapters.lazy_client import LazyClient, session_client
from optin.domain.errors import (
    ConfigError,
    ExecutionAlreadyExists,
    TaskTokenGone,
    WorkflowUnavailable,
)

# The task is over (answered, timed out, execution ended): nothing to retry.
_TOKEN_GONE = frozenset({"TaskTimedOut", "InvalidToken", "TaskDoesNotExist"})


default_client_factory = session_client("stepfunctions")


def _error_code(error: ClientError) -> str:
    code = str(error.response.get("Error", {}).get("Code", ""))
    # Some endpoints answer with the JSON protocol's "namespace#Code" form.
    return code.rsplit("#", 1)[-1]


class SfnWorkflow:
    def __init__(
        self,
        state_machine_arn: str,
        client_factory: Callable[[], Any] = default_client_factory,
    ) -> None:
        self._state_machine_arn = state_machine_arn
        self._client = LazyClient(client_factory)

    def start(self, name: str, payload: dict[str, Any]) -> str:
        if not self._state_machine_arn:
            raise ConfigError("STATE_MACHINE_ARN is not set for this function.")
        try:
            response = self._client().start_execution(
                stateMachineArn=self._state_machine_arn, name=name, input=json.dumps(payload)
            )
        except ClientError as error:
            if _error_code(error) == "ExecutionAlreadyExists":
                raise ExecutionAlreadyExists(f"Execution {name} already exists.") from error
            raise WorkflowUnavailable(f"StartExecution failed: {_describe(error)}") from error
        except BotoCoreError as error:
            raise WorkflowUnavailable(f"StartExecution failed: {_describe(error)}") from error
        return str(response["executionArn"])

    def status(self, execution: str) -> str | None:
        arn = execution if execution.startswith("arn:") else self._execution_arn(execution)
        try:
            response = self._client().describe_execution(executionArn=arn)
        except ClientError as error:
            if _error_code(error) == "ExecutionDoesNotExist":
                return None
            raise WorkflowUnavailable(f"DescribeExecution failed: {_describe(error)}") from error
        except BotoCoreError as error:
            raise WorkflowUnavailable(f"DescribeExecution failed: {_describe(error)}") from error
        return str(response["status"])

    def stop(self, execution: str, *, error: str, cause: str) -> None:
        arn = execution if execution.startswith("arn:") else self._execution_arn(execution)
        try:
            # StopExecution's limits: error 256 characters, cause 32,768.
            self._client().stop_execution(executionArn=arn, error=error[:256], cause=cause[:32768])
        except ClientError as failure:
            if _error_code(failure) == "ExecutionDoesNotExist":
                return  # never started (or long gone): nothing runs to be stopped
            raise WorkflowUnavailable(f"StopExecution failed: {_describe(failure)}") from failure
        except BotoCoreError as failure:
            raise WorkflowUnavailable(f"StopExecution failed: {_describe(failure)}") from failure

    def _execution_arn(self, name: str) -> str:
        # An execution's ARN is its state machine's with "execution" for "stateMachine" and
        # the execution's name appended (the form StartExecution answers with).
        if not self._state_machine_arn:
            raise ConfigError("STATE_MACHINE_ARN is not set for this function.")
        return self._state_machine_arn.replace(":stateMachine:", ":execution:", 1) + f":{name}"

    def succeed(self, task_token: str, output: dict[str, Any]) -> None:
        self._callback("send_task_success", taskToken=task_token, output=json.dumps(output))

    def fail(self, task_token: str, *, error: str, cause: str) -> None:
        self._callback("send_task_failure", taskToken=task_token, error=error, cause=cause)

    def _callback(self, operation: str, **kwargs: Any) -> None:
        try:
            getattr(self._client(), operation)(**kwargs)
        except ClientError as error:
            code = _error_code(error)
            if code in _TOKEN_GONE:
                raise TaskTokenGone(f"{operation} refused: {code}", reason=code) from error
            raise WorkflowUnavailable(f"{operation} failed: {code}") from error
        except BotoCoreError as error:
            raise WorkflowUnavailable(f"{operation} failed: {_describe(error)}") from error


def _describe(error: Exception) -> str:
    if isinstance(error, ClientError):
        return _error_code(error)
    return type(error).__name__
