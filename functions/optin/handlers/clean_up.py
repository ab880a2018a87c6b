"""CleanUp task: the workflow's catch-all. A task failed after its retries with an error no
other path handles; a contact still PENDING on this registration becomes EXPIRED (stays opted
out) with consent "expired", reason "workflow_failed", and the error, cause and state. A
contact that moved on is left alone.

The state machine catches the error with ResultPath "$.failure.<the failed state>", so the
event's `failure` has exactly one key, the state's name. The answer echoes the error and cause
so the Fail state after it ends the execution FAILED with the original ones.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field, field_validator

from optin import wiring
from optin.observability import logger, metrics, tracer


class CaughtError(BaseModel):
    """A Catch's error output, as Step Functions writes it."""

    model_config = ConfigDict(extra="ignore")

    Error: str = Field(min_length=1)
    Cause: str | None = None


class CleanUpEvent(BaseModel):
    model_config = ConfigDict(extra="ignore")

    registrationId: str = Field(min_length=1)
    # The execution's input number (E.164 from the sign-up); normalised by the use case.
    phoneNumber: Any = None
    failure: dict[str, CaughtError]
    executionArn: str | None = None

    @field_validator("failure")
    @classmethod
    def _one_state(cls, value: dict[str, CaughtError]) -> dict[str, CaughtError]:
        if len(value) != 1:
            raise ValueError("must hold exactly one failed state")
        return value


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = parse(event=event, model=CleanUpEvent)
    ((state, caught),) = request.failure.items()
    cause = caught.Cause or ""
    # The number stays out of the keys: the use case masks it where it logs.
    logger.append_keys(registrationId=request.registrationId, failedState=state)
    status = wiring.dependencies().steps.clean_up(
        registration_id=request.registrationId,
        phone_number=request.phoneNumber,
        state=state,
        error=caught.Error,
        cause=cause,
        execution_arn=request.executionArn,
    )
    # Error names only: a cause can quote a message body or a number.
    logger.warning(
        "workflow failed, cleaned up",
        extra={"error": caught.Error, "status": str(status) if status else None},
    )
    metrics.add_metric(name="RegistrationWorkflowFailed", unit=MetricUnit.Count, value=1)
    return {
        "status": str(status) if status else None,
        "state": state,
        "error": caught.Error,
        "cause": cause,
    }
