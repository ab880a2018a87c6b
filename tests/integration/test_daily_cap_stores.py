"""The daily cap on confirmation texts over every contact store: it is counted from the
number's ledger as each store gives it back (times included), so each must count the same."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from optin.domain.contact import Status
from optin.domain.send_limits import DailyCapReached
from optin.domain.settings import Settings
from optin.ports.contact_store import ContactStore
from optin.usecases.signup import SignupKind, SignupRequest, Signups
from optin.usecases.workflow_steps import WorkflowSteps
from tests.fakes.sms_sender import MemorySmsSender
from tests.fakes.workflow import MemoryWorkflow

NUMBER = "+12065550100"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def request() -> SignupRequest:
    return SignupRequest(NUMBER, "Ana", None, "203.0.113.7", "UA", None, None)


def test_the_cap_counts_across_registrations_on_every_store(store: ContactStore) -> None:
    clock = Clock()
    settings = Settings(max_confirmation_texts_per_day=2)
    sms, workflow = MemorySmsSender(), MemoryWorkflow(state_machine_arn="arn:sm")
    signups = Signups(settings, store, sms, workflow, clock)
    steps = WorkflowSteps(settings, store, sms, workflow, clock)

    def one_registration() -> None:
        outcome = signups.signup(request())
        assert outcome.kind == SignupKind.STARTED and outcome.registration_id
        steps.send_confirmation(
            task_token=f"token-{outcome.registration_id}",
            registration_id=outcome.registration_id,
            phone_number=NUMBER,
            first_name="Ana",
        )
        clock.now += timedelta(hours=1)
        steps.expire(registration_id=outcome.registration_id, phone_number=NUMBER)

    one_registration()
    one_registration()
    with pytest.raises(DailyCapReached) as caught:
        signups.signup(request())
    # The first text went out 2 hours ago: 22 hours until it leaves the window.
    assert caught.value.retry_after_seconds == 22 * 3600
    assert len(sms.sent) == 2 and len(workflow.started) == 2
    assert store.get(NUMBER).status == Status.EXPIRED

    clock.now += timedelta(hours=22)
    one_registration()
    assert len(sms.sent) == 3
