"""Which Step Functions the runtime uses: its embedded engine, or one at another endpoint.

The other endpoint is meant for AWS Step Functions Local (the Docker image), started with
LAMBDA_ENDPOINT pointing back at this runtime, whose port also serves Lambda's Invoke API.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Protocol

from local.runtime.template import StateMachine
from local.stepfunctions import LambdaInvoker, StepFunctionsService
from local.stepfunctions.api import handle_request

log = logging.getLogger("local.stepfunctions")


class StepFunctionsBackend(Protocol):
    #: Where handlers' boto3 should send Step Functions calls; None means this runtime's port.
    endpoint: str | None

    def handle(self, target: str, body: bytes) -> tuple[int, dict[str, Any]]: ...
    def deploy(self, machines: Iterable[StateMachine]) -> None: ...
    def start(self) -> None: ...
    def answer_waiting_polls(self) -> None: ...
    def stop(self) -> None: ...


class EmbeddedStepFunctions:
    endpoint: str | None = None

    def __init__(self, db_path: Path, invoker: LambdaInvoker) -> None:
        self.service = StepFunctionsService(db_path, invoker)

    def handle(self, target: str, body: bytes) -> tuple[int, dict[str, Any]]:
        return handle_request(self.service, target, body)

    def deploy(self, machines: Iterable[StateMachine]) -> None:
        for machine in machines:
            self.service.upsert_state_machine(machine.name, machine.definition, machine.role_arn)

    def start(self) -> None:
        self.service.start()

    def answer_waiting_polls(self) -> None:
        """GetActivityTask long polls answer `{}` now, before the HTTP server's shutdown, which
        would otherwise wait for them and then cut them off with a 500."""
        self.service.activities.polls.stop()

    def stop(self) -> None:
        self.service.stop()


class ExternalStepFunctions:
    """Forwards the Step Functions API to another server and deploys the template's machines."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint.rstrip("/")

    def handle(self, target: str, body: bytes) -> tuple[int, dict[str, Any]]:
        request = urllib.request.Request(
            self.endpoint + "/",
            data=body,
            method="POST",
            headers={"X-Amz-Target": target, "Content-Type": "application/x-amz-json-1.0"},
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"{}")
        except (urllib.error.URLError, OSError) as error:
            return 503, {
                "__type": "ServiceUnavailable",
                "message": f"Step Functions at {self.endpoint} is unreachable: {error}",
            }

    def _call(self, operation: str, request: dict[str, Any]) -> dict[str, Any]:
        status, payload = self.handle(f"AWSStepFunctions.{operation}", json.dumps(request).encode())
        if status >= 400:
            raise RuntimeError(f"{operation} at {self.endpoint} failed: {status} {payload}")
        return payload

    def deploy(self, machines: Iterable[StateMachine]) -> None:
        existing: dict[str, str] = {}
        token: str | None = None
        while True:
            page = self._call("ListStateMachines", {"nextToken": token} if token else {})
            existing.update({m["name"]: m["stateMachineArn"] for m in page["stateMachines"]})
            token = page.get("nextToken")
            if not token:
                break
        for machine in machines:
            if machine.name in existing:
                self._call(
                    "UpdateStateMachine",
                    {
                        "stateMachineArn": existing[machine.name],
                        "definition": machine.definition,
                        "roleArn": machine.role_arn,
                    },
                )
            else:
                self._call(
                    "CreateStateMachine",
                    {
                        "name": machine.name,
                        "definition": machine.definition,
                        "roleArn": machine.role_arn,
                    },
                )
            log.info("state machine %s deployed to %s", machine.name, self.endpoint)

    def start(self) -> None:
        pass

    def answer_waiting_polls(self) -> None:
        pass  # the other server's polls are its own

    def stop(self) -> None:
        pass
