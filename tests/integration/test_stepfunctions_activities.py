# ruff: noqa: F811  -- pytest fixtures imported from the module that defines them
"""Activities through boto3 against the standalone server: Create/Describe/Delete/
ListActivities, tags on activity ARNs, GetActivityTask's long poll, and Task states whose
resource is an activity (history, timeouts, heartbeats, Retry/Catch, a restart)."""

from __future__ import annotations

import json
import pathlib
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from local.stepfunctions.server import Server
from tests.integration.test_stepfunctions_api import code, server, sfn  # noqa: F401
from tests.support.aws import local_client
from tests.support.runtime import LocalRuntime
from tests.support.stepfunctions import engine_client, history, start

ROLE = "arn:aws:iam::123456789012:role/test"
ACTIVITY_PREFIX = "arn:aws:states:us-east-1:123456789012:activity:"
SHORT_POLL = 1.0  # seconds: GetActivityTask's 60 s, shortened so an empty poll is quick


def client(srv: Server, **config: Any) -> Any:
    return engine_client(srv.url, read_timeout=70, retries={"max_attempts": 0}, **config)


@pytest.fixture(scope="module")
def poller(server: Server) -> Any:
    """A client for GetActivityTask, on a server whose polls last SHORT_POLL seconds."""
    server.service.activities.poll_seconds = SHORT_POLL
    return client(server)


@pytest.fixture(scope="module")
def raw(server: Server) -> Any:
    """A client that sends what it is given: the server's own checks answer, not botocore's."""
    return client(server, parameter_validation=False)


def machine(sfn: Any, name: str, task: dict[str, Any], **states: Any) -> str:
    definition = {"StartAt": "Work", "States": {"Work": task, **states}}
    return str(
        sfn.create_state_machine(name=name, definition=json.dumps(definition), roleArn=ROLE)[
            "stateMachineArn"
        ]
    )


def activity_task(activity_arn: str, **fields: Any) -> dict[str, Any]:
    return {"Type": "Task", "Resource": activity_arn, "End": True, **fields}


def types(sfn: Any, exec_arn: str) -> list[str]:
    return [e["type"] for e in history(sfn, exec_arn)]


def wait_status(sfn: Any, exec_arn: str, timeout: float = 15.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        d = sfn.describe_execution(executionArn=exec_arn)
        if d["status"] != "RUNNING" or time.monotonic() > deadline:
            return dict(d)
        time.sleep(0.05)


def wait_event(sfn: Any, exec_arn: str, event_type: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while event_type not in types(sfn, exec_arn):
        assert time.monotonic() < deadline, f"no {event_type} in {types(sfn, exec_arn)}"
        time.sleep(0.05)


def take(poller: Any, activity_arn: str, timeout: float = 15.0, **worker: str) -> dict[str, Any]:
    """A task of the activity, polling again after each empty answer."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        task = dict(poller.get_activity_task(activityArn=activity_arn, **worker))
        if task.get("taskToken"):
            return task
    raise AssertionError(f"no task of {activity_arn} in {timeout} s")


# ---------------------------------------------------------------- the operations


def test_create_describe_list_delete(sfn: Any) -> None:
    created = sfn.create_activity(name="act-life", tags=[{"key": "team", "value": "a"}])
    arn = created["activityArn"]
    assert arn == ACTIVITY_PREFIX + "act-life"
    described = sfn.describe_activity(activityArn=arn)
    assert (described["name"], described["creationDate"]) == ("act-life", created["creationDate"])
    assert "encryptionConfiguration" not in described
    # Idempotent on the name: other tags are ignored and not applied (AWS's rule).
    again = sfn.create_activity(name="act-life", tags=[{"key": "team", "value": "b"}])
    assert (again["activityArn"], again["creationDate"]) == (arn, created["creationDate"])
    assert sfn.list_tags_for_resource(resourceArn=arn)["tags"] == [{"key": "team", "value": "a"}]
    assert arn in [a["activityArn"] for a in sfn.list_activities()["activities"]]
    sfn.delete_activity(activityArn=arn)
    with pytest.raises(ClientError) as e:
        sfn.describe_activity(activityArn=arn)
    assert code(e) == "ActivityDoesNotExist"
    assert arn not in [a["activityArn"] for a in sfn.list_activities()["activities"]]
    sfn.delete_activity(activityArn=arn)  # deleting an absent activity is not an error
    # Deleting dropped its tags: a new activity of the same name starts with none.
    sfn.create_activity(name="act-life")
    assert sfn.list_tags_for_resource(resourceArn=arn)["tags"] == []


def test_encryption_configuration_may_not_change(sfn: Any) -> None:
    owned = {"type": "AWS_OWNED_KEY"}
    arn = sfn.create_activity(name="act-enc", encryptionConfiguration=owned)["activityArn"]
    assert sfn.describe_activity(activityArn=arn)["encryptionConfiguration"] == owned
    assert sfn.create_activity(name="act-enc", encryptionConfiguration=owned)["activityArn"] == arn
    with pytest.raises(ClientError) as e:
        sfn.create_activity(
            name="act-enc",
            encryptionConfiguration={"type": "CUSTOMER_MANAGED_KMS_KEY", "kmsKeyId": "alias/k"},
        )
    assert code(e) == "ActivityAlreadyExists"
    with pytest.raises(ClientError) as e:
        sfn.create_activity(
            name="act-enc2", encryptionConfiguration={"type": "CUSTOMER_MANAGED_KMS_KEY"}
        )
    assert code(e) == "InvalidEncryptionConfiguration"


def test_list_activities_pages(sfn: Any) -> None:
    names = [f"act-page-{i}" for i in range(5)]
    for name in names:
        sfn.create_activity(name=name)
    seen: list[str] = []
    token = None
    while True:
        page = sfn.list_activities(maxResults=2, **({"nextToken": token} if token else {}))
        assert len(page["activities"]) <= 2
        seen += [a["name"] for a in page["activities"]]
        token = page.get("nextToken")
        if not token:
            break
    assert [n for n in seen if n.startswith("act-page-")] == names
    assert len(seen) == len(set(seen))
    with pytest.raises(ClientError) as e:
        sfn.list_activities(nextToken="not-a-token")
    assert code(e) == "InvalidToken"


def test_tags_on_activities(sfn: Any) -> None:
    arn = sfn.create_activity(name="act-tags")["activityArn"]
    sfn.tag_resource(resourceArn=arn, tags=[{"key": "k1", "value": "v1"}, {"key": "k2"}])
    sfn.untag_resource(resourceArn=arn, tagKeys=["k1"])
    assert sfn.list_tags_for_resource(resourceArn=arn)["tags"] == [{"key": "k2", "value": ""}]
    with pytest.raises(ClientError) as e:
        sfn.tag_resource(resourceArn=arn, tags=[{"key": f"t{i}", "value": "v"} for i in range(50)])
    assert code(e) == "TooManyTags"
    with pytest.raises(ClientError) as e:
        sfn.list_tags_for_resource(resourceArn=ACTIVITY_PREFIX + "act-never")
    assert code(e) == "ResourceNotFound"


def test_bad_inputs(sfn: Any, raw: Any, poller: Any) -> None:
    for name in ("a" * 81, "has space", "slash/name", ""):
        with pytest.raises(ClientError) as e:
            raw.create_activity(name=name)
        assert code(e) == "InvalidName", name
    with pytest.raises(ClientError) as e:
        raw.create_activity()
    assert code(e) == "MissingRequiredParameter"
    sm_arn = "arn:aws:states:us-east-1:123456789012:stateMachine:act-x"
    for bad in (sm_arn, "not-an-arn", ACTIVITY_PREFIX):
        for call in (sfn.describe_activity, sfn.delete_activity, poller.get_activity_task):
            with pytest.raises(ClientError) as e:
                call(activityArn=bad)
            assert code(e) == "InvalidArn", (call, bad)
    unknown = ACTIVITY_PREFIX + "act-unknown"
    for call in (sfn.describe_activity, poller.get_activity_task):
        with pytest.raises(ClientError) as e:
            call(activityArn=unknown)
        assert code(e) == "ActivityDoesNotExist"
    arn = sfn.create_activity(name="act-bad")["activityArn"]
    with pytest.raises(ClientError) as e:
        raw.get_activity_task(activityArn=arn, workerName="w" * 81)
    assert code(e) == "ValidationException"


# ---------------------------------------------------------------- GetActivityTask


def test_empty_poll_answers_nothing_after_the_poll_time(sfn: Any, poller: Any) -> None:
    arn = sfn.create_activity(name="act-empty")["activityArn"]
    began = time.monotonic()
    answer = poller.get_activity_task(activityArn=arn, workerName="w")
    waited = time.monotonic() - began
    assert "taskToken" not in answer and "input" not in answer
    assert SHORT_POLL * 0.9 <= waited < SHORT_POLL + 5


def test_worker_thread_takes_the_task_and_succeeds(sfn: Any, poller: Any) -> None:
    arn = sfn.create_activity(name="act-ok")["activityArn"]
    sm = machine(sfn, "act-ok-sm", activity_task(arn, Parameters={"n.$": "$.n"}))
    answers: list[dict[str, Any]] = []

    def worker() -> None:
        while True:
            task = poller.get_activity_task(activityArn=arn, workerName="worker-1")
            if task.get("taskToken"):
                answers.append(task)
                data = json.loads(task["input"])
                sfn.send_task_success(taskToken=task["taskToken"], output=json.dumps(data["n"] * 2))
                return

    thread = threading.Thread(target=worker)
    thread.start()
    time.sleep(0.2)
    exec_arn = start(sfn, sm, {"n": 21, "other": True})
    thread.join(timeout=20)
    assert not thread.is_alive()
    assert json.loads(answers[0]["input"]) == {"n": 21}
    done = wait_status(sfn, exec_arn)
    assert (done["status"], json.loads(done["output"])) == ("SUCCEEDED", 42)
    events = history(sfn, exec_arn)
    assert [e["type"] for e in events] == [
        "ExecutionStarted",
        "TaskStateEntered",
        "ActivityScheduled",
        "ActivityStarted",
        "ActivitySucceeded",
        "TaskStateExited",
        "ExecutionSucceeded",
    ]
    scheduled = events[2]["activityScheduledEventDetails"]
    assert scheduled == {"resource": arn, "input": '{"n":21}', "inputDetails": {"truncated": False}}
    assert events[3]["activityStartedEventDetails"] == {"workerName": "worker-1"}
    assert events[4]["activitySucceededEventDetails"]["output"] == "42"
    assert [e["previousEventId"] for e in events[1:]] == [e["id"] for e in events[:-1]]


def test_scheduling_wakes_a_waiting_poll(server: Server, sfn: Any, poller: Any) -> None:
    arn = sfn.create_activity(name="act-wake")["activityArn"]
    sm = machine(sfn, "act-wake-sm", activity_task(arn))
    activities = server.service.activities
    activities.poll_seconds = 30.0
    answers: list[dict[str, Any]] = []
    try:
        thread = threading.Thread(
            target=lambda: answers.append(poller.get_activity_task(activityArn=arn))
        )
        thread.start()
        time.sleep(0.3)  # the poll is waiting before the task exists
        exec_arn = start(sfn, sm, {"woken": True})
        # Answered when the task is scheduled, long before the poll's 30 s are up.
        thread.join(timeout=10)
        assert not thread.is_alive()
    finally:
        activities.poll_seconds = SHORT_POLL
    assert json.loads(answers[0]["input"]) == {"woken": True}
    sfn.send_task_success(taskToken=answers[0]["taskToken"], output="{}")
    assert wait_status(sfn, exec_arn)["status"] == "SUCCEEDED"


def test_a_task_goes_to_one_worker_the_oldest_first(sfn: Any, poller: Any) -> None:
    arn = sfn.create_activity(name="act-one")["activityArn"]
    sm = machine(sfn, "act-one-sm", activity_task(arn))
    first = start(sfn, sm, {"i": 1})
    wait_event(sfn, first, "ActivityScheduled")
    second = start(sfn, sm, {"i": 2})
    wait_event(sfn, second, "ActivityScheduled")
    results: list[dict[str, Any]] = []
    threads = [
        threading.Thread(target=lambda: results.append(poller.get_activity_task(activityArn=arn)))
        for _ in range(3)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=20)
    given = [r for r in results if r.get("taskToken")]
    assert sorted(json.loads(r["input"])["i"] for r in given) == [1, 2]
    assert len({r["taskToken"] for r in given}) == 2
    assert len(results) == 3  # the third poll got nothing after its poll time
    # Without a workerName, ActivityStarted records no worker (as on AWS).
    started = [e for e in history(sfn, first) if e["type"] == "ActivityStarted"]
    assert started[0]["activityStartedEventDetails"] == {}
    for r in given:
        sfn.send_task_success(taskToken=r["taskToken"], output="{}")
    assert wait_status(sfn, first)["status"] == wait_status(sfn, second)["status"] == "SUCCEEDED"


def test_too_many_concurrent_polls(server: Server, sfn: Any) -> None:
    arn = sfn.create_activity(name="act-limit")["activityArn"]
    polls = server.service.activities.polls
    limit, polls.limit = polls.limit, 2
    try:
        pollers = [client(server) for _ in range(2)]
        threads = [
            threading.Thread(target=p.get_activity_task, kwargs={"activityArn": arn})
            for p in pollers
        ]
        for t in threads:
            t.start()
        time.sleep(0.3)
        with pytest.raises(ClientError) as e:
            client(server).get_activity_task(activityArn=arn)
        assert code(e) == "ActivityWorkerLimitExceeded"
        for t in threads:
            t.join(timeout=20)
    finally:
        polls.limit = limit


# ---------------------------------------------------------------- Task states on activities


def test_failure_from_the_worker_is_caught(sfn: Any, poller: Any) -> None:
    arn = sfn.create_activity(name="act-fail")["activityArn"]
    sm = machine(
        sfn,
        "act-fail-sm",
        activity_task(
            arn,
            Retry=[{"ErrorEquals": ["Flaky"], "IntervalSeconds": 1, "MaxAttempts": 1}],
            Catch=[{"ErrorEquals": ["Broken"], "Next": "Caught"}],
        ),
        Caught={"Type": "Pass", "End": True},
    )
    exec_arn = start(sfn, sm, {})
    task = take(poller, arn)
    sfn.send_task_failure(taskToken=task["taskToken"], error="Flaky", cause="once")
    task = take(poller, arn)  # the retry schedules it again, a second later
    sfn.send_task_failure(taskToken=task["taskToken"], error="Broken", cause="for good")
    done = wait_status(sfn, exec_arn)
    assert done["status"] == "SUCCEEDED"
    events = history(sfn, exec_arn)
    failed = [e["activityFailedEventDetails"] for e in events if e["type"] == "ActivityFailed"]
    assert failed == [{"error": "Flaky", "cause": "once"}, {"error": "Broken", "cause": "for good"}]
    assert [e["type"] for e in events].count("ActivityScheduled") == 2
    # The answered token is closed.
    with pytest.raises(ClientError) as e:
        sfn.send_task_success(taskToken=task["taskToken"], output="{}")
    assert code(e) == "TaskTimedOut"


def test_activities_in_map_iterations(sfn: Any, poller: Any) -> None:
    arn = sfn.create_activity(name="act-map")["activityArn"]
    iteration = {"StartAt": "Each", "States": {"Each": activity_task(arn)}}
    sm = machine(sfn, "act-map-sm", {"Type": "Map", "ItemProcessor": iteration, "End": True})
    exec_arn = start(sfn, sm, [1, 2, 3])
    for _ in range(3):
        task = take(poller, arn)
        sfn.send_task_success(
            taskToken=task["taskToken"], output=str(json.loads(task["input"]) * 10)
        )
    done = wait_status(sfn, exec_arn)
    assert (done["status"], json.loads(done["output"])) == ("SUCCEEDED", [10, 20, 30])
    assert types(sfn, exec_arn).count("ActivityStarted") == 3


def test_timeout_while_nobody_polls(sfn: Any, poller: Any) -> None:
    arn = sfn.create_activity(name="act-nobody")["activityArn"]
    sm = machine(sfn, "act-nobody-sm", activity_task(arn, TimeoutSeconds=1))
    exec_arn = start(sfn, sm, {})
    done = wait_status(sfn, exec_arn)
    assert (done["status"], done["error"]) == ("FAILED", "States.Timeout")
    events = history(sfn, exec_arn)
    assert [e["type"] for e in events][2:] == [
        "ActivityScheduled",
        "ActivityTimedOut",
        "ExecutionFailed",
    ]
    assert events[2]["activityScheduledEventDetails"]["timeoutInSeconds"] == 1
    assert events[3]["activityTimedOutEventDetails"] == {"error": "States.Timeout"}
    # The timed-out task is never handed out.
    assert "taskToken" not in poller.get_activity_task(activityArn=arn)


def test_heartbeats_keep_it_alive_until_they_stop(sfn: Any, poller: Any) -> None:
    arn = sfn.create_activity(name="act-beat")["activityArn"]
    sm = machine(sfn, "act-beat-sm", activity_task(arn, TimeoutSeconds=30, HeartbeatSeconds=1))
    exec_arn = start(sfn, sm, {})
    task = take(poller, arn, workerName="beater")
    for _ in range(4):  # 2 s in all, longer than HeartbeatSeconds: heartbeats reset it
        time.sleep(0.5)
        sfn.send_task_heartbeat(taskToken=task["taskToken"])
    assert sfn.describe_execution(executionArn=exec_arn)["status"] == "RUNNING"
    done = wait_status(sfn, exec_arn)
    assert (done["status"], done["error"]) == ("FAILED", "States.HeartbeatTimeout")
    events = history(sfn, exec_arn)
    scheduled = events[2]["activityScheduledEventDetails"]
    assert (scheduled["timeoutInSeconds"], scheduled["heartbeatInSeconds"]) == (30, 1)
    timed_out = [e for e in events if e["type"] == "ActivityTimedOut"]
    assert timed_out[0]["activityTimedOutEventDetails"] == {"error": "States.HeartbeatTimeout"}
    with pytest.raises(ClientError) as e:
        sfn.send_task_heartbeat(taskToken=task["taskToken"])
    assert code(e) == "TaskTimedOut"


def test_an_activity_that_does_not_exist_fails_the_execution(sfn: Any) -> None:
    arn = ACTIVITY_PREFIX + "act-missing"
    # States.Runtime, which States.ALL does not match: the Catch does not hide it.
    sm = machine(
        sfn,
        "act-missing-sm",
        activity_task(arn, Catch=[{"ErrorEquals": ["States.ALL"], "Next": "Caught"}]),
        Caught={"Type": "Pass", "End": True},
    )
    exec_arn = start(sfn, sm, {})
    done = wait_status(sfn, exec_arn)
    assert (done["status"], done["error"]) == ("FAILED", "States.Runtime")
    assert done["cause"] == (
        "An error occurred while executing the state 'Work' (entered at the event id #2). "
        f"The activity {arn} does not exist."
    )
    assert types(sfn, exec_arn) == ["ExecutionStarted", "TaskStateEntered", "ExecutionFailed"]


def test_stopping_the_execution_withdraws_its_task(sfn: Any, poller: Any) -> None:
    arn = sfn.create_activity(name="act-stop")["activityArn"]
    sm = machine(sfn, "act-stop-sm", activity_task(arn))
    exec_arn = start(sfn, sm, {})
    wait_event(sfn, exec_arn, "ActivityScheduled")
    sfn.stop_execution(executionArn=exec_arn)
    assert "taskToken" not in poller.get_activity_task(activityArn=arn)


def test_express_machines_refuse_activities(sfn: Any) -> None:
    arn = sfn.create_activity(name="act-express")["activityArn"]
    with pytest.raises(ClientError) as e:
        sfn.create_state_machine(
            name="act-express-sm",
            definition=json.dumps({"StartAt": "Work", "States": {"Work": activity_task(arn)}}),
            roleArn=ROLE,
            type="EXPRESS",
        )
    assert code(e) == "InvalidDefinition"


# ---------------------------------------------------------------- restarts


@pytest.fixture
def restartable(tmp_path: pathlib.Path) -> Iterator[list[Server]]:
    """Servers on one database, started by the test; all stopped at the end."""
    servers: list[Server] = []
    yield servers
    for srv in servers:
        srv.stop()


def _started(servers: list[Server], db: pathlib.Path) -> tuple[Server, Any]:
    srv = Server(db, port=0)
    srv.service.activities.poll_seconds = SHORT_POLL
    servers.append(srv.start())
    return srv, client(srv)


def test_a_scheduled_task_survives_a_restart(
    restartable: list[Server], tmp_path: pathlib.Path
) -> None:
    db = tmp_path / "sfn.db"
    first, sfn1 = _started(restartable, db)
    arn = sfn1.create_activity(name="act-durable")["activityArn"]
    sm = machine(sfn1, "act-durable-sm", activity_task(arn, TimeoutSeconds=60))
    exec_arn = start(sfn1, sm, {"keep": "me"})
    wait_event(sfn1, exec_arn, "ActivityScheduled")
    first.stop()
    restartable.remove(first)

    _, sfn2 = _started(restartable, db)
    task = sfn2.get_activity_task(activityArn=arn, workerName="after")
    assert json.loads(task["input"]) == {"keep": "me"}
    sfn2.send_task_success(taskToken=task["taskToken"], output='"done"')
    done = wait_status(sfn2, exec_arn)
    assert (done["status"], done["output"]) == ("SUCCEEDED", '"done"')


def test_a_taken_task_keeps_its_heartbeat_timeout_across_a_restart(
    restartable: list[Server], tmp_path: pathlib.Path
) -> None:
    db = tmp_path / "sfn.db"
    first, sfn1 = _started(restartable, db)
    arn = sfn1.create_activity(name="act-taken")["activityArn"]
    sm = machine(sfn1, "act-taken-sm", activity_task(arn, TimeoutSeconds=60, HeartbeatSeconds=2))
    exec_arn = start(sfn1, sm, {})
    take(sfn1, arn, workerName="w")
    first.stop()
    restartable.remove(first)

    _, sfn2 = _started(restartable, db)
    # Taken before the restart: not handed out again, and its heartbeat timeout still runs.
    assert "taskToken" not in sfn2.get_activity_task(activityArn=arn)
    done = wait_status(sfn2, exec_arn)
    assert (done["status"], done["error"]) == ("FAILED", "States.HeartbeatTimeout")


def test_stopping_the_server_answers_a_waiting_poll(
    restartable: list[Server], tmp_path: pathlib.Path
) -> None:
    srv, sfn1 = _started(restartable, tmp_path / "sfn.db")
    srv.service.activities.poll_seconds = 60.0
    arn = sfn1.create_activity(name="act-shutdown")["activityArn"]
    answers: list[dict[str, Any]] = []
    thread = threading.Thread(
        target=lambda: answers.append(sfn1.get_activity_task(activityArn=arn))
    )
    thread.start()
    time.sleep(0.3)
    srv.stop()
    restartable.remove(srv)
    thread.join(timeout=10)
    # Answered empty at once, not cut off by the HTTP server's shutdown (a 500).
    assert not thread.is_alive()
    assert "taskToken" not in answers[0]


def test_stopping_the_local_runtime_answers_a_waiting_poll(tmp_path: pathlib.Path) -> None:
    """The runtime serves the same API on its port; its shutdown answers a worker's poll
    `{}` before the HTTP server stops, instead of a 500 after the server's grace period."""
    runtime = LocalRuntime(tmp_path / "rt").start()
    try:
        sfn_rt = local_client("stepfunctions", runtime.base_url)
        arn = sfn_rt.create_activity(name="act-runtime-shutdown")["activityArn"]
        answers: list[Any] = []

        def poll() -> None:
            try:
                answers.append(sfn_rt.get_activity_task(activityArn=arn))
            except Exception as error:  # the failure is the assertion's subject
                answers.append(error)

        thread = threading.Thread(target=poll)
        thread.start()
        time.sleep(0.5)
        began = time.monotonic()
        runtime.stop()
        thread.join(timeout=15)
        assert not thread.is_alive()
        assert answers and isinstance(answers[0], dict), answers
        assert "taskToken" not in answers[0]
        assert time.monotonic() - began < 4
    finally:
        runtime.stop()
