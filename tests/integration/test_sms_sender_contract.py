"""The SMS port's and the number lookup port's contracts, run against every implementation.

The End User Messaging adapters run against the local runtime's SMS sandbox over HTTP,
through boto3's real `pinpoint-sms-voice-v2` client: the same path as on AWS but for the
endpoint.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from local.runtime.http_api import Runtime, make_server
from local.runtime.sms_sandbox import SmsSandbox
from local.runtime.template import load_application
from optin.adapters.eum_carrier_lookup import EumCarrierLookup
from optin.adapters.eum_sms_sender import EumSmsSender
from optin.domain.errors import RecipientOptedOut, SmsRejected
from optin.ports.number_lookup import LineType, NumberLookup
from optin.ports.sms_sender import SmsSender
from tests.fakes.number_lookup import MemoryNumberLookup
from tests.fakes.sms_sender import MemorySmsSender
from tests.support.aws import local_client

REPO = Path(__file__).resolve().parents[2]
PHONE = "+12064865555"
OTHER = "+12064867777"
OUR_NUMBER = "+12065550142"

Sent = Callable[[str], list[str]]


def memory() -> Iterator[tuple[SmsSender, Sent]]:
    sender = MemorySmsSender()
    yield sender, lambda to: [m.body for m in sender.sent if m.to == to]


def sandbox_endpoint(tmp_path: Path) -> Iterator[tuple[SmsSandbox, Callable[[], Any]]]:
    sandbox = SmsSandbox(tmp_path / "sms.db", OUR_NUMBER, lambda payload: None)
    runtime = Runtime(load_application(REPO / "template.yaml"), None, None, sandbox, REPO / "web")  # type: ignore[arg-type]
    server = make_server(runtime, "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    endpoint = f"http://127.0.0.1:{server.server_address[1]}"

    def client() -> Any:
        return local_client("pinpoint-sms-voice-v2", endpoint)

    try:
        yield sandbox, client
    finally:
        server.shutdown()


def end_user_messaging(tmp_path: Path) -> Iterator[tuple[SmsSender, Sent]]:
    endpoint = sandbox_endpoint(tmp_path)
    sandbox, client = next(endpoint)

    def sent(to: str) -> list[str]:
        return [m["body"] for m in sandbox.messages(to) if m["direction"] == "outbound"]

    sender = EumSmsSender(
        OUR_NUMBER,
        client_factory=client,
        configuration_set="optin-sms",
        opt_out_list="optin-opt-outs",
    )
    try:
        yield sender, sent
    finally:
        next(endpoint, None)


@pytest.fixture(params=["memory", "end_user_messaging"])
def sms(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[SmsSender, Sent]]:
    implementation = memory() if request.param == "memory" else end_user_messaging(tmp_path)
    yield next(implementation)
    next(implementation, None)


@pytest.fixture(params=["memory", "end_user_messaging"])
def lookup(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[NumberLookup]:
    if request.param == "memory":
        yield MemoryNumberLookup()
        return
    for _, client in sandbox_endpoint(tmp_path):
        yield EumCarrierLookup(client_factory=client)


# --- sending ---------------------------------------------------------------------------


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


@pytest.mark.parametrize("bad", ["2065550100", "+0206555", "12065550100"])
def test_a_destination_that_is_not_e164_is_rejected(sms: tuple[SmsSender, Sent], bad: str) -> None:
    sender, sent = sms

    with pytest.raises(SmsRejected):
        sender.send(bad, "hi", dedup_key="bad")
    assert sent(bad) == []


# --- the opt-out list --------------------------------------------------------------------


def test_a_number_on_the_opt_out_list_is_refused_until_taken_off(
    sms: tuple[SmsSender, Sent],
) -> None:
    sender, sent = sms

    sender.opt_out(PHONE)
    with pytest.raises(RecipientOptedOut):
        sender.send(PHONE, "Reply YES", dedup_key="r1:confirmation")
    sender.send(OTHER, "Reply YES", dedup_key="r2:confirmation")  # only that number
    sender.opt_in(PHONE)
    sender.send(PHONE, "Welcome back", dedup_key="r3:welcome")

    assert sent(PHONE) == ["Welcome back"]
    assert sent(OTHER) == ["Reply YES"]


def test_opt_out_and_opt_in_are_idempotent(sms: tuple[SmsSender, Sent]) -> None:
    sender, _ = sms

    sender.opt_in(PHONE)  # never on the list: fine
    sender.opt_out(PHONE)
    sender.opt_out(PHONE)
    with pytest.raises(RecipientOptedOut):
        sender.send(PHONE, "hi", dedup_key="k1")
    sender.opt_in(PHONE)
    sender.opt_in(PHONE)
    assert sender.send(PHONE, "hi", dedup_key="k2")


@pytest.mark.parametrize("method", ["opt_out", "opt_in"])
def test_the_list_refuses_a_number_that_is_not_e164(
    sms: tuple[SmsSender, Sent], method: str
) -> None:
    sender, _ = sms
    with pytest.raises(SmsRejected):
        getattr(sender, method)("2065550100")


# --- number lookup -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "line_type", "country"),
    [
        (PHONE, LineType.MOBILE, "US"),
        ("+12065550100", LineType.MOBILE, "US"),
        ("+12065550185", LineType.LANDLINE, "US"),
        ("+12065550190", LineType.VOIP, "US"),
        ("+12065550199", LineType.INVALID, "US"),
        ("+16135550180", LineType.LANDLINE, "CA"),
    ],
)
def test_lookup_answers_the_documented_test_lines(
    lookup: NumberLookup, number: str, line_type: LineType, country: str
) -> None:
    info = lookup.lookup(number)

    assert info.phone_number == number
    assert info.line_type is line_type
    assert info.country == country
    assert (info.carrier is None) == (line_type is LineType.INVALID)


# --- the sandbox speaks botocore's error shapes ---------------------------------------------


def test_sandbox_errors_carry_the_modelled_reason_and_fields(tmp_path: Path) -> None:
    for _, client in sandbox_endpoint(tmp_path):
        sms = client()
        with pytest.raises(ClientError) as invalid:
            sms.send_text_message(DestinationPhoneNumber="2065550100", MessageBody="hi")
        sms.put_opted_out_number(OptOutListName="optin-opt-outs", OptedOutNumber=PHONE)
        with pytest.raises(ClientError) as opted_out:
            sms.send_text_message(DestinationPhoneNumber=PHONE, MessageBody="hi")
        with pytest.raises(ClientError) as not_listed:
            sms.delete_opted_out_number(OptOutListName="optin-opt-outs", OptedOutNumber=OTHER)

    assert invalid.value.response["Error"]["Code"] == "ValidationException"
    assert invalid.value.response["Reason"] == "FIELD_VALIDATION_FAILED"
    assert invalid.value.response["Fields"][0]["Name"] == "DestinationPhoneNumber"
    assert opted_out.value.response["Error"]["Code"] == "ConflictException"
    assert opted_out.value.response["Reason"] == "DESTINATION_PHONE_NUMBER_OPTED_OUT"
    assert not_listed.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert not_listed.value.response["ResourceType"] == "opted-out-number"


# --- End User Messaging's brakes, through boto3 against the sandbox ----------------------


def test_the_brakes_refuse_through_the_adapter(tmp_path: Path) -> None:
    """MaxPrice and the template's protect configuration, as the functions meet them: the
    adapter sends both, the sandbox answers as AWS does, the adapter says SendBlocked."""
    from local.runtime.sms_sandbox import protect_rules_from_template
    from optin.domain.send_limits import SendBlocked

    set_name = "optin-sms"
    rules = protect_rules_from_template(REPO / "template.yaml")
    (protect,) = rules.values()
    sandbox = SmsSandbox(
        tmp_path / "sms.db", OUR_NUMBER, lambda payload: None, protect_rules={set_name: protect}
    )
    runtime = Runtime(load_application(REPO / "template.yaml"), None, None, sandbox, REPO / "web")  # type: ignore[arg-type]
    server = make_server(runtime, "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    endpoint = f"http://127.0.0.1:{server.server_address[1]}"
    try:

        def sender(max_price: str) -> EumSmsSender:
            return EumSmsSender(
                OUR_NUMBER,
                client_factory=lambda: local_client("pinpoint-sms-voice-v2", endpoint),
                configuration_set=set_name,
                max_price=max_price,
            )

        with pytest.raises(SendBlocked) as caught:
            sender("0.05").send("+33612345678", "Reply YES", dedup_key="fr")
        assert caught.value.reason == "DESTINATION_COUNTRY_BLOCKED_BY_PROTECT_CONFIGURATION"
        with pytest.raises(SendBlocked) as caught:
            sender("0.001").send(PHONE, "Reply YES", dedup_key="cheap")
        assert caught.value.reason == "PRICE_OVER_THRESHOLD"
        assert sandbox.messages(PHONE) == []
        assert sender("0.05").send(PHONE, "Reply YES", dedup_key="ok")
        assert len(sandbox.messages(PHONE)) == 1
    finally:
        server.shutdown()
