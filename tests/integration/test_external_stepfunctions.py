"""The runtime with an external Step Functions, wired as for the Step Functions Local container.

No Docker here, so the external engine is this project's standalone one, given the same contract
as the container: it calls the functions through Lambda's Invoke API at LAMBDA_ENDPOINT (the
runtime's port), and the runtime deploys the template's state machine to it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from local.stepfunctions.lambda_endpoint import LambdaEndpointInvoker
from local.stepfunctions.server import Server
from tests.support.numbers import new_us_number
from tests.support.runtime import LocalRuntime, wait_for


@pytest.fixture
def external(tmp_path: Path) -> Iterator[tuple[LocalRuntime, Server]]:
    runtime = LocalRuntime(tmp_path / "rt")
    # The runtime's port is chosen before it starts, so the engine can be told where Lambda is.
    engine = Server(tmp_path / "sfn.db", invoker=LambdaEndpointInvoker(runtime.base_url)).start()
    runtime.env["LOCAL_STEPFUNCTIONS_ENDPOINT"] = engine.url
    runtime.start()
    try:
        yield runtime, engine
    finally:
        runtime.stop()
        engine.stop()


def test_double_opt_in_runs_on_an_external_step_functions(
    external: tuple[LocalRuntime, Server],
) -> None:
    rt, engine = external
    phone = new_us_number()

    status, body = rt.signup(phone)
    assert status == 202, body
    wait_for(lambda: rt.messages(phone), what="the confirmation text")
    rt.text_in(phone, "yes")
    wait_for(lambda: (c := rt.contact(phone)) and c["status"] == "CONFIRMED", what="CONFIRMED")

    sfn: Any = boto3.client(
        "stepfunctions",
        endpoint_url=engine.url,
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
    )
    machine = sfn.list_state_machines()["stateMachines"][0]["stateMachineArn"]
    executions = sfn.list_executions(stateMachineArn=machine)["executions"]
    assert [e["name"] for e in executions] == [body["registrationId"]]
    # The runtime's own port forwards the Step Functions API to the external engine.
    assert rt.sfn().describe_execution(executionArn=executions[0]["executionArn"])["status"] in (
        "RUNNING",
        "SUCCEEDED",
    )


def test_lambda_invoke_api_serves_the_template_functions(shared_runtime: LocalRuntime) -> None:
    client: Any = boto3.client(
        "lambda",
        endpoint_url=shared_runtime.base_url,
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
    )

    ok = client.invoke(
        FunctionName="ValidateNumberFunction", Payload=json.dumps({"phoneNumber": "+18005550100"})
    )
    failed = client.invoke(FunctionName="CreateContactFunction", Payload=b"{}")

    assert json.loads(ok["Payload"].read())["code"] == "unsupported_line_type"
    assert failed["FunctionError"] == "Unhandled"
    assert json.loads(failed["Payload"].read())["errorType"]
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.invoke(FunctionName="NoSuchFunction", Payload=b"{}")
