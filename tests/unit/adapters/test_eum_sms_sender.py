"""The End User Messaging adapter against botocore's Stubber: the exact request we send,
and how service errors map to domain errors."""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber

from optin.adapters.eum_sms_sender import EumSmsSender
from optin.domain.errors import RecipientOptedOut, SmsRejected, SmsUnavailable

ORIGIN = "+12065550142"


@pytest.fixture
def stubbed() -> tuple[EumSmsSender, Stubber]:
    client = boto3.client(
        "pinpoint-sms-voice-v2",
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    stubber = Stubber(client)
    stubber.activate()
    return EumSmsSender(ORIGIN, client_factory=lambda: client), stubber


def test_send_text_message_request(stubbed) -> None:
    sender, stubber = stubbed
    stubber.add_response(
        "send_text_message",
        {"MessageId": "msg-1"},
        {
            "DestinationPhoneNumber": "+12065550100",
            "OriginationIdentity": ORIGIN,
            "MessageBody": "Reply YES",
            "MessageType": "TRANSACTIONAL",
            "Context": {"dedupKey": "reg-1:confirmation"},
        },
    )
    assert sender.send("+12065550100", "Reply YES", dedup_key="reg-1:confirmation") == "msg-1"
    stubber.assert_no_pending_responses()


def test_client_is_created_on_first_use_only() -> None:
    calls: list[int] = []

    def factory():
        calls.append(1)
        raise AssertionError("not expected")

    EumSmsSender(ORIGIN, client_factory=factory)
    assert calls == []


@pytest.mark.parametrize(
    ("code", "reason", "expected"),
    [
        ("ConflictException", "DESTINATION_PHONE_NUMBER_OPTED_OUT", RecipientOptedOut),
        ("ValidationException", "INVALID_PARAMETER", SmsRejected),
        ("ResourceNotFoundException", None, SmsRejected),
        ("ThrottlingException", None, SmsUnavailable),
        ("InternalServerException", None, SmsUnavailable),
        ("ServiceQuotaExceededException", None, SmsUnavailable),
    ],
)
def test_errors_map_to_domain_errors(stubbed, code, reason, expected) -> None:
    sender, stubber = stubbed
    response = {"Reason": reason} if reason else {}
    stubber.add_client_error(
        "send_text_message",
        service_error_code=code,
        service_message="nope",
        http_status_code=400,
        modeled_fields=response if code in ("ConflictException", "ValidationException") else None,
    )
    with pytest.raises(expected):
        sender.send("+12065550100", "hi", dedup_key="k")


def test_opted_out_is_also_a_permanent_rejection() -> None:
    assert issubclass(RecipientOptedOut, SmsRejected)
