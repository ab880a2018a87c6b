"""The CarrierLookup adapter against botocore's Stubber: request, answer mapping, errors."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError
from botocore.stub import Stubber

from optin.adapters.eum_carrier_lookup import EumCarrierLookup
from optin.domain.errors import SmsConfigurationError, SmsUnavailable
from optin.ports.number_lookup import LineInfo, LineType
from tests.unit.adapters.test_eum_sms_sender import model, reasons

PHONE = "+12065550100"


@pytest.fixture
def stubbed() -> tuple[EumCarrierLookup, Stubber]:
    client = boto3.client(
        "pinpoint-sms-voice-v2",
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    stubber = Stubber(client)
    stubber.activate()
    return EumCarrierLookup(client_factory=lambda: client), stubber


@pytest.mark.parametrize(
    ("service_type", "line_type"),
    [
        ("MOBILE", LineType.MOBILE),
        ("PREPAID", LineType.MOBILE),
        ("LANDLINE", LineType.LANDLINE),
        ("VOIP", LineType.VOIP),
        ("INVALID", LineType.INVALID),
        ("OTHER", LineType.UNKNOWN),
    ],
)
def test_answer_is_mapped(
    stubbed: tuple[EumCarrierLookup, Stubber], service_type: str, line_type: LineType
) -> None:
    assert service_type in reasons("PhoneNumberType")
    lookup, stubber = stubbed
    stubber.add_response(
        "carrier_lookup",
        {
            "E164PhoneNumber": PHONE,
            "DialingCountryCode": "1",
            "IsoCountryCode": "US",
            "Country": "United States",
            "MCC": "310",
            "MNC": "410",
            "Carrier": "Example Wireless",
            "PhoneNumberType": service_type,
        },
        {"PhoneNumber": PHONE},
    )

    info = lookup.lookup(PHONE)

    assert info == LineInfo(PHONE, line_type, "Example Wireless", "US")
    assert info.as_dict() == {
        "phoneNumber": PHONE,
        "lineType": line_type.value,
        "carrier": "Example Wireless",
        "country": "US",
    }
    stubber.assert_no_pending_responses()


def test_a_sparse_answer(stubbed: tuple[EumCarrierLookup, Stubber]) -> None:
    lookup, stubber = stubbed
    stubber.add_response("carrier_lookup", {"E164PhoneNumber": PHONE, "PhoneNumberType": "OTHER"})
    assert lookup.lookup(PHONE) == LineInfo(PHONE, LineType.UNKNOWN, None, None)


LOOKUP_ERRORS: list[tuple[str, dict[str, Any] | None, int, type[Exception] | None]] = [
    # The service could not read the number: the answer is INVALID, not an error.
    (
        "ValidationException",
        {"Reason": "CANNOT_PARSE", "Fields": [{"Name": "PhoneNumber", "Message": "bad"}]},
        400,
        None,
    ),
    ("ValidationException", {"Reason": "INVALID_REQUEST"}, 400, SmsConfigurationError),
    (
        "ServiceQuotaExceededException",
        {"Reason": "MONTHLY_SPEND_LIMIT_REACHED_FOR_TEXT"},
        400,
        SmsConfigurationError,
    ),
    ("AccessDeniedException", {"Reason": "ACCOUNT_DISABLED"}, 400, SmsConfigurationError),
    ("ThrottlingException", None, 400, SmsUnavailable),
    ("InternalServerException", None, 500, SmsUnavailable),
]


def test_every_error_the_model_lists_is_tested() -> None:
    modelled = {e["shape"] for e in model()["operations"]["CarrierLookup"]["errors"]}
    assert modelled == {code for code, *_ in LOOKUP_ERRORS}


@pytest.mark.parametrize(("code", "fields", "status", "expected"), LOOKUP_ERRORS)
def test_errors_are_classified(
    stubbed: tuple[EumCarrierLookup, Stubber],
    code: str,
    fields: dict[str, Any] | None,
    status: int,
    expected: type[Exception] | None,
) -> None:
    lookup, stubber = stubbed
    stubber.add_client_error(
        "carrier_lookup",
        service_error_code=code,
        service_message="refused",
        http_status_code=status,
        modeled_fields=fields,
    )
    if expected is None:
        assert lookup.lookup(PHONE).line_type is LineType.INVALID
        return
    with pytest.raises(expected) as caught:
        lookup.lookup(PHONE)
    assert type(caught.value) is expected


def test_network_failure_is_worth_a_retry() -> None:
    class Failing:
        def carrier_lookup(self, **_: Any) -> dict[str, Any]:
            raise EndpointConnectionError(endpoint_url="https://sms-voice.us-east-1.amazonaws.com")

    with pytest.raises(SmsUnavailable):
        EumCarrierLookup(client_factory=Failing).lookup(PHONE)
