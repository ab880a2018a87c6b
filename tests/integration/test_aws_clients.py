"""The AWS SDK and CLI work against the local runtime as they do against AWS."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from tests.support.numbers import new_us_number
from tests.support.runtime import LocalRuntime, wait_for

AWS_CLI = Path(sys.executable).with_name("aws")


def test_state_machine_from_template_is_registered(shared_runtime: LocalRuntime) -> None:
    machines = shared_runtime.sfn().list_state_machines()["stateMachines"]

    assert [m["name"] for m in machines] == ["RegistrationStateMachine"]
    described = shared_runtime.sfn().describe_state_machine(
        stateMachineArn=machines[0]["stateMachineArn"]
    )
    definition = json.loads(described["definition"])
    assert definition["StartAt"] == "LoadSettings"
    assert "${" not in described["definition"]  # substitutions applied


def test_a_signup_is_visible_as_an_execution_with_history(shared_runtime: LocalRuntime) -> None:
    rt, phone = shared_runtime, new_us_number()
    status, body = rt.signup(phone)
    assert status == 202, body
    sfn = rt.sfn()
    machine = sfn.list_state_machines()["stateMachines"][0]["stateMachineArn"]
    arn = machine.replace(":stateMachine:", ":execution:") + ":" + body["registrationId"]

    wait_for(lambda: rt.messages(phone), what="the confirmation text")
    execution = sfn.describe_execution(executionArn=arn)
    history = sfn.get_execution_history(executionArn=arn)["events"]

    assert execution["status"] == "RUNNING"
    assert json.loads(execution["input"])["registrationId"] == body["registrationId"]
    types = [e["type"] for e in history]
    assert types[0] == "ExecutionStarted"
    assert "TaskSubmitted" in types or "TaskSucceeded" in types
    assert any(
        e.get("stateEnteredEventDetails", {}).get("name") == "SendConfirmation" for e in history
    )


def test_aws_error_codes(shared_runtime: LocalRuntime) -> None:
    sfn = shared_runtime.sfn()
    missing = "arn:aws:states:us-east-1:123456789012:execution:RegistrationStateMachine:nope"

    with pytest.raises(ClientError) as no_execution:
        sfn.describe_execution(executionArn=missing)
    with pytest.raises(ClientError) as bad_token:
        sfn.send_task_success(taskToken="not-a-token", output="{}")

    assert no_execution.value.response["Error"]["Code"] == "ExecutionDoesNotExist"
    assert bad_token.value.response["Error"]["Code"] in ("InvalidToken", "TaskDoesNotExist")


def test_sms_api_validates_like_the_service(shared_runtime: LocalRuntime) -> None:
    with pytest.raises(ClientError) as error:
        shared_runtime.sms().send_text_message(DestinationPhoneNumber="12", MessageBody="hi")

    assert error.value.response["Error"]["Code"] == "ValidationException"


@pytest.mark.skipif(not AWS_CLI.exists(), reason="the AWS CLI is installed by make setup")
def test_aws_cli_lists_executions(shared_runtime: LocalRuntime) -> None:
    rt = shared_runtime
    rt.signup(new_us_number())
    machine = rt.sfn().list_state_machines()["stateMachines"][0]["stateMachineArn"]
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_DEFAULT_REGION": "us-east-1",
    }

    result = subprocess.run(
        [str(AWS_CLI), "--endpoint-url", rt.base_url, "stepfunctions", "list-executions",
         "--state-machine-arn", machine],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["executions"]
