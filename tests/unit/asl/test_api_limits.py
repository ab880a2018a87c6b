"""The Step Functions API's length limits, enforced by the service as AWS does: a raw HTTP
caller skips botocore's client-side checks, and the engine must not store what AWS refuses."""

from __future__ import annotations

import json
from typing import Any

import pytest

from local.stepfunctions.errors import ApiError
from tests.unit.asl.conftest import ROLE, Harness

WAIT = {
    "StartAt": "Wait",
    "States": {
        "Wait": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
            "Parameters": {"FunctionName": "f", "Payload": {"t.$": "$$.Task.Token"}},
            "End": True,
        }
    },
}


def refused(call: Any, member: str, maximum: int) -> None:
    with pytest.raises(ApiError) as caught:
        call()
    assert caught.value.type_name == "ValidationException"
    assert f"Value at '{member}'" in str(caught.value)
    assert f"less than or equal to {maximum}" in str(caught.value)


def test_callbacks_refuse_oversized_members(harness: Harness) -> None:
    svc = harness.svc
    refused(
        lambda: svc.send_task_success({"taskToken": "t" * 2049, "output": "{}"}),
        "taskToken",
        2048,
    )
    refused(
        lambda: svc.send_task_success({"taskToken": "t", "output": json.dumps("x" * 262144)}),
        "output",
        262144,
    )
    refused(lambda: svc.send_task_failure({"taskToken": "t", "error": "E" * 257}), "error", 256)
    refused(lambda: svc.send_task_failure({"taskToken": "t", "cause": "c" * 32769}), "cause", 32768)
    refused(lambda: svc.send_task_heartbeat({"taskToken": "t" * 2049}), "taskToken", 2048)


def test_a_waiting_task_is_untouched_by_a_refused_callback(harness: Harness, lambdas: Any) -> None:
    tokens: list[str] = []
    lambdas.add("f", lambda payload: tokens.append(payload["t"]) or {})
    arn = harness.start(harness.machine(WAIT))
    harness.svc.wait_for(arn, timeout=0.5)
    assert tokens
    with pytest.raises(ApiError):
        harness.svc.send_task_failure({"taskToken": tokens[0], "error": "E" * 257})
    assert harness.svc.describe_execution({"executionArn": arn})["status"] == "RUNNING"
    # At the limit exactly, it is accepted.
    harness.svc.send_task_failure({"taskToken": tokens[0], "error": "E" * 256})
    assert harness.svc.wait_for(arn)["status"] == "FAILED"


def test_definitions_over_a_megabyte_are_refused(harness: Harness) -> None:
    padded = {**WAIT, "Comment": "x" * 1048576}
    refused(
        lambda: harness.svc.create_state_machine(
            {"name": "big", "definition": json.dumps(padded), "roleArn": ROLE}
        ),
        "definition",
        1048576,
    )


def test_stop_execution_limits_error_and_cause(harness: Harness) -> None:
    arn = harness.start(harness.machine(WAIT))
    refused(
        lambda: harness.svc.stop_execution({"executionArn": arn, "cause": "c" * 32769}),
        "cause",
        32768,
    )
