"""The Step Functions adapter against botocore's Stubber."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.stub import Stubber

from optin.adapters.sfn_workflow import SfnWorkflow
from optin.domain.errors import (
    ConfigError,
    ExecutionAlreadyExists,
    TaskTokenGone,
    WorkflowUnavailable,
)

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


def test_a_closed_execution_of_that_name_is_its_own_error(stubbed) -> None:
    workflow, stubber = stubbed
    stubber.add_client_error("start_execution", service_error_code="ExecutionAlreadyExists")
    with pytest.raises(ExecutionAlreadyExists):
        workflow.start("r1", {})


def test_status_by_arn_or_by_name(stubbed) -> None:
    workflow, stubber = stubbed
    execution = f"{ARN}:r1".replace("stateMachine", "execution")
    described = {
        "executionArn": execution,
        "stateMachineArn": ARN,
        "status": "ABORTED",
        "startDate": 0,
    }
    stubber.add_response("describe_execution", described, {"executionArn": execution})
    stubber.add_response(
        "describe_execution", {**described, "status": "RUNNING"}, {"executionArn": execution}
    )
    assert workflow.status(execution) == "ABORTED"
    assert workflow.status("r1") == "RUNNING"  # the name becomes this machine's execution ARN
    stubber.assert_no_pending_responses()


def test_status_of_an_unknown_execution_is_none_and_trouble_is_unavailable(stubbed) -> None:
    workflow, stubber = stubbed
    stubber.add_client_error("describe_execution", service_error_code="ExecutionDoesNotExist")
    stubber.add_client_error("describe_execution", service_error_code="ThrottlingException")
    assert workflow.status("gone") is None
    with pytest.raises(WorkflowUnavailable):
        workflow.status("r1")


def test_status_by_name_needs_the_state_machine_arn() -> None:
    with pytest.raises(ConfigError):
        SfnWorkflow("", client_factory=lambda: None).status("r1")


def test_stop_execution_by_name_or_arn(stubbed) -> None:
    workflow, stubber = stubbed
    execution = ARN.replace(":stateMachine:", ":execution:") + ":r1"
    for _ in range(2):
        stubber.add_response(
            "stop_execution",
            {"stopDate": 0},
            {"executionArn": execution, "error": "AgentCancelled", "cause": "by ana: asked"},
        )
    workflow.stop("r1", error="AgentCancelled", cause="by ana: asked")
    workflow.stop(execution, error="AgentCancelled", cause="by ana: asked")
    stubber.assert_no_pending_responses()


def test_stop_cuts_error_and_cause_to_the_api_s_limits(stubbed) -> None:
    workflow, stubber = stubbed
    execution = ARN.replace(":stateMachine:", ":execution:") + ":r1"
    stubber.add_response(
        "stop_execution",
        {"stopDate": 0},
        {"executionArn": execution, "error": "E" * 256, "cause": "c" * 32768},
    )
    workflow.stop(execution, error="E" * 300, cause="c" * 40000)
    stubber.assert_no_pending_responses()


def test_stopping_an_unknown_execution_is_nothing_and_other_errors_unavailable(stubbed) -> None:
    workflow, stubber = stubbed
    stubber.add_client_error("stop_execution", service_error_code="ExecutionDoesNotExist")
    stubber.add_client_error("stop_execution", service_error_code="ThrottlingException")
    workflow.stop("gone", error="AgentExpired", cause="x")
    with pytest.raises(WorkflowUnavailable):
        workflow.stop("r1", error="AgentExpired", cause="x")
