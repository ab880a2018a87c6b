"""The Workflow port's contract, run against every implementation: the in-memory fake the
unit tests use, and the Step Functions adapter through boto3 against the local engine's
standalone server (the same JSON API AWS serves)."""

from __future__ import annotations

import json
import queue
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from local.stepfunctions.server import Server
from optin.adapters.sfn_workflow import SfnWorkflow
from optin.domain.errors import ExecutionAlreadyExists, TaskTokenGone
from optin.ports.workflow import Workflow
from tests.fakes.workflow import MemoryWorkflow
from tests.support.aws import local_client
from tests.unit.asl.conftest import ROLE, FakeLambdas

# One task that waits for its token, as SendConfirmation does.
WAITS_FOR_A_TOKEN = {
    "StartAt": "Wait",
    "States": {
        "Wait": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
            "Parameters": {"FunctionName": "issue", "Payload": {"token.$": "$$.Task.Token"}},
            "End": True,
        }
    },
}


class Subject:
    """A Workflow implementation and a way to get a live task token from it."""

    def __init__(
        self,
        workflow: Workflow,
        live_token: Callable[[], str],
        stop: Callable[[str], None],
    ) -> None:
        self.workflow = workflow
        self.live_token = live_token
        # StopExecution by execution name (not part of the port: an operator or a test does it).
        self.stop = stop


def memory() -> Iterator[Subject]:
    fake = MemoryWorkflow(assume_running=False)
    yield Subject(fake, lambda: uuid.uuid4().hex, fake.end)


def step_functions(tmp_path: Path) -> Iterator[Subject]:
    tokens: queue.Queue[str] = queue.Queue()
    lambdas = FakeLambdas()
    lambdas.add("issue", lambda payload: tokens.put(payload["token"]) or {})
    server = Server(tmp_path / "sfn.db", invoker=lambdas).start()
    client = local_client("stepfunctions", server.url)
    machine = client.create_state_machine(
        name="Registration", definition=json.dumps(WAITS_FOR_A_TOKEN), roleArn=ROLE
    )["stateMachineArn"]
    workflow = SfnWorkflow(machine, client_factory=lambda: client)

    def live_token() -> str:
        workflow.start(uuid.uuid4().hex, {"for": "a token"})
        return tokens.get(timeout=10)

    def stop(name: str) -> None:
        arn = machine.replace(":stateMachine:", ":execution:") + f":{name}"
        client.stop_execution(executionArn=arn)

    try:
        yield Subject(workflow, live_token, stop)
    finally:
        server.stop()


@pytest.fixture(params=["memory", "step_functions"])
def subject(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Subject]:
    yield from memory() if request.param == "memory" else step_functions(tmp_path)


def test_start_names_the_execution(subject: Subject) -> None:
    arn = subject.workflow.start("reg-1", {"registrationId": "reg-1"})
    assert ":execution:" in arn and arn.endswith(":reg-1")


def test_starting_the_same_execution_again_is_harmless(subject: Subject) -> None:
    """The sign-up relies on this: same name, same input, while it runs → the same one."""
    payload = {"registrationId": "reg-2", "phoneNumber": "+12065550100", "firstName": None}
    first = subject.workflow.start("reg-2", payload)
    assert subject.workflow.start("reg-2", dict(payload)) == first


def test_a_token_answers_once(subject: Subject) -> None:
    token = subject.live_token()
    subject.workflow.succeed(token, {"reply": "YES"})
    with pytest.raises(TaskTokenGone) as again:
        subject.workflow.succeed(token, {"reply": "YES"})
    # Step Functions does not say "already answered": a closed task's token reads as timed out,
    # which is why the inbound use case asks the contact what happened.
    assert again.value.reason in {"TaskTimedOut", "InvalidToken", "TaskDoesNotExist"}


def test_a_failure_closes_the_task_too(subject: Subject) -> None:
    token = subject.live_token()
    subject.workflow.fail(token, error="OptedOut", cause="STOP")
    with pytest.raises(TaskTokenGone):
        subject.workflow.succeed(token, {"reply": "YES"})
    with pytest.raises(TaskTokenGone):
        subject.workflow.fail(token, error="OptedOut", cause="STOP again")


def test_status_of_a_running_then_stopped_execution(subject: Subject) -> None:
    payload = {"registrationId": "reg-3"}
    arn = subject.workflow.start("reg-3", payload)
    assert subject.workflow.status(arn) == "RUNNING"
    assert subject.workflow.status("reg-3") == "RUNNING"  # by name, within this machine
    subject.stop("reg-3")
    assert subject.workflow.status(arn) == "ABORTED"
    # The name cannot start a new execution once its execution is over: the sign-up sees it.
    with pytest.raises(ExecutionAlreadyExists):
        subject.workflow.start("reg-3", payload)


def test_status_of_an_execution_nobody_started_is_none(subject: Subject) -> None:
    assert subject.workflow.status("never-started") is None


def test_stop_ends_a_running_execution_and_is_harmless_after(subject: Subject) -> None:
    """The console's cancel, expire and opt-out stop the execution; a retried request stops
    it again, and an execution that is over or unknown is left as it is."""
    arn = subject.workflow.start("reg-4", {"registrationId": "reg-4"})
    subject.workflow.stop(arn, error="AgentCancelled", cause="Cancelled by ana: asked by phone")
    assert subject.workflow.status(arn) == "ABORTED"
    subject.workflow.stop("reg-4", error="AgentCancelled", cause="again")  # by name
    assert subject.workflow.status("reg-4") == "ABORTED"
    subject.workflow.stop("never-started-either", error="AgentExpired", cause="nothing runs")
    assert subject.workflow.status("never-started-either") is None
