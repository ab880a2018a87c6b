"""Domain errors.

Some class names are part of the contract with the state machine: a Lambda error's type
is the exception's class name, and the ASL catches `AlreadyRegistered` (CreateContact)
and `OptedOut` (SendConfirmation). Do not rename those.
"""

from __future__ import annotations


class DomainError(Exception):
    """Base of every error the domain raises on purpose."""

    code = "domain_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConfigError(DomainError):
    """The function's environment is missing or has a bad setting."""

    code = "config_error"


class ContactNotFound(DomainError):
    code = "not_found"


class TransitionConflict(DomainError):
    """A conditional write lost a race: the contact changed since it was read."""

    code = "transition_conflict"


class AlreadyRegistered(DomainError):
    """Another registration is pending for the number, or it is already confirmed."""

    code = "already_registered"


class OptedOut(DomainError):
    """The number opted out while its registration was pending (ASL routes to Cancelled)."""

    code = "opted_out"


class RegistrationSuperseded(DomainError):
    """The contact no longer belongs to this registration (another one took it over)."""

    code = "registration_superseded"


class Undeliverable(DomainError):
    """The confirmation text was permanently refused for this number; contact REJECTED."""

    code = "undeliverable"


class ResendCooldown(DomainError):
    code = "resend_cooldown"

    def __init__(self, message: str, retry_after_seconds: int) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


class ResendLimit(DomainError):
    code = "resend_limit"


class DisclosureOutdated(DomainError):
    code = "disclosure_outdated"


class SmsError(DomainError):
    code = "sms_error"


class SmsRejected(SmsError):
    """Permanent: the SMS service refused this message (bad number, blocked, …)."""

    code = "sms_rejected"


class RecipientOptedOut(SmsRejected):
    """Permanent: the number is on the SMS service's own opt-out list."""

    code = "recipient_opted_out"


class SmsUnavailable(SmsError):
    """Transient: throttling, network, service error. Worth a retry."""

    code = "sms_unavailable"


class SmsOutcomeUnknown(SmsUnavailable):
    """The request may have reached the service but its answer was lost (a read timeout):
    the text may have left. Never sent again under the same dedup key."""

    code = "sms_outcome_unknown"


class SmsConfigurationError(SmsError):
    """The SMS account or its configuration refuses the send, whatever the number: the
    sandbox destination is not verified, the number's registration is not complete, the
    origination identity cannot send to that country, a resource is missing, a spending
    limit is reached. Retrying soon does not help and the number is not at fault: an
    operator must act (a metric and an alarm say so)."""

    code = "sms_configuration_error"


class StoreUnavailable(DomainError):
    """Transient: the contact store is throttled or unreachable. Worth a retry."""

    code = "store_unavailable"


class WorkflowError(DomainError):
    code = "workflow_error"


class TaskTokenGone(WorkflowError):
    """The task token can no longer be used (TaskTimedOut, InvalidToken, TaskDoesNotExist)."""

    code = "task_token_gone"

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class ExecutionAlreadyExists(WorkflowError):
    """StartExecution refused the name: an execution of that name exists and is closed (a
    RUNNING one with the same input is answered as a success)."""

    code = "execution_already_exists"


class WorkflowUnavailable(WorkflowError):
    code = "workflow_unavailable"
