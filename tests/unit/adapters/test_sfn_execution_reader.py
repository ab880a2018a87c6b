"""The execution reader's error mapping, against botocore's Stubber."""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber

from optin.adapters.sfn_execution_reader import SfnExecutionReader
from optin.domain.errors import ConfigError, WorkflowUnavailable

ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:Registration"
EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:Registration:r1"


@pytest.fixture
def stubbed() -> tuple[SfnExecutionReader, Stubber]:
    client = boto3.client(
        "stepfunctions",
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    stubber = Stubber(client)
    stubber.activate()
    return SfnExecutionReader(ARN, client_factory=lambda: client), stubber


def test_the_execution_arn_is_the_machine_s_with_the_name(stubbed) -> None:
    reader, _ = stubbed
    assert reader.execution_arn("r1") == EXECUTION


@pytest.mark.parametrize("code", ["ThrottlingException", "ServiceUnavailable"])
def test_a_service_failure_is_workflow_unavailable(stubbed, code: str) -> None:
    reader, stubber = stubbed
    stubber.add_client_error("describe_execution", code)
    stubber.add_client_error("get_execution_history", code)
    stubber.add_client_error("describe_state_machine", code)
    with pytest.raises(WorkflowUnavailable, match=code):
        reader.describe(EXECUTION)
    with pytest.raises(WorkflowUnavailable, match=code):
        reader.history(EXECUTION)
    with pytest.raises(WorkflowUnavailable, match=code):
        reader.definition()


def test_a_missing_state_machine_is_a_configuration_error(stubbed) -> None:
    reader, stubber = stubbed
    stubber.add_client_error("describe_state_machine", "StateMachineDoesNotExist")
    with pytest.raises(ConfigError, match="STATE_MACHINE_ARN"):
        reader.definition()


def test_no_state_machine_configured_is_a_configuration_error() -> None:
    reader = SfnExecutionReader("", client_factory=lambda: None)
    with pytest.raises(ConfigError, match="STATE_MACHINE_ARN"):
        reader.definition()
    with pytest.raises(ConfigError, match="STATE_MACHINE_ARN"):
        reader.execution_arn("r1")
