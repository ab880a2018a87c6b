"""The SMS port's contract, run against every implementation of it.

The End User Messaging adapter runs against the local runtime's SMS sandbox over HTTP, through
boto3's real `pinpoint-sms-voice-v2` client: the same path as on AWS but for the endpoint.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from local.runtime.http_api import Runtime, make_server
from local.runtime.sms_sandbox import SmsSandbox
from local.runtime.template import load_application
from optin.adapters.eum_sms_sender import EumSmsSender
from optin.domain.errors import SmsRejected
from optin.ports.sms_sender import SmsSender
from tests.fakes.sms_sender import MemorySmsSender

REPO = Path(__file__).resolve().parents[2]
PHONE = "+12064865555"

Sent = Callable[[str], list[str]]


def memory() -> Iterator[tuple[SmsSender, Sent]]:
    sender = MemorySmsSender()
    yield sender, lambda to: [m.body for m in sender.sent if m.to == to]


def end_user_messaging(tmp_path: Path) -> Iterator[tuple[SmsSender, Sent]]:
    sandbox = SmsSandbox(tmp_path / "sms.db", "+12065550142", lambda payload: None)
    runtime = Runtime(load_application(REPO / "template.yaml"), None, None, sandbox, REPO / "web")  # type: ignore[arg-type]
    server = make_server(runtime, "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    endpoint = f"http://127.0.0.1:{server.server_address[1]}"

    def client() -> Any:
        return boto3.client(
            "pinpoint-sms-voice-v2",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )

    try:
        yield (
            EumSmsSender("+12065550142", client_factory=client),
            lambda to: [m["body"] for m in sandbox.messages(to) if m["direction"] == "outbound"],
        )
    finally:
        server.shutdown()


@pytest.fixture(params=["memory", "end_user_messaging"])
def sms(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[SmsSender, Sent]]:
    implementation = memory() if request.param == "memory" else end_user_messaging(tmp_path)
    yield next(implementation)
    next(implementation, None)


def test_send_returns_a_message_id_and_the_text_goes_out(sms: tuple[SmsSender, Sent]) -> None:
    sender, sent = sms

    message_id = sender.send(PHONE, "Reply YES to confirm", dedup_key="r1:confirmation")

    assert message_id
    assert sent(PHONE) == ["Reply YES to confirm"]


def test_same_dedup_key_sends_once_and_returns_the_same_id(sms: tuple[SmsSender, Sent]) -> None:
    sender, sent = sms

    first = sender.send(PHONE, "Welcome", dedup_key="r1:welcome")
    second = sender.send(PHONE, "Welcome", dedup_key="r1:welcome")
    other = sender.send(PHONE, "Welcome", dedup_key="r2:welcome")

    assert first == second
    assert other != first
    assert sent(PHONE) == ["Welcome", "Welcome"]


def test_a_destination_that_is_not_e164_is_rejected(sms: tuple[SmsSender, Sent]) -> None:
    sender, sent = sms

    with pytest.raises(SmsRejected):
        sender.send("2065550100", "hi", dedup_key="bad")
    assert sent("2065550100") == []
