"""The runtime with an external Step Functions, wired as for the Step Functions Local container.

No Docker here, so the external engine is this project's standalone one, given the same contract
as the container: it calls the functions through Lambda's Invoke API at LAMBDA_ENDPOINT (the
runtime's port), and the runtime deploys the template's state machine to it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.aws import local_client
from tests.support.numbers import new_us_number
from tests.support.runtime import REPO_ROOT, LocalRuntime, free_port, wait_for


class EngineProcess:
    """The standalone engine started from its command line, as a user would start it."""

    def __init__(self, db: Path, lambda_endpoint: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = db.with_suffix(".log")
        command = [sys.executable, "-m", "local.stepfunctions", "--port", str(self.port)]
        command += ["--db", str(db), "--lambda-endpoint", lambda_endpoint]
        self.process = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            stdout=self.log.open("wb"),
            stderr=subprocess.STDOUT,
        )
        wait_for(lambda: "Step Functions API on" in self.log.read_text(), what="the engine")
        assert "Lambda tasks through the Invoke API at" in self.log.read_text()

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


@pytest.fixture
def external(tmp_path: Path) -> Iterator[tuple[LocalRuntime, EngineProcess]]:
    runtime = LocalRuntime(tmp_path / "rt")
    # The runtime's port is chosen before it starts, so the engine can be told where Lambda is.
    engine = EngineProcess(tmp_path / "sfn.db", runtime.base_url)
    runtime.env["LOCAL_STEPFUNCTIONS_ENDPOINT"] = engine.url
    runtime.start()
    try:
        yield runtime, engine
    finally:
        runtime.stop()
        engine.stop()


def test_double_opt_in_runs_on_an_external_step_functions(
    external: tuple[LocalRuntime, EngineProcess],
) -> None:
    rt, engine = external
    phone = new_us_number()

    status, body = rt.signup(phone)
    assert status == 202, body
    wait_for(lambda: rt.messages(phone), what="the confirmation text")
    rt.text_in(phone, "yes")
    wait_for(lambda: (c := rt.contact(phone)) and c["status"] == "CONFIRMED", what="CONFIRMED")

    sfn: Any = local_client("stepfunctions", engine.url)
    machine = sfn.list_state_machines()["stateMachines"][0]["stateMachineArn"]
    executions = sfn.list_executions(stateMachineArn=machine)["executions"]
    assert [e["name"] for e in executions] == [body["registrationId"]]
    # The runtime's own port forwards the Step Functions API to the external engine.
    assert rt.sfn().describe_execution(executionArn=executions[0]["executionArn"])["status"] in (
        "RUNNING",
        "SUCCEEDED",
    )


def test_lambda_invoke_api_serves_the_template_functions(
    external: tuple[LocalRuntime, EngineProcess],
) -> None:
    rt, _ = external
    client: Any = local_client("lambda", rt.base_url)

    ok = client.invoke(
        FunctionName="ValidateNumberFunction", Payload=json.dumps({"phoneNumber": "+18005550100"})
    )
    failed = client.invoke(FunctionName="CreateContactFunction", Payload=b"{}")

    assert json.loads(ok["Payload"].read())["code"] == "unsupported_line_type"
    assert failed["FunctionError"] == "Unhandled"
    assert json.loads(failed["Payload"].read())["errorType"]
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.invoke(FunctionName="NoSuchFunction", Payload=b"{}")
