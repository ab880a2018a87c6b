"""A PENDING contact whose execution is over: the one repair every caller shares.

A registration waits in its execution (the task token of SendConfirmation). If that execution
ends without passing through Expire, OptIn or the clean-up (StopExecution, the execution's
own timeout, an error the catch-all cannot catch such as States.DataLimitExceeded), nothing
will ever move the contact on. Whoever notices (a reply whose task token is refused, a new
sign-up whose StartExecution finds the old execution closed) asks Step Functions, and only
when it says the execution is not RUNNING is the contact expired with reason
"execution_ended". A RUNNING execution is left alone: a refused token there means the wait
is over and the workflow is already on its way to OptIn or Expire.
"""

from __future__ import annotations

from collections.abc import Mapping

from optin.domain import contact as transitions
from optin.domain.consent import ExpiryReason
from optin.domain.contact import Change, Contact, Status
from optin.domain.phone import mask
from optin.usecases.base import UseCase, log

RUNNING = "RUNNING"
# Recorded as the execution's status when Step Functions knows no execution of that ARN
# (never started, or past the 90 days it keeps closed executions).
NO_SUCH_EXECUTION = "ExecutionDoesNotExist"


def expire_if_execution_over(
    use_case: UseCase,
    contact: Contact,
    *,
    error: str | None = None,
    extra: Mapping[str, object] | None = None,
) -> Change | None:
    """Expire `contact` (reason execution_ended) when its registration's execution is over.

    `error` names what gave the end away (TaskTimedOut, ExecutionAlreadyExists, ...).
    `extra` goes into the ledger event's details too (a console repair's `by` and `why`).
    Returns None when nothing was decided: the contact is not PENDING or its execution runs.
    Otherwise the change, which is unchanged when the contact moved on meanwhile (the
    transition only expires a contact still PENDING on this registration). Raises
    WorkflowUnavailable when Step Functions cannot say: guessing could expire a contact
    whose YES is being confirmed right now, so the caller retries instead.
    """
    registration_id = contact.registration_id
    if contact.status != Status.PENDING or registration_id is None:
        return None
    # Executions are named after their registration; the ARN is known once CreateContact ran.
    status = use_case.workflow.status(contact.execution_arn or registration_id)
    if status == RUNNING:
        return None
    details: dict[str, object] = {
        **(extra or {}),
        "executionArn": contact.execution_arn,
        "executionStatus": status or NO_SUCH_EXECUTION,
    }
    if error:
        details["error"] = error
    log.info(
        "execution over, expiring the pending contact",
        extra={
            "phone": mask(contact.phone_number),
            "registrationId": registration_id,
            "executionStatus": details["executionStatus"],
        },
    )
    return use_case.apply(
        contact.phone_number,
        lambda current: transitions.expire(
            current,
            registration_id=registration_id,
            now=use_case.clock(),
            reason=ExpiryReason.EXECUTION_ENDED,
            details=details,
        ),
    )
