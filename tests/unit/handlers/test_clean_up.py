"""The workflow's catch-all (CleanUp task), with in-memory fakes and the payload the ASL sends:
`failure` is {<failed state>: {"Error", "Cause"}} as the Catch's ResultPath writes it."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from optin.domain.consent import EventType
from optin.domain.contact import Status
from optin.domain.errors import SmsRejected, Undeliverable
from optin.handlers import clean_up, create_contact, opt_in, send_confirmation
from tests.unit.handlers.test_workflow_steps import (
    EXECUTION,
    NUMBER,
    REG,
    create_event,
    opt_in_event,
    send_event,
    stop,
    types,
)

CAUSE = '{"errorMessage": "The contact kept changing", "errorType": "TransitionConflict"}'


def clean_up_event(
    state: str = "SendConfirmation",
    error: str = "TransitionConflict",
    cause: str | None = CAUSE,
    registration_id: str = REG,
    phone_number: Any = NUMBER,
) -> dict[str, Any]:
    caught: dict[str, Any] = {"Error": error}
    if cause is not None:
        caught["Cause"] = cause
    return {
        "registrationId": registration_id,
        "phoneNumber": phone_number,
        "failure": {state: caught},
        "executionArn": EXECUTION,
    }


def test_a_pending_contact_is_expired_with_the_failure_on_record(world, lambda_context) -> None:
    create_contact.handler(create_event(), lambda_context)
    send_confirmation.handler(send_event(), lambda_context)

    result = clean_up.handler(clean_up_event(), lambda_context)

    assert result == {
        "status": "EXPIRED",
        "state": "SendConfirmation",
        "error": "TransitionConflict",
        "cause": CAUSE,
    }
    contact = world.store.get(NUMBER)
    assert (contact.status, contact.opted_in, contact.task_token) == (Status.EXPIRED, False, None)
    event = world.store.events(NUMBER)[-1]
    assert event.type == EventType.EXPIRED and event.registration_id == REG
    assert event.details == {
        "sendCount": 1,
        "lastSentAt": "2026-11-01T12:00:00.000000Z",
        "state": "SendConfirmation",
        "error": "TransitionConflict",
        "cause": CAUSE,
        "executionArn": EXECUTION,
        "reason": "workflow_failed",
    }
    # Step Functions retries the task: nothing is recorded twice.
    assert clean_up.handler(clean_up_event(), lambda_context)["status"] == "EXPIRED"
    assert types(world).count("expired") == 1


def test_a_validate_number_failure_expires_the_number_the_sign_up_reserved(
    world, lambda_context
) -> None:
    # No $.validation yet: the input's number, in whatever form it came, is normalised.
    create_contact.handler(create_event(executionArn=None), lambda_context)
    event = clean_up_event("ValidateNumber", "Lambda.TooManyRequestsException", None)
    event["phoneNumber"] = "(206) 555-0100"
    result = clean_up.handler(event, lambda_context)
    assert result["status"] == "EXPIRED" and result["cause"] == ""
    details = world.store.events(NUMBER)[-1].details
    assert (details["state"], details["error"], details["cause"]) == (
        "ValidateNumber",
        "Lambda.TooManyRequestsException",
        "",
    )


def test_opt_in_failing_after_the_contact_was_confirmed_changes_nothing(
    world, lambda_context
) -> None:
    create_contact.handler(create_event(), lambda_context)
    send_confirmation.handler(send_event(), lambda_context)
    opt_in.handler(opt_in_event(), lambda_context)
    before = world.store.get(NUMBER)

    result = clean_up.handler(clean_up_event("OptIn", "SmsConfigurationError"), lambda_context)

    assert result["status"] == "CONFIRMED" and result["error"] == "SmsConfigurationError"
    assert world.store.get(NUMBER) == before
    assert "expired" not in types(world)


def test_an_opted_out_contact_stays_opted_out(world, lambda_context) -> None:
    create_contact.handler(create_event(), lambda_context)
    stop(world)
    assert clean_up.handler(clean_up_event(), lambda_context)["status"] == "OPTED_OUT"
    assert "expired" not in types(world)


def test_undeliverable_leaves_the_contact_rejected(world, lambda_context) -> None:
    """Issue 7 item 3: a permanent refusal of the text ends REJECTED, and the catch-all
    after it (Undeliverable is no path of its own) does not turn it into EXPIRED."""
    create_contact.handler(create_event(), lambda_context)
    world.sms.fail_with = SmsRejected("ValidationException")
    with pytest.raises(Undeliverable):
        send_confirmation.handler(send_event(), lambda_context)

    result = clean_up.handler(clean_up_event(error="Undeliverable"), lambda_context)

    assert result["status"] == "REJECTED" and result["error"] == "Undeliverable"
    assert world.store.get(NUMBER).status == Status.REJECTED
    assert types(world)[-1] == "rejected"


def test_another_registration_of_the_number_is_left_alone(world, lambda_context) -> None:
    create_contact.handler(create_event(), lambda_context)
    clean_up.handler(clean_up_event(), lambda_context)  # the first one failed…
    create_contact.handler(create_event("second"), lambda_context)  # …the number signed up again

    result = clean_up.handler(clean_up_event(), lambda_context)  # a late retry of the first

    assert result["status"] == "PENDING"
    assert world.store.get(NUMBER).registration_id == "second"


@pytest.mark.parametrize("phone_number", [None, "+447700900123", "not a number"])
def test_a_number_with_no_contact_changes_nothing(world, lambda_context, phone_number) -> None:
    result = clean_up.handler(clean_up_event(phone_number=phone_number), lambda_context)
    assert result["status"] is None and result["error"] == "TransitionConflict"
    assert world.store.get(NUMBER) is None


def test_a_long_cause_is_kept_bounded_in_the_ledger_and_whole_for_the_fail_state(
    world, lambda_context
) -> None:
    create_contact.handler(create_event(), lambda_context)
    cause = "x" * 40_000
    result = clean_up.handler(clean_up_event(cause=cause), lambda_context)
    assert result["cause"] == cause
    assert len(world.store.events(NUMBER)[-1].details["cause"]) == 4096


@pytest.mark.parametrize(
    "failure",
    [
        {},
        {"OptIn": {"Error": "X"}, "Expire": {"Error": "Y"}},
        {"OptIn": {"Cause": "no error name"}},
        {"OptIn": "not an object"},
    ],
)
def test_a_malformed_failure_is_refused(world, lambda_context, failure) -> None:
    create_contact.handler(create_event(), lambda_context)
    event = {**clean_up_event(), "failure": failure}
    with pytest.raises(ValidationError):
        clean_up.handler(event, lambda_context)
    assert world.store.get(NUMBER).status == Status.PENDING


def test_each_clean_up_is_counted_for_the_operator(world, lambda_context, capsys) -> None:
    from tests.unit.handlers.test_workflow_steps import _metric_names

    create_contact.handler(create_event(), lambda_context)
    capsys.readouterr()
    clean_up.handler(clean_up_event(), lambda_context)
    assert "RegistrationWorkflowFailed" in _metric_names(capsys.readouterr().out)
