"""The Step Functions adapter against botocore's Stubber."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.stub import Stubber

from optin.adapters.sfn_workflow import SfnWorkflow
from optin.domain.errors import ConfigError, TaskTokenGone, WorkflowUnavailable

ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:Registration"


@pytest.fixture
def stubbed() -> tuple[SfnWorkflow, Stubber]:
    client = boto3.client(
        "stepfunctions",
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    stubber = Stubber(client)
    stubber.activate()
    return SfnWorkflow(ARN, client_factory=lambda: client), stubber


def test_start_execution(stubbed) -> None:
    workflow, stubber = stubbed
    payload = {"registrationId": "r1", "phoneNumber": "+12065550100", "firstName": None}
    stubber.add_response(
        "start_execution",
        {"executionArn": f"{ARN}:r1".replace("stateMachine", "execution"), "startDate": 0},
        {"stateMachineArn": ARN, "name": "r1", "input": json.dumps(payload)},
    )
    assert workflow.start("r1", payload).endswith(":execution:Registration:r1")


def test_start_without_an_arn_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        SfnWorkflow("", client_factory=lambda: None).start("r1", {})


def test_send_task_success_and_failure(stubbed) -> None:
    workflow, stubber = stubbed
    output = {"reply": "YES", "inboundMessageId": "in-1", "receivedAt": "2026-11-01T12:00:00Z"}
    stubber.add_response("send_task_success", {}, {"taskToken": "t1", "output": json.dumps(output)})
    stubber.add_response(
        "send_task_failure", {}, {"taskToken": "t2", "error": "OptedOut", "cause": "STOP"}
    )
    workflow.succeed("t1", output)
    workflow.fail("t2", error="OptedOut", cause="STOP")
    stubber.assert_no_pending_responses()


@pytest.mark.parametrize("code", ["TaskTimedOut", "InvalidToken", "TaskDoesNotExist"])
def test_finished_tasks_raise_task_token_gone(stubbed, code) -> None:
    workflow, stubber = stubbed
    stubber.add_client_error("send_task_success", service_error_code=code)
    with pytest.raises(TaskTokenGone) as caught:
        workflow.succeed("t1", {})
    assert caught.value.reason == code


def test_other_errors_are_unavailable(stubbed) -> None:
    workflow, stubber = stubbed
    stubber.add_client_error("send_task_failure", service_error_code="ThrottlingException")
    stubber.add_client_error("start_execution", service_error_code="StateMachineDoesNotExist")
    with pytest.raises(WorkflowUnavailable):
        workflow.fail("t1", error="OptedOut", cause="x")
    with pytest.raises(WorkflowUnavailable):
        workflow.start("r1", {})
