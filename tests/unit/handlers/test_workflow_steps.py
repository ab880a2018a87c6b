"""The Step Functions task handlers, with in-memory fakes and the payloads the ASL sends."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from optin.domain import contact as transitions
from optin.domain.consent import EventType
from optin.domain.contact import Status
from optin.domain.errors import (
    AlreadyRegistered,
    OptedOut,
    RecipientOptedOut,
    SmsRejected,
    SmsUnavailable,
    Undeliverable,
)
from optin.handlers import create_contact, expire, opt_in, send_confirmation, validate_number

ASL = Path(__file__).parents[3] / "statemachine" / "registration.asl.json"
NUMBER = "+12065550100"
REG = "3f1c2a9e-7d7b-4c4e-9a53-0b8f5f1f7e21"
EXECUTION = f"arn:aws:states:us-east-1:123456789012:execution:Registration:{REG}"


def create_event(registration_id: str = REG, **overrides: Any) -> dict[str, Any]:
    return {
        "registrationId": registration_id,
        "phoneNumber": NUMBER,
        "firstName": "Ana",
        "evidence": {"ip": "203.0.113.7", "disclosure": {"text": "…", "version": "v1"}},
        "validation": {"acceptable": True, "e164": NUMBER, "lineType": "FIXED_LINE_OR_MOBILE"},
        "executionArn": EXECUTION,
        **overrides,
    }


WINDOW = 86400


def send_event(
    token: str = "token-1", registration_id: str = REG, window: int | None = WINDOW
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "taskToken": token,
        "registrationId": registration_id,
        "phoneNumber": NUMBER,
        "firstName": "Ana",
    }
    if window is not None:
        event["confirmationWindowSeconds"] = window
    return event


REPLY = {"reply": "Yes!", "inboundMessageId": "in-1", "receivedAt": "2026-11-01T12:05:00.000000Z"}


def opt_in_event(registration_id: str = REG) -> dict[str, Any]:
    return {
        "registrationId": registration_id,
        "phoneNumber": NUMBER,
        "firstName": "Ana",
        "reply": REPLY,
    }


def stop(world) -> None:
    """The number opts out (as inbound_sms does on STOP)."""
    world.deps.steps.apply(NUMBER, lambda c: transitions.opt_out(c, details={}, now=world.clock()))


def types(world, number: str = NUMBER) -> list[str]:
    return [str(event.type) for event in world.store.events(number)]


# -- validate_number ------------------------------------------------------------------


def test_validate_number_accepts_a_us_number(world, lambda_context) -> None:
    result = validate_number.handler({"phoneNumber": "+1 (206) 555-0100"}, lambda_context)
    assert result == {
        "acceptable": True,
        "e164": NUMBER,
        "reason": None,
        "code": None,
        "country": "US",
        "lineType": "FIXED_LINE_OR_MOBILE",
        "timeZones": ["America/Los_Angeles"],
        "carrier": None,
    }


@pytest.mark.parametrize(
    ("event", "code"),
    [
        ({"phoneNumber": "abc"}, "invalid_phone_number"),
        ({"phoneNumber": "+442071838750"}, "country_not_allowed"),
        ({"phoneNumber": "+18005550100"}, "unsupported_line_type"),
        ({}, "missing_phone_number"),
        ({"phoneNumber": None}, "missing_phone_number"),
    ],
)
def test_validate_number_rejects_with_every_key_present(
    world, lambda_context, event: dict[str, Any], code: str
) -> None:
    result = validate_number.handler(event, lambda_context)
    assert result["acceptable"] is False
    assert result["code"] == code
    assert isinstance(result["reason"], str) and result["reason"]
    assert {"e164", "country", "lineType", "timeZones", "carrier"} <= set(result)


def test_validate_number_refusal_rejects_the_reserved_contact(
    world, lambda_context, make_settings
) -> None:
    """Settings changed between the sign-up and the workflow (or a carrier lookup refused
    the number): the contact the sign-up reserved must not stay PENDING."""
    create_contact.handler(create_event(), lambda_context)
    world.deps.settings = make_settings(allowed_countries=("CA",))
    result = validate_number.handler({"phoneNumber": NUMBER, "registrationId": REG}, lambda_context)
    assert result["acceptable"] is False
    assert world.store.get(NUMBER).status == Status.REJECTED
    assert types(world)[-1] == "rejected"


def test_validate_number_refusal_leaves_another_registration_alone(
    world, lambda_context, make_settings
) -> None:
    create_contact.handler(create_event(), lambda_context)
    world.deps.settings = make_settings(allowed_countries=("CA",))
    validate_number.handler({"phoneNumber": NUMBER, "registrationId": "other"}, lambda_context)
    assert world.store.get(NUMBER).status == Status.PENDING


# -- create_contact -------------------------------------------------------------------


def test_create_contact_records_pending_opted_out_with_evidence(world, lambda_context) -> None:
    assert create_contact.handler(create_event(), lambda_context) == {"status": "PENDING"}
    contact = world.store.get(NUMBER)
    assert contact.status == Status.PENDING and contact.opted_in is False
    assert contact.registration_id == REG and contact.execution_arn == EXECUTION
    [event] = world.store.events(NUMBER)
    assert event.type == EventType.REQUESTED
    assert event.details["evidence"]["ip"] == "203.0.113.7"
    assert event.details["validation"]["e164"] == NUMBER


def test_create_contact_is_idempotent_for_the_same_registration(world, lambda_context) -> None:
    create_contact.handler(create_event(), lambda_context)
    assert create_contact.handler(create_event(), lambda_context) == {"status": "PENDING"}
    assert types(world) == ["requested"]


def test_create_contact_raises_already_registered_for_another_pending(
    world, lambda_context
) -> None:
    create_contact.handler(create_event(), lambda_context)
    with pytest.raises(AlreadyRegistered) as caught:
        create_contact.handler(create_event("another-registration"), lambda_context)
    assert type(caught.value).__name__ == "AlreadyRegistered"  # the ASL catches this name
    assert world.store.get(NUMBER).registration_id == REG


def test_create_contact_raises_already_registered_when_confirmed(world, lambda_context) -> None:
    create_contact.handler(create_event(), lambda_context)
    send_confirmation.handler(send_event(), lambda_context)
    opt_in.handler(opt_in_event(), lambda_context)
    with pytest.raises(AlreadyRegistered):
        create_contact.handler(create_event("another-registration"), lambda_context)


@pytest.mark.parametrize("finished", ["expired", "opted_out"])
def test_a_new_registration_restarts_a_finished_one(world, lambda_context, finished) -> None:
    create_contact.handler(create_event(), lambda_context)
    if finished == "expired":
        expire.handler({"registrationId": REG, "phoneNumber": NUMBER}, lambda_context)
    else:
        stop(world)
    assert create_contact.handler(create_event("second"), lambda_context) == {"status": "PENDING"}
    contact = world.store.get(NUMBER)
    assert contact.registration_id == "second" and contact.send_count == 0


def test_create_contact_retry_after_stop_does_not_undo_the_stop(world, lambda_context) -> None:
    create_contact.handler(create_event(), lambda_context)
    stop(world)
    assert create_contact.handler(create_event(), lambda_context) == {"status": "OPTED_OUT"}


# -- send_confirmation ----------------------------------------------------------------


def test_send_confirmation_stores_token_then_texts_and_records(world, lambda_context) -> None:
    create_contact.handler(create_event(), lambda_context)
    result = send_confirmation.handler(send_event(), lambda_context)
    [sent] = world.sms.sent
    assert result == {"messageId": sent.message_id}
    assert sent.to == NUMBER and sent.dedup_key == f"{REG}:confirmation"
    assert "Reply YES" in sent.body and "Msg & data rates may apply" in sent.body
    assert "STOP" in sent.body and "HELP" in sent.body and world.settings.terms_url in sent.body
    assert world.settings.program_name in sent.body
    contact = world.store.get(NUMBER)
    assert contact.task_token == "token-1"
    assert contact.send_count == 1 and contact.last_sent_at == world.clock.now
    assert contact.expires_at == world.clock.now + timedelta(seconds=WINDOW)
    assert contact.last_message_id == sent.message_id
    event = world.store.events(NUMBER)[-1]
    assert event.type == EventType.CONFIRMATION_SENT
    assert event.details["text"] == sent.body
    # The text's own revision rides on the disclosure version it goes with.
    assert event.details["version"] == f"{world.settings.disclosure_version}+r2"
    assert event.details["messageId"] == sent.message_id


def test_the_wait_s_window_comes_from_the_state_that_times_it() -> None:
    definition = json.loads(ASL.read_text(encoding="utf-8"))
    state = definition["States"]["SendConfirmation"]
    assert (
        state["Parameters"]["Payload"]["confirmationWindowSeconds.$"]
        == (state["TimeoutSecondsPath"])
    )


def test_a_send_without_the_window_leaves_the_expiry_unknown(world, lambda_context) -> None:
    # An execution of a definition from before the window was passed.
    create_contact.handler(create_event(), lambda_context)
    send_confirmation.handler(send_event(window=None), lambda_context)
    contact = world.store.get(NUMBER)
    assert contact.status == Status.PENDING and contact.expires_at is None


@pytest.mark.parametrize("window", [0, -5, "soon"])
def test_a_send_with_a_nonsense_window_is_refused(world, lambda_context, window: Any) -> None:
    create_contact.handler(create_event(), lambda_context)
    with pytest.raises(ValidationError):
        send_confirmation.handler(send_event(window=window), lambda_context)
    assert world.sms.sent == [] and world.store.get(NUMBER).task_token is None


def test_send_confirmation_retry_sends_nothing_twice(world, lambda_context) -> None:
    create_contact.handler(create_event(), lambda_context)
    first = send_confirmation.handler(send_event("token-1"), lambda_context)
    # The state's Retry re-invokes with a new token: stored, but no second text.
    second = send_confirmation.handler(send_event("token-2"), lambda_context)
    assert first == second
    assert len(world.sms.sent) == 1
    contact = world.store.get(NUMBER)
    assert contact.task_token == "token-2" and contact.send_count == 1
    assert types(world).count("confirmation_sent") == 1


def test_send_confirmation_after_a_crash_between_send_and_record(world, lambda_context) -> None:
    create_contact.handler(create_event(), lambda_context)
    # Simulate: the text went out (dedup key used) but the Lambda died before recording.
    world.sms.send(NUMBER, "earlier", dedup_key=f"{REG}:confirmation")
    send_confirmation.handler(send_event(), lambda_context)
    assert len(world.sms.sent) == 1
    assert types(world).count("confirmation_sent") == 1


def test_a_completed_claim_is_not_sent_again_by_a_retry(world, lambda_context) -> None:
    """The text left and the Lambda died before the ledger was written. End User Messaging
    would send it again (it does not deduplicate; this fake has never seen the key either);
    the claim does not."""
    create_contact.handler(create_event(), lambda_context)
    key = f"{REG}:confirmation"
    assert world.store.claim_send(key, phone_number=NUMBER, now=world.clock()).claimed
    world.store.complete_send(key, message_id="m-earlier", now=world.clock())
    assert send_confirmation.handler(send_event(), lambda_context) == {"messageId": "m-earlier"}
    assert world.sms.sent == []
    [sent] = [e for e in world.store.events(NUMBER) if e.type == EventType.CONFIRMATION_SENT]
    assert sent.details["messageId"] == "m-earlier"


def test_a_claim_without_receipt_is_never_sent_again(world, lambda_context) -> None:
    """A crash between the claim and the SMS service's answer: nobody knows whether the text
    left, so the retry does not send it; the ledger says the id is unconfirmed."""
    create_contact.handler(create_event(), lambda_context)
    claim = world.store.claim_send(f"{REG}:confirmation", phone_number=NUMBER, now=world.clock())
    assert claim.claimed
    send_confirmation.handler(send_event(), lambda_context)
    assert world.sms.sent == []
    [sent] = [e for e in world.store.events(NUMBER) if e.type == EventType.CONFIRMATION_SENT]
    assert sent.details["messageId"] == "unconfirmed"


def test_a_lost_answer_keeps_the_claim_so_the_retry_stays_silent(world, lambda_context) -> None:
    """A read timeout: SendTextMessage went out and no answer came. The text may have
    left, so the claim is kept and the state's retry records it without sending."""
    from optin.domain.errors import SmsOutcomeUnknown

    create_contact.handler(create_event(), lambda_context)
    world.sms.fail_with = SmsOutcomeUnknown("SendTextMessage failed: ReadTimeoutError")
    with pytest.raises(SmsOutcomeUnknown):
        send_confirmation.handler(send_event("token-1"), lambda_context)
    world.sms.fail_with = None
    send_confirmation.handler(send_event("token-2"), lambda_context)
    assert world.sms.sent == []
    [sent] = [e for e in world.store.events(NUMBER) if e.type == EventType.CONFIRMATION_SENT]
    assert sent.details["messageId"] == "unconfirmed"


def test_send_confirmation_raises_opted_out_when_stop_came_first(world, lambda_context) -> None:
    create_contact.handler(create_event(), lambda_context)
    stop(world)
    with pytest.raises(OptedOut):
        send_confirmation.handler(send_event(), lambda_context)
    assert world.sms.sent == []


def test_send_confirmation_to_a_number_on_the_sms_opt_out_list(world, lambda_context) -> None:
    create_contact.handler(create_event(), lambda_context)
    world.sms.fail_with = RecipientOptedOut("DESTINATION_PHONE_NUMBER_OPTED_OUT")
    with pytest.raises(OptedOut):
        send_confirmation.handler(send_event(), lambda_context)
    assert world.store.get(NUMBER).status == Status.OPTED_OUT


def test_send_confirmation_permanently_refused_rejects_the_contact(world, lambda_context) -> None:
    create_contact.handler(create_event(), lambda_context)
    world.sms.fail_with = SmsRejected("ValidationException")
    with pytest.raises(Undeliverable):
        send_confirmation.handler(send_event(), lambda_context)
    assert world.store.get(NUMBER).status == Status.REJECTED
    assert types(world)[-1] == "rejected"


def test_send_confirmation_transient_failure_raises_for_a_retry(world, lambda_context) -> None:
    create_contact.handler(create_event(), lambda_context)
    world.sms.fail_with = SmsUnavailable("ThrottlingException")
    with pytest.raises(SmsUnavailable):
        send_confirmation.handler(send_event(), lambda_context)
    world.sms.fail_with = None
    send_confirmation.handler(send_event("token-2"), lambda_context)
    assert world.store.get(NUMBER).send_count == 1
    assert len(world.sms.sent) == 1


# -- opt_in ----------------------------------------------------------------------------


def test_opt_in_confirms_records_the_reply_and_welcomes(world, lambda_context) -> None:
    create_contact.handler(create_event(), lambda_context)
    send_confirmation.handler(send_event(), lambda_context)
    assert opt_in.handler(opt_in_event(), lambda_context) == {"status": "CONFIRMED"}
    contact = world.store.get(NUMBER)
    assert contact.status == Status.CONFIRMED and contact.opted_in is True
    assert contact.task_token is None
    confirmed = next(e for e in world.store.events(NUMBER) if e.type == EventType.CONFIRMED)
    assert confirmed.details["reply"] == "Yes!"
    assert confirmed.details["inboundMessageId"] == "in-1"
    welcome = world.sms.sent[-1]
    assert welcome.dedup_key == f"{REG}:welcome"
    assert welcome.body.startswith(f"You're subscribed to {world.settings.program_name}")
    assert "Reply STOP to cancel, HELP for help." in welcome.body
    assert types(world)[-1] == "welcome_sent"


def test_opt_in_is_idempotent(world, lambda_context) -> None:
    create_contact.handler(create_event(), lambda_context)
    send_confirmation.handler(send_event(), lambda_context)
    opt_in.handler(opt_in_event(), lambda_context)
    assert opt_in.handler(opt_in_event(), lambda_context) == {"status": "CONFIRMED"}
    assert len(world.sms.sent) == 2  # confirmation + one welcome
    assert types(world).count("confirmed") == 1
    assert types(world).count("welcome_sent") == 1


def test_opt_in_after_stop_won_the_race_changes_nothing(world, lambda_context) -> None:
    create_contact.handler(create_event(), lambda_context)
    send_confirmation.handler(send_event(), lambda_context)
    stop(world)
    assert opt_in.handler(opt_in_event(), lambda_context) == {"status": "OPTED_OUT"}
    assert len(world.sms.sent) == 1
    assert world.store.get(NUMBER).opted_in is False


def test_opt_in_keeps_the_confirmation_when_the_welcome_is_refused(world, lambda_context) -> None:
    create_contact.handler(create_event(), lambda_context)
    send_confirmation.handler(send_event(), lambda_context)
    world.sms.fail_with = SmsRejected("ValidationException")
    assert opt_in.handler(opt_in_event(), lambda_context) == {"status": "CONFIRMED"}


# -- expire ----------------------------------------------------------------------------


def test_expire_marks_pending_expired_without_a_text(world, lambda_context) -> None:
    create_contact.handler(create_event(), lambda_context)
    send_confirmation.handler(send_event(), lambda_context)
    result = expire.handler({"registrationId": REG, "phoneNumber": NUMBER}, lambda_context)
    assert result == {"status": "EXPIRED"}
    contact = world.store.get(NUMBER)
    assert contact.status == Status.EXPIRED and contact.opted_in is False
    assert contact.task_token is None
    assert types(world)[-1] == "expired"
    assert len(world.sms.sent) == 1
    # Idempotent.
    assert expire.handler({"registrationId": REG, "phoneNumber": NUMBER}, lambda_context) == {
        "status": "EXPIRED"
    }
    assert types(world).count("expired") == 1


def test_expire_leaves_a_contact_that_moved_on(world, lambda_context) -> None:
    create_contact.handler(create_event(), lambda_context)
    stop(world)
    result = expire.handler({"registrationId": REG, "phoneNumber": NUMBER}, lambda_context)
    assert result == {"status": "OPTED_OUT"}
    assert "expired" not in types(world)


def test_expire_of_an_older_registration_leaves_the_new_one(world, lambda_context) -> None:
    create_contact.handler(create_event(), lambda_context)
    expire.handler({"registrationId": REG, "phoneNumber": NUMBER}, lambda_context)
    create_contact.handler(create_event("second"), lambda_context)
    result = expire.handler({"registrationId": REG, "phoneNumber": NUMBER}, lambda_context)
    assert result == {"status": "PENDING"}


# -- carrier lookup (CarrierLookup parameter on) ---------------------------------------------


@pytest.fixture
def lookups(world):
    from tests.fakes.number_lookup import MemoryNumberLookup

    world.deps.lookup = MemoryNumberLookup()
    return world.deps.lookup


def validate(lambda_context, number: str, registration_id: str | None = None) -> dict[str, Any]:
    event: dict[str, Any] = {"phoneNumber": number}
    if registration_id:
        event["registrationId"] = registration_id
    return validate_number.handler(event, lambda_context)


def test_a_landline_is_refused_and_its_reserved_contact_rejected(
    world, lookups, lambda_context
) -> None:
    landline = "+12065550181"
    create_contact.handler(create_event(phoneNumber=landline), lambda_context)
    result = validate(lambda_context, landline, REG)
    assert result["acceptable"] is False and result["code"] == "landline"
    assert result["lineType"] == "LANDLINE"
    assert world.store.get(landline).status == Status.REJECTED


def test_voip_is_accepted_and_flagged(world, lookups, lambda_context) -> None:
    result = validate(lambda_context, "+12065550191")
    assert result["acceptable"] is True and result["lineType"] == "VOIP"
    assert result["carrier"] == "Sandbox Voip"


def test_a_number_not_in_service_is_refused(world, lookups, lambda_context) -> None:
    result = validate(lambda_context, "+12065550199")
    assert result["acceptable"] is False and result["code"] == "not_in_service"


def test_each_number_is_looked_up_once_per_cache_period(world, lookups, lambda_context) -> None:
    from optin.usecases.workflow_steps import LOOKUP_CACHE_SECONDS

    for _ in range(3):
        assert validate(lambda_context, NUMBER)["lineType"] == "MOBILE"
    assert lookups.calls == [NUMBER]
    world.clock.advance(LOOKUP_CACHE_SECONDS + 1)
    validate(lambda_context, NUMBER)
    assert lookups.calls == [NUMBER, NUMBER]


def test_lookup_trouble_falls_back_to_the_numbering_plan(world, lookups, lambda_context) -> None:
    from optin.domain.errors import SmsConfigurationError, SmsUnavailable

    for failure in (SmsUnavailable("ThrottlingException"), SmsConfigurationError("denied")):
        lookups.fail_with = failure
        result = validate(lambda_context, NUMBER)
        assert result["acceptable"] is True and result["lineType"] == "FIXED_LINE_OR_MOBILE"
    lookups.fail_with = None
    # Nothing cached from the failures: the next check looks the number up.
    assert validate(lambda_context, NUMBER)["lineType"] == "MOBILE"


def test_no_lookup_outside_us_and_ca_or_when_switched_off(
    world, lookups, lambda_context, make_settings
) -> None:
    world.deps.settings = make_settings(allowed_countries=("US", "CA", "GB"))
    validate(lambda_context, "+447400123456")
    assert lookups.calls == []
    world.deps.lookup = None
    assert validate(lambda_context, "+12065550181")["acceptable"] is True


# -- the operator's alarm --------------------------------------------------------------------


def _metric_names(output: str) -> set[str]:
    """Metric names in the Embedded Metric Format lines Powertools prints."""
    import json as _json

    names: set[str] = set()
    for line in output.splitlines():
        if '"_aws"' in line:
            document = _json.loads(line)
            for directive in document["_aws"]["CloudWatchMetrics"]:
                names |= {metric["Name"] for metric in directive["Metrics"]}
    return names


def test_an_account_refusal_is_counted_for_the_alarm(world, lambda_context, capsys) -> None:
    from optin.domain.errors import SmsConfigurationError

    create_contact.handler(create_event(), lambda_context)
    capsys.readouterr()
    world.sms.fail_with = SmsConfigurationError("ConflictException DESTINATION_NOT_VERIFIED")
    with pytest.raises(SmsConfigurationError):
        send_confirmation.handler(send_event(), lambda_context)
    assert "SmsConfigurationError" in _metric_names(capsys.readouterr().out)
    # The contact is not the number's fault: still PENDING, not REJECTED.
    assert world.store.get(NUMBER).status == Status.PENDING


def test_a_refused_lookup_is_counted_though_the_number_goes_on(
    world, lookups, lambda_context, capsys
) -> None:
    from optin.domain.errors import SmsConfigurationError
    from optin.observability import count_configuration_error

    world.deps.on_configuration_error = count_configuration_error
    lookups.fail_with = SmsConfigurationError("AccessDeniedException")
    capsys.readouterr()
    assert validate(lambda_context, NUMBER)["acceptable"] is True
    assert "SmsConfigurationError" in _metric_names(capsys.readouterr().out)


@pytest.mark.parametrize(
    ("reason", "metric"),
    [
        ("PRICE_OVER_THRESHOLD", "SendBlockedByMaxPrice"),
        (
            "DESTINATION_COUNTRY_BLOCKED_BY_PROTECT_CONFIGURATION",
            "SendBlockedByProtectConfiguration",
        ),
    ],
)
def test_a_brake_rejects_the_number_and_is_counted_by_name(
    world, lambda_context, capsys, reason, metric
) -> None:
    from optin.domain.send_limits import SendBlocked

    create_contact.handler(create_event(), lambda_context)
    capsys.readouterr()
    world.sms.fail_with = SendBlocked(f"SendTextMessage failed: {reason}", reason)
    with pytest.raises(Undeliverable):
        send_confirmation.handler(send_event(), lambda_context)
    names = _metric_names(capsys.readouterr().out)
    assert metric in names and "ConfirmationNotSent" in names
    assert world.store.get(NUMBER).status == Status.REJECTED
    assert world.sms.sent == []
