"""Error types: ASL runtime errors (States.*) and API errors (AWS JSON protocol)."""

from __future__ import annotations

# The States.* error names the ASL spec defines; the engine raises these itself.
ALL = "States.ALL"
TASK_FAILED = "States.TaskFailed"
TIMEOUT = "States.Timeout"
HEARTBEAT_TIMEOUT = "States.HeartbeatTimeout"
RUNTIME = "States.Runtime"
DATA_LIMIT_EXCEEDED = "States.DataLimitExceeded"
INTRINSIC_FAILURE = "States.IntrinsicFailure"
NO_CHOICE_MATCHED = "States.NoChoiceMatched"
PARAMETER_PATH_FAILURE = "States.ParameterPathFailure"
RESULT_PATH_MATCH_FAILURE = "States.ResultPathMatchFailure"
BRANCH_FAILED = "States.BranchFailed"
PERMISSIONS = "States.Permissions"
EXCEED_TOLERATED_FAILURE = "States.ExceedToleratedFailureThreshold"
QUERY_EVALUATION_ERROR = "States.QueryEvaluationError"

# Errors that States.ALL does not match (spec: "States.ALL ... except States.Runtime").
NOT_MATCHED_BY_ALL = frozenset({RUNTIME, DATA_LIMIT_EXCEEDED})


class StatesError(Exception):
    """A failure inside an execution, caught by Retry/Catch or ending the execution."""

    def __init__(self, error: str | None, cause: str | None = None) -> None:
        super().__init__(f"{error}: {cause}")
        self.error = error
        self.cause = cause

    def to_dict(self) -> dict[str, str | None]:
        return {"Error": self.error, "Cause": self.cause}


class PathError(Exception):
    """A JSONPath that selects nothing; callers turn it into States.Runtime with AWS's wording."""


class ApiError(Exception):
    """An error answer of the Step Functions JSON API: HTTP 400 with {"__type", "message"}."""

    def __init__(self, type_name: str, message: str, status: int = 400, **members: str) -> None:
        """members: the error shape's other members (ResourceNotFound's resourceName...)."""
        super().__init__(message)
        self.type_name = type_name
        self.message = message
        self.status = status
        self.members = members
