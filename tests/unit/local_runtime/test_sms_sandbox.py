import json
import time
from pathlib import Path

import pytest

from local.runtime.sms_sandbox import SandboxError, SmsSandbox
from tests.support.runtime import wait_for

OUR_NUMBER = "+12065550142"
PHONE = "+12064867777"


def sandbox(tmp_path: Path, publish=lambda payload: None) -> SmsSandbox:  # type: ignore[no-untyped-def]
    return SmsSandbox(tmp_path / "sms.db", OUR_NUMBER, publish)


def test_send_stores_the_text_and_a_repeated_dedup_key_sends_nothing(tmp_path: Path) -> None:
    sms = sandbox(tmp_path)
    request = {
        "DestinationPhoneNumber": PHONE,
        "MessageBody": "Reply YES",
        "Context": {"dedupKey": "r1:confirmation"},
    }

    first = sms.send_text_message(request)
    again = sms.send_text_message(request)

    assert first == again
    assert [m["body"] for m in sms.messages(PHONE)] == ["Reply YES"]
    assert sms.messages(PHONE)[0]["from"] == OUR_NUMBER


@pytest.mark.parametrize(
    "request_body",
    [
        {"MessageBody": "x"},
        {"DestinationPhoneNumber": "2065550100", "MessageBody": "x"},
        {"DestinationPhoneNumber": PHONE},
        {"DestinationPhoneNumber": PHONE, "MessageBody": "x" * 1601},
    ],
)
def test_send_rejects_bad_requests_with_validation_exception(
    tmp_path: Path, request_body: dict[str, str]
) -> None:
    status, body = sandbox(tmp_path).handle_api("SendTextMessage", request_body)

    assert status == 400
    assert body["__type"] == "ValidationException"


def test_inbound_is_published_in_end_user_messaging_shape(tmp_path: Path) -> None:
    published: list[dict[str, str]] = []
    sms = sandbox(tmp_path, lambda payload: published.append(json.loads(payload)))
    sent = sms.send_text_message({"DestinationPhoneNumber": PHONE, "MessageBody": "Reply YES"})
    sms.start()
    try:
        inbound_id = sms.inject_inbound(PHONE, "STOP please")
        wait_for(lambda: published, what="publication")
    finally:
        sms.stop()

    assert published == [
        {
            "originationNumber": PHONE,
            "destinationNumber": OUR_NUMBER,
            "messageKeyword": "STOP",
            "messageBody": "STOP please",
            "inboundMessageId": inbound_id,
            "previousPublishedMessageId": sent,
        }
    ]
    wait_for(lambda: sms.pending_deliveries() == 0, what="delivery recorded")


def test_failed_delivery_is_kept_and_retried(tmp_path: Path) -> None:
    calls: list[float] = []

    def flaky(payload: str) -> None:
        calls.append(time.monotonic())
        if len(calls) == 1:
            raise RuntimeError("subscriber down")

    sms = sandbox(tmp_path, flaky)
    sms.start()
    try:
        sms.inject_inbound(PHONE, "yes")
        wait_for(lambda: len(calls) >= 2, timeout=5, what="a retry")
        wait_for(lambda: sms.pending_deliveries() == 0, timeout=5, what="delivery")
    finally:
        sms.stop()


def test_undelivered_inbound_survives_a_restart(tmp_path: Path) -> None:
    sandbox(tmp_path).inject_inbound(PHONE, "yes")  # never started: nothing delivered
    published: list[str] = []
    again = sandbox(tmp_path, published.append)
    again.start()
    try:
        wait_for(lambda: published, what="redelivery")
    finally:
        again.stop()


@pytest.mark.parametrize(("sender", "body"), [("12065550100", "yes"), (PHONE, "  "), (None, "x")])
def test_inject_rejects_bad_input(tmp_path: Path, sender: object, body: object) -> None:
    with pytest.raises(SandboxError):
        sandbox(tmp_path).inject_inbound(sender, body)


def test_conversations_list_newest_first(tmp_path: Path) -> None:
    sms = sandbox(tmp_path)
    sms.send_text_message({"DestinationPhoneNumber": PHONE, "MessageBody": "one"})
    sms.inject_inbound("+12064868888", "hello")

    conversations = sms.conversations()

    assert [c["phoneNumber"] for c in conversations] == ["+12064868888", PHONE]
    assert conversations[1]["lastBody"] == "one"


def test_redeliver_publishes_the_same_payload_again(tmp_path: Path) -> None:
    published: list[str] = []
    sms = sandbox(tmp_path, published.append)
    sms.start()
    try:
        inbound_id = sms.inject_inbound(PHONE, "yes")
        wait_for(lambda: len(published) == 1)
        sms.redeliver(inbound_id)
        wait_for(lambda: len(published) == 2)
    finally:
        sms.stop()

    assert published[0] == published[1]
    with pytest.raises(SandboxError):
        sms.redeliver("no-such-id")
