"""The local ASL engine against moto's (the reference engine we compare results with).

Both run the same state machines through boto3: ours over HTTP on localhost, as handlers and the
AWS CLI reach it; moto in-process (no HTTP at all), which flatters moto. Figures: executions per
second (start → terminal status seen by DescribeExecution) and the ratio.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3

from bench.machine import describe

ROLE = "arn:aws:iam::123456789012:role/bench"

MACHINES: dict[str, dict[str, Any]] = {
    "pass-choice-chain": {
        "StartAt": "Init",
        "States": {
            "Init": {"Type": "Pass", "Result": {"n": 3}, "ResultPath": "$.c", "Next": "Fmt"},
            "Fmt": {
                "Type": "Pass",
                "Parameters": {"msg.$": "States.Format('hi {}', $.name)", "c.$": "$.c"},
                "Next": "Pick",
            },
            "Pick": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.c.n", "NumericGreaterThan": 2, "Next": "Big"}],
                "Default": "Small",
            },
            "Big": {"Type": "Pass", "Result": "big", "ResultPath": "$.size", "End": True},
            "Small": {"Type": "Pass", "Result": "small", "ResultPath": "$.size", "End": True},
        },
    },
    "map-of-10": {
        "StartAt": "Each",
        "States": {
            "Each": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "INLINE"},
                    "StartAt": "Double",
                    "States": {
                        "Double": {
                            "Type": "Pass",
                            "Parameters": {"v.$": "States.MathAdd($, $)"},
                            "End": True,
                        }
                    },
                },
                "End": True,
            }
        },
    },
}
INPUTS = {"pass-choice-chain": {"name": "Ada"}, "map-of-10": {"items": list(range(10))}}


def run_many(client: Any, definition: dict[str, Any], payload: Any, count: int) -> list[float]:
    arn = client.create_state_machine(
        name=f"bench-{time.monotonic_ns()}", definition=json.dumps(definition), roleArn=ROLE
    )["stateMachineArn"]
    durations: list[float] = []
    for _ in range(count):
        started = time.perf_counter()
        execution = client.start_execution(
            stateMachineArn=arn, name=str(uuid.uuid4()), input=json.dumps(payload)
        )
        while True:
            status = client.describe_execution(executionArn=execution["executionArn"])["status"]
            if status != "RUNNING":
                break
            time.sleep(0.001)
        if status != "SUCCEEDED":
            raise RuntimeError(f"{status} on {definition}")
        durations.append(time.perf_counter() - started)
    return durations


def local_client() -> tuple[Any, Callable[[], None]]:
    from local.stepfunctions.server import Server

    tmp = tempfile.TemporaryDirectory()
    server = Server(Path(tmp.name) / "sfn.db").start()
    client = boto3.client(
        "stepfunctions",
        endpoint_url=server.url,
        region_name="us-east-1",
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
    )

    def close() -> None:
        server.stop()
        tmp.cleanup()

    return client, close


def moto_client() -> tuple[Any, Callable[[], None]]:
    from moto import mock_aws

    mock = mock_aws(config={"stepfunctions": {"execute_state_machine": True}})
    mock.start()
    client = boto3.client(
        "stepfunctions",
        region_name="us-east-1",
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
    )
    return client, mock.stop


def main(quick: bool = False) -> None:
    count = 20 if quick else 200
    print(f"\n## ASL engine: local vs moto ({count} executions each)\nmachine: {describe()}\n")
    print(f"{'state machine':20} {'engine':8} {'exec/s':>8} {'p50 ms':>8} {'p95 ms':>8}")
    for name, definition in MACHINES.items():
        rates: dict[str, float] = {}
        for engine, factory in (("local", local_client), ("moto", moto_client)):
            client, close = factory()
            try:
                run_many(client, definition, INPUTS[name], 3)  # warm-up
                durations = sorted(run_many(client, definition, INPUTS[name], count))
            finally:
                close()
            rates[engine] = len(durations) / sum(durations)
            p50 = statistics.median(durations) * 1000
            p95 = durations[int(len(durations) * 0.95) - 1] * 1000
            print(f"{name:20} {engine:8} {rates[engine]:8.1f} {p50:8.1f} {p95:8.1f}")
        print(f"{name:20} {'ratio':8} {rates['local'] / rates['moto']:8.2f}x  (local / moto)")
