"""What the state machine does after StartExecution, played by hand in unit tests (the world
of fakes in tests/unit/conftest.py): CreateContact, then SendConfirmation's text."""

from __future__ import annotations

from typing import Any

from optin.handlers import create_contact, send_confirmation


def run_workflow_until_text(world: Any, lambda_context: Any) -> str:
    """Runs the last started workflow up to the confirmation text; its registration id."""
    name, payload = world.workflow.started[-1]
    create_contact.handler(
        {
            "registrationId": payload["registrationId"],
            "phoneNumber": payload["phoneNumber"],
            "firstName": payload["firstName"],
            "validation": {},
            "executionArn": world.workflow.execution_arn(name),
        },
        lambda_context,
    )
    send_confirmation.handler(
        {
            "taskToken": f"token-{name}",
            "registrationId": payload["registrationId"],
            "phoneNumber": payload["phoneNumber"],
            "firstName": payload["firstName"],
        },
        lambda_context,
    )
    return payload["registrationId"]
