"""What the Step Functions API tests share: a boto3 client for an engine's endpoint, the error
code of a refusal, waiting for an execution to end, making and starting a machine, its history."""

from __future__ import annotations

import json
import time
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

ROLE = "arn:aws:iam::123456789012:role/test"


def engine_client(url: str, **config: Any) -> Any:
    """Any credentials work locally; `config` goes to botocore's Config (e.g.
    inject_host_prefix=False for TestState and StartSyncExecution)."""
    return boto3.client(
        "stepfunctions",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(**config) if config else None,
    )


def error_code(e: pytest.ExceptionInfo[ClientError]) -> str:
    return str(e.value.response["Error"]["Code"])


def wait_terminal(sfn: Any, arn: str, timeout: float = 10.0) -> dict[str, Any]:
    """DescribeExecution once the execution has ended (or as it is when `timeout` is up)."""
    deadline = time.monotonic() + timeout
    while True:
        d = sfn.describe_execution(executionArn=arn)
        if d["status"] != "RUNNING" or time.monotonic() > deadline:
            return dict(d)
        time.sleep(0.02)


def create_machine(sfn: Any, name: str, definition: dict[str, Any]) -> str:
    return str(
        sfn.create_state_machine(name=name, definition=json.dumps(definition), roleArn=ROLE)[
            "stateMachineArn"
        ]
    )


def start(sfn: Any, sm_arn: str, value: Any = None) -> str:
    payload = {} if value is None else value
    return str(
        sfn.start_execution(stateMachineArn=sm_arn, input=json.dumps(payload))["executionArn"]
    )


def history(sfn: Any, arn: str) -> list[dict[str, Any]]:
    return list(sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"])
