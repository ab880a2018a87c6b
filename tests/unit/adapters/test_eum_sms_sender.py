"""The End User Messaging adapter against botocore's Stubber: the exact requests we send, and
how every error SendTextMessage, PutOptedOutNumber and DeleteOptedOutNumber can return maps
to a domain error. Error bodies carry the modelled fields of botocore's own service model
(the Stubber refuses a field the error shape does not have), and every Reason used here is
checked against the model's enum."""

from __future__ import annotations

import gzip
import json
from functools import cache
from pathlib import Path
from typing import Any

import boto3
import botocore
import pytest
from botocore.exceptions import (
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ReadTimeoutError,
)
from botocore.stub import Stubber

from optin.adapters.eum_sms_sender import EumSmsSender
from optin.domain.errors import (
    RecipientOptedOut,
    SmsConfigurationError,
    SmsError,
    SmsOutcomeUnknown,
    SmsRejected,
    SmsUnavailable,
)
from optin.domain.send_limits import SendBlocked

ORIGIN = "arn:aws:sms-voice:us-east-1:111122223333:phone-number/phone-0123456789abcdef"
PHONE = "+12065550100"


@cache
def model() -> dict[str, Any]:
    path = (
        Path(botocore.__file__).parent / "data/pinpoint-sms-voice-v2/2022-03-31/service-2.json.gz"
    )
    with gzip.open(path) as raw:
        return dict(json.load(raw))


def reasons(shape: str) -> set[str]:
    return set(model()["shapes"][shape]["enum"])


def client() -> Any:
    return boto3.client(
        "pinpoint-sms-voice-v2",
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


@pytest.fixture
def stubbed() -> tuple[EumSmsSender, Stubber]:
    sms = client()
    stubber = Stubber(sms)
    stubber.activate()
    sender = EumSmsSender(
        ORIGIN,
        client_factory=lambda: sms,
        configuration_set="optin-sms",
        opt_out_list="optin-opt-outs",
    )
    return sender, stubber


def add_error(
    stubber: Stubber,
    operation: str,
    code: str,
    fields: dict[str, Any] | None = None,
    status: int = 400,
) -> None:
    stubber.add_client_error(
        operation,
        service_error_code=code,
        service_message="refused",
        http_status_code=status,
        modeled_fields=fields,
    )


# --- requests ------------------------------------------------------------------------


def test_send_text_message_request(stubbed: tuple[EumSmsSender, Stubber]) -> None:
    sender, stubber = stubbed
    stubber.add_response(
        "send_text_message",
        {"MessageId": "msg-1"},
        {
            "DestinationPhoneNumber": PHONE,
            "OriginationIdentity": ORIGIN,
            "MessageBody": "Reply YES",
            "MessageType": "TRANSACTIONAL",
            "ConfigurationSetName": "optin-sms",
            "Context": {"dedupKey": "reg-1:confirmation"},
        },
    )
    assert sender.send(PHONE, "Reply YES", dedup_key="reg-1:confirmation") == "msg-1"
    stubber.assert_no_pending_responses()


def test_no_configuration_set_no_parameter() -> None:
    sms = client()
    with Stubber(sms) as stubber:
        stubber.add_response(
            "send_text_message",
            {"MessageId": "msg-2"},
            {
                "DestinationPhoneNumber": PHONE,
                "OriginationIdentity": "+12065550142",
                "MessageBody": "hi",
                "MessageType": "TRANSACTIONAL",
                "Context": {"dedupKey": "k"},
            },
        )
        sender = EumSmsSender("+12065550142", client_factory=lambda: sms)
        assert sender.send(PHONE, "hi", dedup_key="k") == "msg-2"


def test_max_price_goes_on_every_send() -> None:
    sms = client()
    with Stubber(sms) as stubber:
        # The Stubber checks the request against botocore's model, then against this.
        stubber.add_response(
            "send_text_message",
            {"MessageId": "msg-3"},
            {
                "DestinationPhoneNumber": PHONE,
                "OriginationIdentity": ORIGIN,
                "MessageBody": "hi",
                "MessageType": "TRANSACTIONAL",
                "ConfigurationSetName": "optin-sms",
                "MaxPrice": "0.05",
                "Context": {"dedupKey": "k"},
            },
        )
        sender = EumSmsSender(
            ORIGIN, client_factory=lambda: sms, configuration_set="optin-sms", max_price="0.05"
        )
        assert sender.send(PHONE, "hi", dedup_key="k") == "msg-3"


@pytest.mark.parametrize("bad", ["5", "0,05", "$0.05", "100.0", "0.123456", "abc"])
def test_a_max_price_the_service_would_refuse_is_a_configuration_error(bad: str) -> None:
    with pytest.raises(SmsConfigurationError, match="MAX_PRICE_PER_MESSAGE"):
        EumSmsSender(ORIGIN, client_factory=client, max_price=bad)


def test_the_brakes_say_which_brake(stubbed: tuple[EumSmsSender, Stubber]) -> None:
    sender, stubber = stubbed
    add_error(
        stubber, "send_text_message", "ValidationException", {"Reason": "PRICE_OVER_THRESHOLD"}
    )
    with pytest.raises(SendBlocked) as caught:
        sender.send(PHONE, "hi", dedup_key="k")
    assert caught.value.reason == "PRICE_OVER_THRESHOLD"
    assert isinstance(caught.value, SmsRejected)


@pytest.mark.parametrize("bad", ["2065550100", "+0123", "", "+1 206 555 0100", "+1206555010012345"])
def test_a_destination_that_is_not_e164_is_refused_without_a_call(
    stubbed: tuple[EumSmsSender, Stubber], bad: str
) -> None:
    sender, stubber = stubbed
    with pytest.raises(SmsRejected) as caught:
        sender.send(bad, "hi", dedup_key="k")
    assert type(caught.value) is SmsRejected
    stubber.assert_no_pending_responses()  # and the Stubber raises on any unexpected call


def test_opt_out_and_opt_in_requests(stubbed: tuple[EumSmsSender, Stubber]) -> None:
    sender, stubber = stubbed
    result = {
        "OptOutListArn": "arn:aws:sms-voice:us-east-1:111122223333:opt-out-list/optin-opt-outs",
        "OptOutListName": "optin-opt-outs",
        "OptedOutNumber": PHONE,
        "EndUserOptedOut": False,
    }
    expected = {"OptOutListName": "optin-opt-outs", "OptedOutNumber": PHONE}
    stubber.add_response("put_opted_out_number", result, expected)
    stubber.add_response("delete_opted_out_number", result, expected)

    sender.opt_out(PHONE)
    sender.opt_in(PHONE)

    stubber.assert_no_pending_responses()


def test_opt_in_of_a_number_not_on_the_list_is_fine(stubbed: tuple[EumSmsSender, Stubber]) -> None:
    sender, stubber = stubbed
    add_error(
        stubber,
        "delete_opted_out_number",
        "ResourceNotFoundException",
        {"ResourceType": "opted-out-number", "ResourceId": PHONE},
    )
    sender.opt_in(PHONE)
    stubber.assert_no_pending_responses()


def test_opt_in_when_the_list_is_missing_is_a_configuration_error(
    stubbed: tuple[EumSmsSender, Stubber],
) -> None:
    sender, stubber = stubbed
    add_error(
        stubber,
        "delete_opted_out_number",
        "ResourceNotFoundException",
        {"ResourceType": "opt-out-list", "ResourceId": "optin-opt-outs"},
    )
    with pytest.raises(SmsConfigurationError, match="opt-out-list"):
        sender.opt_in(PHONE)


@pytest.mark.parametrize("method", ["opt_out", "opt_in"])
def test_opt_out_list_calls_need_a_list(method: str) -> None:
    sender = EumSmsSender(ORIGIN, client_factory=client)
    with pytest.raises(SmsConfigurationError, match="OPT_OUT_LIST_NAME"):
        getattr(sender, method)(PHONE)


def test_client_is_created_on_first_use_only() -> None:
    calls: list[int] = []

    def factory() -> Any:
        calls.append(1)
        raise AssertionError("not expected")

    EumSmsSender(ORIGIN, client_factory=factory)
    assert calls == []


# --- SendTextMessage errors ------------------------------------------------------------

DESTINATION_FIELD = [{"Name": "DestinationPhoneNumber", "Message": "Invalid phone number"}]
BODY_FIELD = [{"Name": "MessageBody", "Message": "Too long"}]

SEND_ERRORS: list[tuple[str, dict[str, Any] | None, int, type[SmsError]]] = [
    # The number itself.
    (
        "ConflictException",
        {"Reason": "DESTINATION_PHONE_NUMBER_OPTED_OUT", "ResourceType": "opted-out-number"},
        400,
        RecipientOptedOut,
    ),
    (
        "ConflictException",
        {"Reason": "DESTINATION_PHONE_NUMBER_BLOCKED_BY_PROTECT_NUMBER_OVERRIDE"},
        400,
        SmsRejected,
    ),
    (
        "ValidationException",
        {"Reason": "FIELD_VALIDATION_FAILED", "Fields": DESTINATION_FIELD},
        400,
        SmsRejected,
    ),
    (
        "ValidationException",
        {"Reason": "CANNOT_PARSE", "Fields": DESTINATION_FIELD},
        400,
        SmsRejected,
    ),
    (
        "ValidationException",
        {"Reason": "INVALID_PARAMETER", "Fields": DESTINATION_FIELD},
        400,
        SmsRejected,
    ),
    ("ValidationException", {"Fields": DESTINATION_FIELD}, 400, SmsRejected),
    # The account or its configuration: an operator must act.
    (
        "ConflictException",
        {
            "Reason": "DESTINATION_PHONE_NUMBER_NOT_VERIFIED",
            "ResourceType": "verified-destination-number",
        },
        400,
        SmsConfigurationError,
    ),
    ("ConflictException", {"Reason": "REGISTRATION_NOT_COMPLETE"}, 400, SmsConfigurationError),
    ("ConflictException", {"Reason": "RESOURCE_NOT_ACTIVE"}, 400, SmsConfigurationError),
    (
        "ConflictException",
        {"Reason": "NO_ORIGINATION_IDENTITIES_FOUND"},
        400,
        SmsConfigurationError,
    ),
    ("ConflictException", {"Reason": "MESSAGE_TYPE_MISMATCH"}, 400, SmsConfigurationError),
    ("ConflictException", {"Reason": "NUMBER_CAPABILITIES_MISMATCH"}, 400, SmsConfigurationError),
    # The stack's own brakes on one destination (its country, its price): SendBlocked.
    (
        "ConflictException",
        {"Reason": "DESTINATION_COUNTRY_BLOCKED_BY_PROTECT_CONFIGURATION"},
        400,
        SendBlocked,
    ),
    ("ConflictException", {}, 400, SmsConfigurationError),
    (
        "ValidationException",
        {"Reason": "INVALID_IDENTITY_FOR_DESTINATION_COUNTRY"},
        400,
        SmsConfigurationError,
    ),
    ("ValidationException", {"Reason": "DESTINATION_COUNTRY_BLOCKED"}, 400, SmsConfigurationError),
    ("ValidationException", {"Reason": "COUNTRY_NOT_ENABLED"}, 400, SmsConfigurationError),
    ("ValidationException", {"Reason": "SENDER_ID_NOT_REGISTERED"}, 400, SmsConfigurationError),
    ("ValidationException", {"Reason": "PRICE_OVER_THRESHOLD"}, 400, SendBlocked),
    ("ValidationException", {"Reason": "RESOURCE_NOT_ACCESSIBLE"}, 400, SmsConfigurationError),
    ("ValidationException", {"Reason": "MAXIMUM_SIZE_EXCEEDED"}, 400, SmsConfigurationError),
    # A field of ours (not the number) is wrong, or no field is named: our request.
    (
        "ValidationException",
        {"Reason": "FIELD_VALIDATION_FAILED", "Fields": BODY_FIELD},
        400,
        SmsConfigurationError,
    ),
    (
        "ValidationException",
        {"Reason": "INVALID_PARAMETER", "Fields": [*DESTINATION_FIELD, *BODY_FIELD]},
        400,
        SmsConfigurationError,
    ),
    ("ValidationException", {"Reason": "INVALID_PARAMETER"}, 400, SmsConfigurationError),
    ("ValidationException", None, 400, SmsConfigurationError),
    (
        "ResourceNotFoundException",
        {"ResourceType": "phone-number", "ResourceId": "phone-0123"},
        400,
        SmsConfigurationError,
    ),
    (
        "ResourceNotFoundException",
        {"ResourceType": "configuration-set", "ResourceId": "optin-sms"},
        400,
        SmsConfigurationError,
    ),
    (
        "ServiceQuotaExceededException",
        {"Reason": "MONTHLY_SPEND_LIMIT_REACHED_FOR_TEXT"},
        400,
        SmsConfigurationError,
    ),
    (
        "ServiceQuotaExceededException",
        {"Reason": "VERIFIED_DESTINATION_NUMBERS_PER_ACCOUNT"},
        400,
        SmsConfigurationError,
    ),
    ("AccessDeniedException", {"Reason": "ACCOUNT_DISABLED"}, 400, SmsConfigurationError),
    (
        "AccessDeniedException",
        {"Reason": "INSUFFICIENT_ACCOUNT_REPUTATION"},
        400,
        SmsConfigurationError,
    ),
    ("AccessDeniedException", None, 403, SmsConfigurationError),
    ("UnrecognizedClientException", None, 400, SmsConfigurationError),
    # Worth a retry.
    ("ThrottlingException", None, 400, SmsUnavailable),
    ("InternalServerException", {"RequestId": "r-1"}, 500, SmsUnavailable),
    ("ServiceUnavailable", None, 503, SmsUnavailable),
]


@pytest.mark.parametrize(("code", "fields", "status", "expected"), SEND_ERRORS)
def test_send_errors_are_classified(
    stubbed: tuple[EumSmsSender, Stubber],
    code: str,
    fields: dict[str, Any] | None,
    status: int,
    expected: type[Exception],
) -> None:
    sender, stubber = stubbed
    add_error(stubber, "send_text_message", code, fields, status)

    with pytest.raises(expected) as caught:
        sender.send(PHONE, "hi", dedup_key="k")

    assert type(caught.value) is expected  # not a subclass: REJECTED is not OPTED_OUT
    assert code in str(caught.value)
    assert "hi" not in str(caught.value).split()  # the body never goes into an error


def test_every_reason_used_is_one_the_model_knows() -> None:
    shapes = {
        "ConflictException": "ConflictExceptionReason",
        "ValidationException": "ValidationExceptionReason",
        "ServiceQuotaExceededException": "ServiceQuotaExceededExceptionReason",
        "AccessDeniedException": "AccessDeniedExceptionReason",
    }
    for code, fields, _, _ in SEND_ERRORS + OPT_OUT_LIST_ERRORS:
        reason = (fields or {}).get("Reason")
        if reason:
            assert reason in reasons(shapes[code]), (code, reason)
        resource_type = (fields or {}).get("ResourceType")
        if resource_type:
            assert resource_type in reasons("ResourceType"), resource_type


def test_the_operations_can_return_only_the_errors_tested() -> None:
    operations = model()["operations"]
    tested = {code for code, *_ in SEND_ERRORS}
    for operation in ("SendTextMessage", "PutOptedOutNumber", "DeleteOptedOutNumber"):
        modelled = {error["shape"] for error in operations[operation]["errors"]}
        assert modelled <= tested, (operation, modelled - tested)


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (
            EndpointConnectionError(endpoint_url="https://sms-voice.us-east-1.amazonaws.com"),
            SmsUnavailable,
        ),
        (
            ConnectTimeoutError(endpoint_url="https://sms-voice.us-east-1.amazonaws.com"),
            SmsUnavailable,
        ),
        (
            # The request went out and the answer was lost: the text may have left.
            ReadTimeoutError(endpoint_url="https://sms-voice.us-east-1.amazonaws.com"),
            SmsOutcomeUnknown,
        ),
        (NoCredentialsError(), SmsConfigurationError),
    ],
)
def test_client_side_failures(error: Exception, expected: type[Exception]) -> None:
    class Failing:
        def send_text_message(self, **_: Any) -> dict[str, Any]:
            raise error

    sender = EumSmsSender(ORIGIN, client_factory=Failing)
    with pytest.raises(expected) as caught:
        sender.send(PHONE, "hi", dedup_key="k")
    assert type(caught.value) is expected


def test_a_request_botocore_refuses_is_a_configuration_error() -> None:
    # An empty body fails botocore's own validation (min length 1) before any call.
    sender = EumSmsSender(ORIGIN, client_factory=client)
    with pytest.raises(SmsConfigurationError, match="ParamValidationError"):
        sender.send(PHONE, "", dedup_key="k")


# --- opt-out list errors -----------------------------------------------------------------

OPT_OUT_LIST_ERRORS: list[tuple[str, dict[str, Any] | None, int, type[SmsError]]] = [
    (
        "ValidationException",
        {
            "Reason": "FIELD_VALIDATION_FAILED",
            "Fields": [{"Name": "OptedOutNumber", "Message": "bad"}],
        },
        400,
        SmsRejected,
    ),
    ("ValidationException", {"Reason": "CANNOT_ADD_OPTED_OUT_NUMBER"}, 400, SmsRejected),
    ("ValidationException", {"Reason": "PHONE_NUMBER_CANNOT_BE_OPTED_IN"}, 400, SmsRejected),
    (
        "ResourceNotFoundException",
        {"ResourceType": "opt-out-list", "ResourceId": "optin-opt-outs"},
        400,
        SmsConfigurationError,
    ),
    ("AccessDeniedException", None, 400, SmsConfigurationError),
    ("ConflictException", {"Reason": "RESOURCE_NOT_ACTIVE"}, 400, SmsConfigurationError),
    ("ThrottlingException", None, 400, SmsUnavailable),
    ("InternalServerException", None, 500, SmsUnavailable),
]


@pytest.mark.parametrize(("code", "fields", "status", "expected"), OPT_OUT_LIST_ERRORS)
@pytest.mark.parametrize(
    ("method", "operation"),
    [("opt_out", "put_opted_out_number"), ("opt_in", "delete_opted_out_number")],
)
def test_opt_out_list_errors_are_classified(
    stubbed: tuple[EumSmsSender, Stubber],
    method: str,
    operation: str,
    code: str,
    fields: dict[str, Any] | None,
    status: int,
    expected: type[Exception],
) -> None:
    if operation == "put_opted_out_number" and code == "ConflictException":
        pytest.skip("PutOptedOutNumber does not return ConflictException")
    sender, stubber = stubbed
    add_error(stubber, operation, code, fields, status)

    with pytest.raises(expected) as caught:
        getattr(sender, method)(PHONE)
    assert type(caught.value) is expected
