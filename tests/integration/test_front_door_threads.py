"""The front door's threads: a function behind a route calls the runtime's AWS APIs back (a
sign-up's StartExecution, a confirmation's SendTextMessage) while that route's request holds a
thread. With one pool for both, requests that filled it waited on functions that waited for a
thread: nothing moved until botocore's read timeout."""

from __future__ import annotations

import threading
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from local.runtime import http_api
from local.runtime.http_api import Runtime, make_server
from local.runtime.sms_sandbox import SmsSandbox
from local.runtime.template import load_application

REPO = Path(__file__).resolve().parents[2]
OUR_NUMBER = "+12065550142"
ROUTE_THREADS = 2


class CallingBack:
    """A runner whose every function texts through the runtime's SMS API before answering,
    as SendConfirmation does; a failed call (a read timeout) answers 500."""

    def __init__(self) -> None:
        self.endpoint = ""
        self.failures: list[str] = []
        self._lock = threading.Lock()

    def invoke(self, function_name: str, payload: Any) -> Any:
        # The local credentials, one attempt, and a read timeout that ends a deadlock quickly.
        client = boto3.client(
            "pinpoint-sms-voice-v2",
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",
            config=Config(read_timeout=3, retries={"total_max_attempts": 1}),
        )
        try:
            client.send_text_message(DestinationPhoneNumber="+12064865555", MessageBody="hi")
        except Exception as error:
            with self._lock:
                self.failures.append(type(error).__name__)
            return {"statusCode": 500, "body": "{}"}
        return {"statusCode": 200, "body": "{}"}


@pytest.fixture
def front_door(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[str, CallingBack]]:
    # Few route threads, so that a handful of requests fills them.
    monkeypatch.setattr(http_api, "HANDLER_THREADS", ROUTE_THREADS)
    sandbox = SmsSandbox(tmp_path / "sms.db", OUR_NUMBER, lambda payload: None)
    runner = CallingBack()
    runtime = Runtime(
        load_application(REPO / "template.yaml"),
        runner,  # type: ignore[arg-type]
        None,  # type: ignore[arg-type]
        sandbox,
        REPO / "web",
    )
    server = make_server(runtime, "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    runner.endpoint = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield runner.endpoint, runner
    finally:
        server.shutdown()


def test_functions_reach_the_aws_apis_while_routes_hold_every_route_thread(
    front_door: tuple[str, CallingBack],
) -> None:
    endpoint, runner = front_door

    def route(i: int) -> int:
        # A template route (the simulator's contact badge, ContactStatusFunction behind it).
        url = f"{endpoint}/sandbox/contacts/%2B1206486{1000 + i:04d}"
        with urllib.request.urlopen(url, timeout=30) as response:
            return int(response.status)

    with ThreadPoolExecutor(ROUTE_THREADS * 3) as pool:
        statuses = list(pool.map(route, range(ROUTE_THREADS * 3)))

    assert runner.failures == []
    assert statuses == [200] * (ROUTE_THREADS * 3)
