"""The port through which Task states call Lambda functions."""

from __future__ import annotations

from typing import Any, Protocol


class LambdaInvoker(Protocol):
    def invoke(self, function_name: str, payload: Any) -> Any:
        """Run the function; return its result or raise LambdaFunctionError/LambdaServiceError.

        function_name is what the state gave: a name, a full or a partial function ARN.
        """
        ...


class LambdaFunctionError(Exception):
    """The handler raised: AWS reports error=error_type and a JSON cause."""

    def __init__(self, error_type: str, error_message: str, stack_trace: list[str] | None = None):
        super().__init__(f"{error_type}: {error_message}")
        self.error_type = error_type
        self.error_message = error_message
        self.stack_trace = list(stack_trace or [])


class LambdaServiceError(Exception):
    """Lambda itself failed (e.g. Lambda.ResourceNotFoundException)."""

    def __init__(self, error: str, cause: str) -> None:
        super().__init__(f"{error}: {cause}")
        self.error = error
        self.cause = cause
