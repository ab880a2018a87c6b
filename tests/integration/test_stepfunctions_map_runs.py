# ruff: noqa: F811  -- pytest fixtures imported from the module that defines them
"""Distributed Map and the map-run API (DescribeMapRun, ListMapRuns, UpdateMapRun,
ListExecutions of a map run), through boto3 against the standalone server."""

from __future__ import annotations

import json
import pathlib
import re
import time
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from local.stepfunctions import StepFunctionsService
from local.stepfunctions.clock import ManualClock
from tests.integration.test_stepfunctions_api import code, server, sfn  # noqa: F401
from tests.support.stepfunctions import create_machine as create
from tests.support.stepfunctions import start
from tests.unit.asl.conftest import FakeLambdas

ROLE = "arn:aws:iam::123456789012:role/test"
PREFIX = "arn:aws:states:us-east-1:123456789012"
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
DISTRIBUTED = {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}


def distributed_map(processor_states: dict[str, Any], start: str, **fields: Any) -> dict[str, Any]:
    return {
        "StartAt": "Fan",
        "States": {
            "Fan": {
                "Type": "Map",
                "ItemProcessor": {
                    "ProcessorConfig": DISTRIBUTED,
                    "StartAt": start,
                    "States": processor_states,
                },
                "End": True,
                **fields,
            }
        },
    }


ECHO = {"Echo": {"Type": "Pass", "End": True}}
# An item {"fail": true} fails its child execution with Boom.
FAIL_SOME = {
    "Check": {
        "Type": "Choice",
        "Choices": [{"Variable": "$.fail", "BooleanEquals": True, "Next": "Boom"}],
        "Default": "Fine",
    },
    "Boom": {"Type": "Fail", "Error": "Boom", "Cause": "item failed"},
    "Fine": {"Type": "Pass", "End": True},
}


def until(probe: Callable[[], Any], timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.02)


def finished(sfn: Any, arn: str) -> dict[str, Any]:
    return dict(
        until(lambda: (d := sfn.describe_execution(executionArn=arn))["status"] != "RUNNING" and d)
        or sfn.describe_execution(executionArn=arn)
    )


def the_map_run(sfn: Any, exec_arn: str) -> str:
    runs = until(lambda: sfn.list_map_runs(executionArn=exec_arn)["mapRuns"])
    assert len(runs) == 1
    return str(runs[0]["mapRunArn"])


def history_types(sfn: Any, exec_arn: str) -> list[str]:
    return [e["type"] for e in sfn.get_execution_history(executionArn=exec_arn)["events"]]


def child_executions(sfn: Any, map_run_arn: str, **extra: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    token = None
    while True:
        page = sfn.list_executions(
            mapRunArn=map_run_arn, maxResults=8, **({"nextToken": token} if token else {}), **extra
        )
        items += page["executions"]
        token = page.get("nextToken")
        if not token:
            return items


def test_twenty_items_three_at_a_time_and_update_while_running(sfn: Any) -> None:
    waiting = {"Hold": {"Type": "Wait", "Seconds": 2, "Next": "Done"}, "Done": ECHO["Echo"]}
    sm = create(sfn, "dmap-twenty", distributed_map(waiting, "Hold", MaxConcurrency=3, Label="L1"))
    exec_arn = start(sfn, sm, [{"n": i} for i in range(20)])
    mr_arn = the_map_run(sfn, exec_arn)
    assert re.fullmatch(rf"{PREFIX}:mapRun:dmap-twenty/L1:{UUID}", mr_arn)

    first = sfn.describe_map_run(mapRunArn=mr_arn)
    assert first["status"] == "RUNNING" and first["maxConcurrency"] == 3
    assert first["executionArn"] == exec_arn
    counts = first["executionCounts"]
    assert (counts["running"], counts["pending"], counts["total"]) == (3, 17, 20)
    running = child_executions(sfn, mr_arn)
    assert len(running) == 3 and {e["status"] for e in running} == {"RUNNING"}
    for e in running:
        assert re.fullmatch(rf"{PREFIX}:execution:dmap-twenty/L1:{UUID}", e["executionArn"])
        assert e["stateMachineArn"] == f"{sm}/L1"
        assert e["mapRunArn"] == mr_arn and e["itemCount"] == 1

    # UpdateMapRun takes effect on the running map run: seven more children start at once.
    sfn.update_map_run(mapRunArn=mr_arn, maxConcurrency=10)
    updated = sfn.describe_map_run(mapRunArn=mr_arn)
    assert updated["maxConcurrency"] == 10
    assert updated["executionCounts"]["running"] == 10
    assert updated["itemCounts"]["pending"] == 10

    done = finished(sfn, exec_arn)
    assert done["status"] == "SUCCEEDED"
    assert json.loads(done["output"]) == [{"n": i} for i in range(20)]
    final = sfn.describe_map_run(mapRunArn=mr_arn)
    assert final["status"] == "SUCCEEDED" and final["stopDate"] >= final["startDate"]
    assert final["itemCounts"] == {
        "pending": 0,
        "running": 0,
        "succeeded": 20,
        "failed": 0,
        "timedOut": 0,
        "aborted": 0,
        "total": 20,
        "resultsWritten": 20,
        "failuresNotRedrivable": 0,
        "pendingRedrive": 0,
    }
    assert final["redriveCount"] == 0
    children = child_executions(sfn, mr_arn)
    assert len(children) == 20 and {e["status"] for e in children} == {"SUCCEEDED"}
    # Never more than the concurrency of the moment: 3 of the first 3 starts, then 10.
    assert max(_overlap(children)) <= 10

    child = sfn.describe_execution(executionArn=children[0]["executionArn"])
    assert child["mapRunArn"] == mr_arn and child["stateMachineArn"] == f"{sm}/L1"
    machine = sfn.describe_state_machine_for_execution(executionArn=child["executionArn"])
    assert (machine["mapRunArn"], machine["label"]) == (mr_arn, "L1")
    assert machine["stateMachineArn"] == f"{sm}/L1"
    assert json.loads(machine["definition"])["StartAt"] == "Hold"
    parent_machine = sfn.describe_state_machine_for_execution(executionArn=exec_arn)
    assert "mapRunArn" not in parent_machine and "label" not in parent_machine
    assert history_types(sfn, children[0]["executionArn"])[:2] == [
        "ExecutionStarted",
        "WaitStateEntered",
    ]
    assert history_types(sfn, exec_arn) == [
        "ExecutionStarted",
        "MapStateEntered",
        "MapStateStarted",
        "MapRunStarted",
        "MapRunSucceeded",
        "MapStateSucceeded",
        "MapStateExited",
        "ExecutionSucceeded",
    ]
    started = sfn.get_execution_history(executionArn=exec_arn)["events"][3]
    assert started["mapRunStartedEventDetails"] == {"mapRunArn": mr_arn}
    listed = sfn.list_map_runs(executionArn=exec_arn)["mapRuns"]
    assert listed[0]["stateMachineArn"] == f"{sm}/L1" and "stopDate" in listed[0]
    # A completed map run cannot be updated.
    with pytest.raises(ClientError) as e:
        sfn.update_map_run(mapRunArn=mr_arn, maxConcurrency=1)
    assert code(e) == "ValidationException"
    assert e.value.response["reason"] == "CANNOT_UPDATE_COMPLETED_MAP_RUN"


def _overlap(children: list[dict[str, Any]]) -> list[int]:
    """How many children ran at each child's start (the start itself included)."""
    return [
        sum(1 for o in children if o["startDate"] <= c["startDate"] < o["stopDate"])
        for c in children
    ]


def test_batcher_selector_and_unlabelled_arns(sfn: Any) -> None:
    definition = distributed_map(
        ECHO,
        "Echo",
        ItemsPath="$.things",
        ItemSelector={"v.$": "$$.Map.Item.Value", "i.$": "$$.Map.Item.Index"},
        ItemBatcher={"MaxItemsPerBatch": 6, "BatchInput": {"run.$": "$.run"}},
    )
    sm = create(sfn, "dmap-batches", definition)
    exec_arn = start(sfn, sm, {"run": "r1", "things": list(range(20))})
    done = finished(sfn, exec_arn)
    assert done["status"] == "SUCCEEDED"
    batches = json.loads(done["output"])
    assert [len(b["Items"]) for b in batches] == [6, 6, 6, 2]
    assert all(b["BatchInput"] == {"run": "r1"} for b in batches)
    assert [it for b in batches for it in b["Items"]] == [{"v": i, "i": i} for i in range(20)]
    mr_arn = the_map_run(sfn, exec_arn)
    # No Label: the map run's part of the ARN is a UUID.
    assert re.fullmatch(rf"{PREFIX}:mapRun:dmap-batches/{UUID}:{UUID}", mr_arn)
    described = sfn.describe_map_run(mapRunArn=mr_arn)
    assert described["itemCounts"]["total"] == 20 and described["executionCounts"]["total"] == 4
    children = child_executions(sfn, mr_arn)
    assert sorted(e["itemCount"] for e in children) == [2, 6, 6, 6]


def test_no_items_is_an_empty_successful_map_run(sfn: Any) -> None:
    sm = create(sfn, "dmap-empty", distributed_map(ECHO, "Echo"))
    exec_arn = start(sfn, sm, [])
    done = finished(sfn, exec_arn)
    assert (done["status"], json.loads(done["output"])) == ("SUCCEEDED", [])
    mr = sfn.describe_map_run(mapRunArn=the_map_run(sfn, exec_arn))
    assert mr["status"] == "SUCCEEDED" and mr["itemCounts"]["total"] == 0


def test_byte_limit_cuts_batches(sfn: Any) -> None:
    definition = distributed_map(ECHO, "Echo", ItemBatcher={"MaxInputBytesPerBatch": 40})
    sm = create(sfn, "dmap-bytes", definition)
    exec_arn = start(sfn, sm, ["aaaaaaaaaa"] * 5)  # 12 bytes each, 12 for {"Items":[]}
    done = finished(sfn, exec_arn)
    assert [len(b["Items"]) for b in json.loads(done["output"])] == [2, 2, 1]


def test_tolerated_failures_below_the_threshold(sfn: Any) -> None:
    sm = create(sfn, "dmap-tolerant", distributed_map(FAIL_SOME, "Check", ToleratedFailureCount=2))
    items = [{"fail": i in (3, 7)} for i in range(10)]
    exec_arn = start(sfn, sm, items)
    done = finished(sfn, exec_arn)
    assert done["status"] == "SUCCEEDED"
    out = json.loads(done["output"])
    assert out[3] == {"Error": "Boom", "Cause": "item failed"} and out[0] == {"fail": False}
    counts = sfn.describe_map_run(mapRunArn=the_map_run(sfn, exec_arn))["itemCounts"]
    assert (counts["succeeded"], counts["failed"]) == (8, 2)
    failed = child_executions(sfn, the_map_run(sfn, exec_arn), statusFilter="FAILED")
    assert len(failed) == 2


@pytest.mark.parametrize(
    "fields",
    [{"ToleratedFailurePercentage": 10}, {"ToleratedFailureCount": 1}, {}],
    ids=["percentage", "count", "none"],
)
def test_failures_above_the_threshold_fail_the_map_run(sfn: Any, fields: dict[str, Any]) -> None:
    name = "dmap-over-" + ("-".join(fields) or "none")
    sm = create(sfn, name, distributed_map(FAIL_SOME, "Check", MaxConcurrency=1, **fields))
    exec_arn = start(sfn, sm, [{"fail": i in (1, 2)} for i in range(10)])
    done = finished(sfn, exec_arn)
    assert done["status"] == "FAILED"
    assert done["error"] == "States.ExceedToleratedFailureThreshold"
    mr = sfn.describe_map_run(mapRunArn=the_map_run(sfn, exec_arn))
    assert mr["status"] == "FAILED"
    # The run fails at the failure past the threshold: the items after it never start.
    assert mr["itemCounts"]["aborted"] >= 7 and mr["itemCounts"]["succeeded"] == 1
    events = sfn.get_execution_history(executionArn=exec_arn)["events"]
    failed = [e for e in events if e["type"] == "MapRunFailed"]
    assert (
        failed[0]["mapRunFailedEventDetails"]["error"] == "States.ExceedToleratedFailureThreshold"
    )


def test_update_map_run_thresholds_take_effect(sfn: Any) -> None:
    states = {
        "Check": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.fail", "BooleanEquals": True, "Next": "Boom"}],
            "Default": "Hold",
        },
        "Boom": {"Type": "Fail", "Error": "Boom"},
        "Hold": {"Type": "Wait", "Seconds": 600, "End": True},
    }
    sm = create(
        sfn, "dmap-update-threshold", distributed_map(states, "Check", ToleratedFailureCount=5)
    )
    exec_arn = start(sfn, sm, [{"fail": i < 2} for i in range(4)])
    mr_arn = the_map_run(sfn, exec_arn)
    until(lambda: sfn.describe_map_run(mapRunArn=mr_arn)["itemCounts"]["failed"] == 2)
    assert sfn.describe_execution(executionArn=exec_arn)["status"] == "RUNNING"
    sfn.update_map_run(mapRunArn=mr_arn, toleratedFailureCount=1, toleratedFailurePercentage=60.0)
    done = finished(sfn, exec_arn)
    assert done["error"] == "States.ExceedToleratedFailureThreshold"
    mr = sfn.describe_map_run(mapRunArn=mr_arn)
    assert (mr["toleratedFailureCount"], mr["toleratedFailurePercentage"]) == (1, 60.0)
    # The two children still waiting were aborted with the map run.
    assert mr["executionCounts"]["aborted"] == 2


def test_stopping_the_parent_aborts_the_map_run_and_children(sfn: Any) -> None:
    hold = {"Hold": {"Type": "Wait", "Seconds": 600, "End": True}}
    sm = create(sfn, "dmap-stop", distributed_map(hold, "Hold", MaxConcurrency=2))
    exec_arn = start(sfn, sm, [1, 2, 3])
    mr_arn = the_map_run(sfn, exec_arn)
    until(lambda: sfn.describe_map_run(mapRunArn=mr_arn)["executionCounts"]["running"] == 2)
    sfn.stop_execution(executionArn=exec_arn)
    mr = sfn.describe_map_run(mapRunArn=mr_arn)
    assert mr["status"] == "ABORTED"
    # Two children were running, one not yet started: all three are aborted.
    assert (mr["executionCounts"]["aborted"], mr["itemCounts"]["aborted"]) == (3, 3)
    assert len(child_executions(sfn, mr_arn)) == 2
    for child in child_executions(sfn, mr_arn):
        assert child["status"] == "ABORTED"
        assert history_types(sfn, child["executionArn"])[-1] == "ExecutionAborted"
    assert "MapRunAborted" in history_types(sfn, exec_arn)


def test_stopping_a_child_counts_as_a_failed_item(sfn: Any) -> None:
    hold = {"Hold": {"Type": "Wait", "Seconds": 600, "End": True}}
    sm = create(sfn, "dmap-stop-child", distributed_map(hold, "Hold"))
    exec_arn = start(sfn, sm, [1])
    mr_arn = the_map_run(sfn, exec_arn)
    child = until(lambda: child_executions(sfn, mr_arn))[0]
    sfn.stop_execution(executionArn=child["executionArn"])
    assert finished(sfn, exec_arn)["error"] == "States.ExceedToleratedFailureThreshold"


def test_jsonata_items_and_catch(sfn: Any) -> None:
    definition = {
        "QueryLanguage": "JSONata",
        "StartAt": "Fan",
        "States": {
            "Fan": {
                "Type": "Map",
                "Items": "{% $states.input.xs %}",
                "ItemSelector": {"double": "{% $states.context.Map.Item.Value * 2 %}"},
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
                    "StartAt": "Out",
                    "States": {
                        "Out": {"Type": "Pass", "Output": "{% $states.input.double %}", "End": True}
                    },
                },
                "Catch": [
                    {
                        "ErrorEquals": ["States.ALL"],
                        "Output": "{% $states.errorOutput %}",
                        "Next": "Caught",
                    }
                ],
                "End": True,
            },
            "Caught": {"Type": "Pass", "End": True},
        },
    }
    sm = create(sfn, "dmap-jsonata", definition)
    done = finished(sfn, start(sfn, sm, {"xs": [1, 2, 3]}))
    assert json.loads(done["output"]) == [2, 4, 6]


@pytest.mark.parametrize(
    ("field", "error"),
    [
        (
            {
                "ItemReader": {
                    "Resource": "arn:aws:states:::s3:getObject",
                    "ReaderConfig": {"InputType": "JSON"},
                    "Parameters": {"Bucket": "b", "Key": "k"},
                }
            },
            "States.ItemReaderFailed",
        ),
        (
            {
                "ResultWriter": {
                    "Resource": "arn:aws:states:::s3:putObject",
                    "Parameters": {"Bucket": "b", "Prefix": "p"},
                }
            },
            "States.ResultWriterFailed",
        ),
    ],
    ids=["reader", "writer"],
)
def test_s3_reader_and_writer_are_refused_at_run_time(
    sfn: Any, field: dict[str, Any], error: str
) -> None:
    sm = create(sfn, f"dmap-s3-{error.split('.')[1]}", distributed_map(ECHO, "Echo", **field))
    exec_arn = start(sfn, sm, [1, 2])
    done = finished(sfn, exec_arn)
    assert (done["status"], done["error"]) == ("FAILED", error)
    assert sfn.describe_map_run(mapRunArn=the_map_run(sfn, exec_arn))["status"] == "FAILED"
    assert history_types(sfn, exec_arn)[-4:] == [
        "MapRunStarted",
        "MapRunFailed",
        "MapStateFailed",
        "ExecutionFailed",
    ]


def test_list_map_runs_pages(sfn: Any) -> None:
    first = {k: v for k, v in distributed_map(ECHO, "Echo")["States"]["Fan"].items() if k != "End"}
    echo_again = {"Again": {"Type": "Pass", "End": True}}
    second = distributed_map(echo_again, "Again", Label="second")["States"]["Fan"]
    two = {"StartAt": "A", "States": {"A": {**first, "Next": "B"}, "B": second}}
    sm = create(sfn, "dmap-two", two)
    exec_arn = start(sfn, sm, [1])
    assert finished(sfn, exec_arn)["status"] == "SUCCEEDED"
    page = sfn.list_map_runs(executionArn=exec_arn, maxResults=1)
    assert len(page["mapRuns"]) == 1 and "nextToken" in page
    rest = sfn.list_map_runs(executionArn=exec_arn, nextToken=page["nextToken"])
    assert "nextToken" not in rest
    arns = [page["mapRuns"][0]["mapRunArn"], rest["mapRuns"][0]["mapRunArn"]]
    assert "/second:" in arns[1] and "/second:" not in arns[0]


@pytest.mark.parametrize(
    ("label", "sentence"),
    [
        ("", "Label must be 1 to 40 characters"),
        ("x" * 41, "Label must be 1 to 40 characters"),
        ("a b", "Label must not contain whitespace"),
        ("a:b", "Label must not contain whitespace"),
    ],
)
def test_bad_labels_are_refused_on_create(sfn: Any, label: str, sentence: str) -> None:
    with pytest.raises(ClientError) as e:
        create(sfn, "dmap-bad-label", distributed_map(ECHO, "Echo", Label=label))
    assert code(e) == "InvalidDefinition"
    assert f"INVALID_LABEL_NAME: {sentence}" in e.value.response["Error"]["Message"]
    assert "/States/Fan/Label" in e.value.response["Error"]["Message"]
    create(sfn, "dmap-good-label", distributed_map(ECHO, "Echo", Label="x" * 40))


def test_bad_arns_and_requests(sfn: Any) -> None:
    missing = f"{PREFIX}:mapRun:nope/L:{'0' * 8}-0000-0000-0000-{'0' * 12}"
    for garbage in ("garbage", f"{PREFIX}:execution:nope:x", f"{PREFIX}:mapRun:nope"):
        for call in (
            lambda a: sfn.describe_map_run(mapRunArn=a),
            lambda a: sfn.update_map_run(mapRunArn=a, maxConcurrency=1),
            lambda a: sfn.list_executions(mapRunArn=a),
        ):
            with pytest.raises(ClientError) as e:
                call(garbage)
            assert code(e) == "InvalidArn", garbage
    with pytest.raises(ClientError) as e:
        sfn.describe_map_run(mapRunArn=missing)
    assert code(e) == "ResourceNotFound" and e.value.response["resourceName"] == missing
    with pytest.raises(ClientError) as e:
        sfn.update_map_run(mapRunArn=missing, maxConcurrency=1)
    assert code(e) == "ResourceNotFound"
    with pytest.raises(ClientError) as e:
        sfn.update_map_run(mapRunArn=missing)
    assert (code(e), e.value.response["reason"]) == (
        "ValidationException",
        "MISSING_REQUIRED_PARAMETER",
    )
    with pytest.raises(ClientError) as e:
        sfn.update_map_run(mapRunArn=missing, toleratedFailurePercentage=150)
    assert code(e) == "ValidationException"
    with pytest.raises(ClientError) as e:
        sfn.list_executions(mapRunArn=missing, stateMachineArn=f"{PREFIX}:stateMachine:x")
    assert code(e) == "ValidationException"
    with pytest.raises(ClientError) as e:
        sfn.list_executions(mapRunArn=missing, statusFilter="SLEEPING")
    assert code(e) == "ValidationException"
    with pytest.raises(ClientError) as e:
        sfn.list_map_runs(executionArn="garbage")
    assert code(e) == "InvalidArn"
    with pytest.raises(ClientError) as e:
        sfn.list_map_runs(executionArn=f"{PREFIX}:execution:nope:x")
    assert code(e) == "ExecutionDoesNotExist"
    with pytest.raises(ClientError) as e:
        sfn.list_map_runs(executionArn=f"{PREFIX}:execution:nope:x", nextToken="???")
    assert code(e) in ("InvalidToken", "ExecutionDoesNotExist")


# ---------------------------------------------------------------- durability, mocked test cases


def _service(db: pathlib.Path, clock: ManualClock, **extra: Any) -> StepFunctionsService:
    svc = StepFunctionsService(db, FakeLambdas(), clock=clock, **extra)
    svc.start()
    return svc


def test_map_run_survives_a_restart(tmp_path: pathlib.Path) -> None:
    db = tmp_path / "sfn.db"
    clock = ManualClock()
    hold = {"Hold": {"Type": "Wait", "Seconds": 60, "End": True}}
    svc = _service(db, clock)
    sm = svc.upsert_state_machine(
        "durable", json.dumps(distributed_map(hold, "Hold", MaxConcurrency=2)), ROLE
    )
    exec_arn = svc.start_execution({"stateMachineArn": sm, "input": "[1, 2, 3, 4, 5]"})[
        "executionArn"
    ]
    mr_arn = until(lambda: svc.list_map_runs({"executionArn": exec_arn})["mapRuns"])[0]["mapRunArn"]
    until(lambda: svc.describe_map_run({"mapRunArn": mr_arn})["executionCounts"]["running"] == 2)
    # "crash": drop the service without stop(), as test_restart does
    svc.scheduler.stopping = True

    again = _service(db, clock)
    try:
        counts = again.describe_map_run({"mapRunArn": mr_arn})["executionCounts"]
        assert (counts["running"], counts["pending"]) == (2, 3)

        def later() -> bool:
            """A minute later (each wave of children waits one), is it over?"""
            clock.advance(61)
            again.scheduler.fire_due_timers()
            return again.describe_execution({"executionArn": exec_arn})["status"] != "RUNNING"

        until(later)
        done = again.describe_execution({"executionArn": exec_arn})
        assert done["status"] == "SUCCEEDED" and json.loads(done["output"]) == [1, 2, 3, 4, 5]
        assert again.describe_map_run({"mapRunArn": mr_arn})["itemCounts"]["succeeded"] == 5
    finally:
        again.stop()


def test_a_mocked_test_case_reaches_the_children(tmp_path: pathlib.Path) -> None:
    call = {
        "Call": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "Work", "Payload.$": "$"},
            "ResultSelector": {"got.$": "$.Payload"},
            "End": True,
        }
    }
    config = {
        "StateMachines": {"mocked": {"TestCases": {"Happy": {"Call": "Answer"}}}},
        "MockedResponses": {"Answer": {"0": {"Return": {"StatusCode": 200, "Payload": "ok"}}}},
    }
    svc = _service(tmp_path / "sfn.db", ManualClock(), mock_config=config)
    try:
        sm = svc.upsert_state_machine("mocked", json.dumps(distributed_map(call, "Call")), ROLE)
        started = svc.start_execution({"stateMachineArn": f"{sm}#Happy", "input": "[1, 2]"})
        done = svc.wait_for(started["executionArn"])
        # Each child counts its own invocations: both get response "0".
        assert json.loads(done["output"]) == [{"got": "ok"}, {"got": "ok"}]
    finally:
        svc.stop()
