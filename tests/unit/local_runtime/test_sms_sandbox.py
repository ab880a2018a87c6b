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


# --- the End User Messaging API: opt-out list, carrier lookup, error shapes ---

LIST = "optin-opt-outs"


def test_send_errors_carry_reason_and_fields(tmp_path: Path) -> None:
    status, body = sandbox(tmp_path).handle_api(
        "SendTextMessage", {"DestinationPhoneNumber": "2065550100", "MessageBody": "x"}
    )

    assert status == 400
    assert body["Reason"] == "FIELD_VALIDATION_FAILED"
    assert body["Fields"] == [
        {
            "Name": "DestinationPhoneNumber",
            "Message": "DestinationPhoneNumber must be an E.164 phone number.",
        }
    ]


def test_a_listed_number_is_refused_as_aws_refuses_it(tmp_path: Path) -> None:
    sms = sandbox(tmp_path)
    status, listed = sms.handle_api(
        "PutOptedOutNumber", {"OptOutListName": LIST, "OptedOutNumber": PHONE}
    )
    assert status == 200
    assert listed["OptedOutNumber"] == PHONE and listed["OptOutListName"] == LIST
    assert listed["OptOutListArn"].endswith(f":opt-out-list/{LIST}")
    assert listed["EndUserOptedOut"] is False

    status, refused = sms.handle_api(
        "SendTextMessage", {"DestinationPhoneNumber": PHONE, "MessageBody": "Reply YES"}
    )

    assert status == 400
    assert refused["__type"] == "ConflictException"
    assert refused["Reason"] == "DESTINATION_PHONE_NUMBER_OPTED_OUT"
    assert sms.messages(PHONE) == []
    assert sms.opted_out_numbers() == [{"optOutListName": LIST, "phoneNumber": PHONE}]


def test_opting_in_takes_the_number_off_and_an_unlisted_number_is_not_found(
    tmp_path: Path,
) -> None:
    sms = sandbox(tmp_path)
    request = {"OptOutListName": f"arn:aws:sms-voice:us-east-1:1:opt-out-list/{LIST}"}
    first = sms.handle_api("PutOptedOutNumber", {**request, "OptedOutNumber": PHONE})[1]
    again = sms.handle_api("PutOptedOutNumber", {**request, "OptedOutNumber": PHONE})[1]
    assert first["OptedOutTimestamp"] == again["OptedOutTimestamp"]  # kept, not re-added

    assert sms.handle_api("DeleteOptedOutNumber", {**request, "OptedOutNumber": PHONE})[0] == 200
    status, missing = sms.handle_api("DeleteOptedOutNumber", {**request, "OptedOutNumber": PHONE})

    assert status == 400
    assert missing["__type"] == "ResourceNotFoundException"
    assert missing["ResourceType"] == "opted-out-number"
    assert sms.send_text_message({"DestinationPhoneNumber": PHONE, "MessageBody": "hi"})


@pytest.mark.parametrize(
    ("request_body", "field"),
    [
        ({"OptedOutNumber": PHONE}, "OptOutListName"),
        ({"OptOutListName": "bad name!", "OptedOutNumber": PHONE}, "OptOutListName"),
        ({"OptOutListName": LIST, "OptedOutNumber": "2065550100"}, "OptedOutNumber"),
        ({"OptOutListName": LIST}, "OptedOutNumber"),
    ],
)
@pytest.mark.parametrize("operation", ["PutOptedOutNumber", "DeleteOptedOutNumber"])
def test_opt_out_list_requests_are_validated(
    tmp_path: Path, operation: str, request_body: dict[str, str], field: str
) -> None:
    status, body = sandbox(tmp_path).handle_api(operation, request_body)

    assert status == 400
    assert body["__type"] == "ValidationException"
    assert body["Fields"][0]["Name"] == field


def test_the_opt_out_list_survives_a_restart(tmp_path: Path) -> None:
    sandbox(tmp_path).put_opted_out_number({"OptOutListName": LIST, "OptedOutNumber": PHONE})

    status, body = sandbox(tmp_path).handle_api(
        "SendTextMessage", {"DestinationPhoneNumber": PHONE, "MessageBody": "hi"}
    )
    assert status == 400
    assert body["Reason"] == "DESTINATION_PHONE_NUMBER_OPTED_OUT"


@pytest.mark.parametrize(
    ("number", "line_type", "country"),
    [
        ("+12065550100", "MOBILE", "US"),
        ("+12065550179", "MOBILE", "US"),
        ("+12065550180", "LANDLINE", "US"),
        ("+12065550189", "LANDLINE", "US"),
        ("+12065550190", "VOIP", "US"),
        ("+12065550198", "VOIP", "US"),
        ("+12065550199", "INVALID", "US"),
        ("+16135550185", "LANDLINE", "CA"),
        (PHONE, "MOBILE", "US"),
        ("+442071838750", "LANDLINE", "GB"),
        ("+447400123456", "MOBILE", "GB"),
        ("+447700900123", "INVALID", None),
    ],
)
def test_carrier_lookup_is_deterministic(
    tmp_path: Path, number: str, line_type: str, country: str | None
) -> None:
    status, body = sandbox(tmp_path).handle_api("CarrierLookup", {"PhoneNumber": number})

    assert status == 200
    assert body["E164PhoneNumber"] == number
    assert body["PhoneNumberType"] == line_type
    assert body.get("IsoCountryCode") == country
    assert ("Carrier" in body) == (line_type != "INVALID")


def test_carrier_lookup_normalises_a_formatted_number(tmp_path: Path) -> None:
    body = sandbox(tmp_path).handle_api("CarrierLookup", {"PhoneNumber": "+1 (206) 555-0185"})[1]
    assert body["E164PhoneNumber"] == "+12065550185"
    assert body["OriginalPhoneNumber"] == "+1 (206) 555-0185"
    assert body["DialingCountryCode"] == "1"


@pytest.mark.parametrize("bad", ["2065550185", "", None, 12065550185, "+0206"])
def test_carrier_lookup_refuses_what_the_model_refuses(tmp_path: Path, bad: object) -> None:
    status, body = sandbox(tmp_path).handle_api("CarrierLookup", {"PhoneNumber": bad})
    assert status == 400
    assert body["__type"] == "ValidationException"
    assert body["Fields"][0]["Name"] == "PhoneNumber"


def test_an_origination_arn_texts_from_the_sandbox_number(tmp_path: Path) -> None:
    arn = "arn:aws:sms-voice:us-east-1:123456789012:phone-number/phone-0123"
    sms = SmsSandbox(tmp_path / "sms.db", arn, lambda payload: None)
    sms.send_text_message(
        {"DestinationPhoneNumber": PHONE, "MessageBody": "hi", "OriginationIdentity": arn}
    )
    inbound = sms.inject_inbound(PHONE, "yes")

    assert [m["from"] for m in sms.messages(PHONE)] == ["+12065550142", PHONE]
    assert sms.messages(PHONE)[1]["to"] == "+12065550142"
    assert inbound


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("OriginationIdentity", "not an identity!"),
        ("ConfigurationSetName", "bad name!"),
        ("Context", {"dedupKey": 5}),
    ],
)
def test_send_validates_the_optional_fields(tmp_path: Path, field: str, value: object) -> None:
    status, body = sandbox(tmp_path).handle_api(
        "SendTextMessage", {"DestinationPhoneNumber": PHONE, "MessageBody": "x", field: value}
    )
    assert status == 400
    assert body["Fields"][0]["Name"] == field


def test_an_operation_the_sandbox_does_not_serve(tmp_path: Path) -> None:
    status, body = sandbox(tmp_path).handle_api("DescribePhoneNumbers", {})
    assert status == 400
    assert body["Reason"] == "UNKNOWN_OPERATION"


@pytest.mark.parametrize("body", ["Arret", "opt-out", "TD", "remove me", "Start"])
def test_inbound_keywords_include_every_required_opt_out_word(tmp_path: Path, body: str) -> None:
    published: list[dict[str, str]] = []
    sms = sandbox(tmp_path, lambda payload: published.append(json.loads(payload)))
    sms.start()
    try:
        sms.inject_inbound(PHONE, body)
        wait_for(lambda: published, what="publication")
    finally:
        sms.stop()
    assert published[0]["messageKeyword"] == body.split()[0].upper()


# --- End User Messaging's brakes: the protect configuration and MaxPrice ----------------

REPO = Path(__file__).resolve().parents[3]
FRANCE = "+33612345678"


def braked(tmp_path: Path) -> tuple[SmsSandbox, str]:
    from local.runtime.sms_sandbox import protect_rules_from_template
    from local.runtime.template import load_application

    rules = protect_rules_from_template(REPO / "template.yaml")
    app = load_application(REPO / "template.yaml")
    (set_name,) = {
        f.environment["CONFIGURATION_SET_NAME"]
        for f in app.functions.values()
        if "CONFIGURATION_SET_NAME" in f.environment
    }
    return SmsSandbox(tmp_path / "sms.db", OUR_NUMBER, lambda payload: None,
                      protect_rules=rules), set_name  # fmt: skip


def test_the_templates_protect_configuration_blocks_other_countries(tmp_path: Path) -> None:
    sms, set_name = braked(tmp_path)
    with pytest.raises(SandboxError) as caught:
        sms.send_text_message(
            {"DestinationPhoneNumber": FRANCE, "MessageBody": "x", "ConfigurationSetName": set_name}
        )
    assert caught.value.code == "ConflictException"
    body = caught.value.body()
    assert body["Reason"] == "DESTINATION_COUNTRY_BLOCKED_BY_PROTECT_CONFIGURATION"
    assert body["ResourceType"] == "protect-configuration"
    assert sms.messages(FRANCE) == []
    # The allowed countries go through, and a send naming no set has no protect configuration.
    sms.send_text_message(
        {"DestinationPhoneNumber": PHONE, "MessageBody": "x", "ConfigurationSetName": set_name}
    )
    sms.send_text_message({"DestinationPhoneNumber": FRANCE, "MessageBody": "x"})
    assert len(sms.messages(PHONE)) == 1 and len(sms.messages(FRANCE)) == 1


def test_a_set_given_by_arn_has_its_protect_configuration_too(tmp_path: Path) -> None:
    sms, set_name = braked(tmp_path)
    arn = f"arn:aws:sms-voice:us-east-1:123456789012:configuration-set/{set_name}"
    with pytest.raises(SandboxError):
        sms.send_text_message(
            {"DestinationPhoneNumber": FRANCE, "MessageBody": "x", "ConfigurationSetName": arn}
        )


@pytest.mark.parametrize(
    ("destination", "max_price", "sent"),
    [
        (PHONE, "0.05", True),
        (PHONE, "0.00883", True),  # the price itself is not over it
        (PHONE, "0.008", False),
        ("+16135550123", "0.0075", True),  # Canada
        (FRANCE, "0.05", False),  # no protect configuration here: the price refuses it
        (FRANCE, "0.1", True),
    ],
)
def test_max_price_refuses_a_dearer_part(
    tmp_path: Path, destination: str, max_price: str, sent: bool
) -> None:
    sms = sandbox(tmp_path)
    request = {"DestinationPhoneNumber": destination, "MessageBody": "x", "MaxPrice": max_price}
    if sent:
        sms.send_text_message(request)
        assert len(sms.messages(destination)) == 1
        return
    with pytest.raises(SandboxError) as caught:
        sms.send_text_message(request)
    assert caught.value.code == "ValidationException"
    assert caught.value.body()["Reason"] == "PRICE_OVER_THRESHOLD"
    assert sms.messages(destination) == []


@pytest.mark.parametrize("bad", ["5", "0,05", "1.123456", "123.4", "", 0.05])
def test_a_max_price_outside_the_models_pattern_is_refused(tmp_path: Path, bad: object) -> None:
    with pytest.raises(SandboxError) as caught:
        sandbox(tmp_path).send_text_message(
            {"DestinationPhoneNumber": PHONE, "MessageBody": "x", "MaxPrice": bad}
        )
    assert caught.value.body()["Reason"] == "FIELD_VALIDATION_FAILED"
    assert caught.value.body()["Fields"][0]["Name"] == "MaxPrice"
