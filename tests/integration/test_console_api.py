"""The console's read API end to end: a sign-up made over HTTP on the local runtime, read
through ConsoleFunction (`python -m local invoke`, as the runtime runs it) while its execution
waits for the reply and after the YES: the real definition, execution and history."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from optin.domain.phone import mask
from tests.support.numbers import new_us_number
from tests.support.runtime import REPO_ROOT, LocalRuntime, wait_for

EVENT = json.loads((REPO_ROOT / "events" / "console-signups.json").read_text())


@pytest.fixture(scope="module")
def runtime(shared_runtime: LocalRuntime) -> LocalRuntime:
    # Its data dir is the one the invoked ConsoleFunction reads; the list is asked for one number.
    return shared_runtime


def read(
    rt: LocalRuntime, path: str, params: dict[str, str] | None = None, role: str = "agent"
) -> tuple[int, dict[str, Any]]:
    event = json.loads(json.dumps(EVENT))
    event["path"] = path
    event["queryStringParameters"] = params
    event["multiValueQueryStringParameters"] = (
        {key: [value] for key, value in params.items()} if params else None
    )
    event["requestContext"]["authorizer"]["role"] = role
    command = [sys.executable, "-m", "local", "invoke", "ConsoleFunction", "-e", "-"]
    command += ["--data-dir", str(rt.data_dir), "--endpoint-url", rt.base_url]
    done = subprocess.run(
        command,
        cwd=REPO_ROOT,
        input=json.dumps(event),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    response = json.loads(done.stdout)
    return response["statusCode"], json.loads(response["body"])


def test_a_sign_up_read_while_it_waits_and_after_the_yes(runtime: LocalRuntime) -> None:
    phone = new_us_number()
    status, answer = runtime.signup(phone)
    assert status == 202, answer
    registration_id = answer["registrationId"]
    wait_for(lambda: runtime.messages(phone, "outbound"), what="the confirmation text")

    status, listed = read(runtime, "/console/api/signups", {"q": phone})
    assert status == 200
    [item] = listed["items"]
    assert item["registrationId"] == registration_id and item["status"] == "PENDING"
    assert item["channel"] == "web" and item["expiresAt"]

    def waiting() -> dict[str, Any] | None:
        status, page = read(runtime, f"/console/api/signups/{registration_id}")
        assert status == 200
        types = [event["type"] for event in page["history"]]
        return page if "TaskScheduled" in types else None

    page = wait_for(waiting, what="the execution to wait for the reply")
    assert page["execution"]["status"] == "RUNNING"
    assert page["execution"]["executionArn"].endswith(f":{registration_id}")
    assert "SendConfirmation" in page["definition"]["States"]
    assert page["signup"]["outcome"]["code"] == "waiting"
    assert page["signup"]["outcome"]["summary"].startswith("Waiting for a reply: ")
    assert page["signup"]["outcome"]["summary"].endswith(" left")
    [scheduled] = [e for e in page["history"] if e["type"] == "TaskScheduled"][-1:]
    details = scheduled["taskScheduledEventDetails"]
    assert details["timeoutInSeconds"] > 0
    assert json.loads(details["parameters"])["Payload"]["taskToken"] == "(hidden)"
    assert [line["direction"] for line in page["conversation"]] == ["outbound"]

    runtime.text_in(phone, "Yes!")
    wait_for(
        lambda: (
            read(runtime, f"/console/api/signups/{registration_id}")[1]["execution"]["status"]
            == "SUCCEEDED"
        ),
        what="the execution to end",
    )
    status, page = read(runtime, f"/console/api/signups/{registration_id}", role="viewer")
    assert status == 200
    assert page["signup"]["status"] == "CONFIRMED"
    assert page["signup"]["outcome"]["summary"].startswith("Confirmed by reply 'Yes!' ")
    assert [line["direction"] for line in page["conversation"]] == [
        "outbound",
        "inbound",
        "outbound",
    ]
    types = [event["type"] for event in page["history"]]
    assert types[0] == "ExecutionStarted" and types[-1] == "ExecutionSucceeded"
    text = json.dumps(page)
    assert phone not in text and phone[2:] not in text  # a viewer's page
    assert page["signup"]["phoneNumber"] == mask(phone)
