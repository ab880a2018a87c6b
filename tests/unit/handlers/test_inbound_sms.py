"""inbound_sms with real SNS-shaped events and in-memory fakes."""

from __future__ import annotations

import json
from typing import Any

import pytest

from optin.domain.consent import ConsentEvent, EventType
from optin.domain.contact import Status
from optin.domain.errors import RecipientOptedOut, WorkflowUnavailable
from optin.handlers import create_contact, expire, inbound_sms, opt_in, send_confirmation

NUMBER = "+12065550100"
OUR_NUMBER = "+12065550142"
REG = "7b1e5d0c-3b0f-4a43-9d6e-5c1a9b2f8e10"


@pytest.fixture
def sns_event(load_event):
    """sns_event(body, message_id=...) -> an SNS event carrying one two-way SMS."""
    counter = {"n": 0}

    def build(body: str, message_id: str | None = None, number: str = NUMBER) -> dict[str, Any]:
        counter["n"] += 1
        event = load_event("sns_inbound_sms.json")
        payload = json.loads(event["Records"][0]["Sns"]["Message"])
        payload.update(
            originationNumber=number,
            messageBody=body,
            inboundMessageId=message_id or f"inbound-{counter['n']}",
        )
        event["Records"][0]["Sns"]["Message"] = json.dumps(payload)
        return event

    return build


@pytest.fixture
def pending(world, lambda_context):
    """A number that signed up and got its confirmation text (task token 'token-1')."""
    create_contact.handler(
        {
            "registrationId": REG,
            "phoneNumber": NUMBER,
            "firstName": "Ana",
            "evidence": {},
            "validation": {},
            "executionArn": world.workflow.execution_arn(REG),
        },
        lambda_context,
    )
    send_confirmation.handler(
        {"taskToken": "token-1", "registrationId": REG, "phoneNumber": NUMBER, "firstName": "Ana"},
        lambda_context,
    )
    world.sms.sent.clear()
    return world


def last_change(deps: Any) -> ConsentEvent:
    """The newest ledger event other than our answers (reply_sent follows what it answers)."""
    return [e for e in deps.store.events(NUMBER) if e.type != EventType.REPLY_SENT][-1]


def logged(caplog) -> str:
    """Everything logged, extras included (what the JSON log lines would carry)."""
    return "\n".join(json.dumps(record.__dict__, default=str) for record in caplog.records)


def replies(world) -> list[str]:
    return [message.body for message in world.sms.to(NUMBER)]


def test_fixture_event_yes_confirms_through_send_task_success(
    pending, load_event, lambda_context
) -> None:
    result = inbound_sms.handler(load_event("sns_inbound_sms.json"), lambda_context)
    assert result["actions"] == ["confirmed"]
    [callback] = pending.workflow.callbacks
    assert callback.task_token == "token-1" and callback.outcome == "success"
    assert callback.output == {
        "reply": "Yes!",
        "inboundMessageId": "cae173d2-66b9-564c-8309-21f858e9fb84",
        "receivedAt": "2026-11-01T12:05:00.000000Z",
    }
    # The opt-in itself is the OptIn step's job, after the workflow resumes.
    assert pending.store.get(NUMBER).status == Status.PENDING
    assert replies(pending) == []


@pytest.mark.parametrize("body", ["yes!", " YES ", "Yes.", "Y", "👍 yes", "ok", "Confirm"])
def test_confirm_words(pending, sns_event, lambda_context, body) -> None:
    inbound_sms.handler(sns_event(body), lambda_context)
    assert [c.outcome for c in pending.workflow.callbacks] == ["success"]


@pytest.mark.parametrize("body", ["eyes", "no, not yes", "yes and no"])
def test_non_confirmations_get_one_clarifying_reply(
    pending, sns_event, lambda_context, body
) -> None:
    inbound_sms.handler(sns_event(body), lambda_context)
    inbound_sms.handler(sns_event("what is this"), lambda_context)
    assert pending.workflow.callbacks == []
    [reply] = replies(pending)
    assert "Reply YES" in reply and "STOP" in reply
    assert pending.store.get(NUMBER).status == Status.PENDING


@pytest.mark.parametrize(
    "body", ["STOP", "stop all", "Unsubscribe", "cancel", "END", "quit", "revoke", "opt-out"]
)
def test_stop_while_pending_opts_out_at_once_and_fails_the_task(
    pending, sns_event, lambda_context, body
) -> None:
    inbound_sms.handler(sns_event(body, "in-stop"), lambda_context)
    contact = pending.store.get(NUMBER)
    assert contact.status == Status.OPTED_OUT and contact.opted_in is False
    assert contact.task_token is None
    [callback] = pending.workflow.callbacks
    assert callback.outcome == "failure" and callback.error == "OptedOut"
    assert callback.cause
    event = last_change(pending)
    assert event.type == EventType.OPTED_OUT
    assert event.details["reply"] == body and event.details["inboundMessageId"] == "in-stop"
    [reply] = replies(pending)
    assert "unsubscribed" in reply and "START" in reply


def test_stop_after_confirmation_opts_out(pending, sns_event, lambda_context) -> None:
    inbound_sms.handler(sns_event("YES"), lambda_context)
    opt_in.handler(
        {"registrationId": REG, "phoneNumber": NUMBER, "firstName": None, "reply": {}},
        lambda_context,
    )
    inbound_sms.handler(sns_event("STOP"), lambda_context)
    contact = pending.store.get(NUMBER)
    assert contact.status == Status.OPTED_OUT and contact.opted_in is False
    # No workflow is waiting any more: only the YES callback happened.
    assert [c.outcome for c in pending.workflow.callbacks] == ["success"]


def test_stop_when_the_sms_service_already_opted_the_number_out(
    pending, sns_event, lambda_context
) -> None:
    # On AWS the STOP reply may be refused (number on the opt-out list): still opted out.
    pending.sms.fail_with = RecipientOptedOut("DESTINATION_PHONE_NUMBER_OPTED_OUT")
    result = inbound_sms.handler(sns_event("STOP"), lambda_context)
    assert result["actions"] == ["opted_out"]
    assert pending.store.get(NUMBER).status == Status.OPTED_OUT


def test_stop_after_the_task_timed_out_still_opts_out(pending, sns_event, lambda_context) -> None:
    pending.workflow.gone_tokens["token-1"] = "TaskTimedOut"
    inbound_sms.handler(sns_event("STOP"), lambda_context)
    assert pending.store.get(NUMBER).status == Status.OPTED_OUT


@pytest.mark.parametrize("body", ["HELP", "info"])
def test_help_answers_with_program_contact_and_stop(
    pending, sns_event, lambda_context, body
) -> None:
    inbound_sms.handler(sns_event(body), lambda_context)
    [reply] = replies(pending)
    assert pending.settings.program_name in reply
    assert pending.settings.program_contact in reply
    assert "STOP" in reply
    assert pending.store.get(NUMBER).status == Status.PENDING


@pytest.mark.parametrize("body", ["START", "unstop"])
def test_start_resubscribes_an_opted_out_number(pending, sns_event, lambda_context, body) -> None:
    inbound_sms.handler(sns_event("STOP"), lambda_context)
    inbound_sms.handler(sns_event(body, "in-start"), lambda_context)
    contact = pending.store.get(NUMBER)
    assert contact.status == Status.CONFIRMED and contact.opted_in is True
    event = last_change(pending)
    assert event.type == EventType.RESUBSCRIBED and event.details["inboundMessageId"] == "in-start"
    assert "subscribed" in replies(pending)[-1]


def test_stop_puts_the_number_on_the_opt_out_list_after_its_reply(
    pending, sns_event, lambda_context
) -> None:
    """One opt-out model: we answer STOP ourselves (self-managed opt-outs), then the number
    joins the service's opt-out list so the service itself refuses any later text."""
    inbound_sms.handler(sns_event("STOP"), lambda_context)
    assert pending.sms.list_calls == [("opt_out", NUMBER)]
    assert "unsubscribed" in replies(pending)[-1]  # sent before the list would refuse it
    with pytest.raises(RecipientOptedOut):
        pending.sms.send(NUMBER, "anything", dedup_key="later")


def test_a_redelivered_stop_finishes_what_a_crash_left(pending, sns_event, lambda_context) -> None:
    from optin.domain.errors import SmsUnavailable

    pending.sms.list_fails_with = SmsUnavailable("ThrottlingException")
    with pytest.raises(SmsUnavailable):
        inbound_sms.handler(sns_event("STOP", "in-stop"), lambda_context)
    assert pending.store.get(NUMBER).status == Status.OPTED_OUT
    pending.sms.list_fails_with = None
    # SNS delivers again: the list call happens, the reply is not sent twice.
    inbound_sms.handler(sns_event("STOP", "in-stop"), lambda_context)
    assert NUMBER in pending.sms.opted_out
    assert len([r for r in replies(pending) if "unsubscribed" in r]) == 1


def test_our_answer_goes_on_the_record_once_beside_what_it_answers(
    pending, sns_event, lambda_context
) -> None:
    inbound_sms.handler(sns_event("HELP", "in-help"), lambda_context)
    inbound_sms.handler(sns_event("HELP", "in-help"), lambda_context)  # SNS delivers again
    answers = [e for e in pending.store.events(NUMBER) if e.type == EventType.REPLY_SENT]
    assert len(answers) == 1
    [reply] = replies(pending)
    assert answers[0].details["text"] == reply
    assert answers[0].details["inReplyTo"] == "in-help"
    assert answers[0].details["kind"] == "help" and answers[0].details["messageId"]


def test_an_answer_to_a_stranger_has_no_record_to_go_on(world, sns_event, lambda_context) -> None:
    inbound_sms.handler(sns_event("HELP", "in-help"), lambda_context)
    assert [message.body for message in world.sms.to(NUMBER)]  # answered…
    assert world.store.events(NUMBER) == []  # …and no ledger is started for it


def test_start_takes_the_number_off_the_list_before_replying(
    pending, sns_event, lambda_context
) -> None:
    inbound_sms.handler(sns_event("STOP"), lambda_context)
    inbound_sms.handler(sns_event("START"), lambda_context)
    assert pending.sms.list_calls == [("opt_out", NUMBER), ("opt_in", NUMBER)]
    assert NUMBER not in pending.sms.opted_out


def test_start_that_the_service_refuses_leaves_the_number_opted_out(
    pending, sns_event, lambda_context
) -> None:
    from optin.domain.errors import SmsRejected

    inbound_sms.handler(sns_event("STOP"), lambda_context)
    pending.sms.list_fails_with = SmsRejected("PHONE_NUMBER_CANNOT_BE_OPTED_IN")
    result = inbound_sms.handler(sns_event("START"), lambda_context)
    assert result["actions"] == ["resubscribe_refused"]
    assert pending.store.get(NUMBER).status == Status.OPTED_OUT


def test_stop_from_a_stranger_touches_no_list(world, sns_event, lambda_context) -> None:
    inbound_sms.handler(sns_event("STOP", number="+12065550111"), lambda_context)
    assert world.sms.list_calls == [] and world.sms.sent == []


def test_yes_after_expiry_says_sign_up_again(pending, sns_event, lambda_context) -> None:
    pending.workflow.gone_tokens["token-1"] = "TaskTimedOut"
    expire.handler({"registrationId": REG, "phoneNumber": NUMBER}, lambda_context)
    inbound_sms.handler(sns_event("YES"), lambda_context)
    assert replies(pending) == [
        f"{pending.settings.program_name}: This request expired. "
        f"Sign up again at {pending.settings.signup_url}"
    ]
    assert pending.store.get(NUMBER).status == Status.EXPIRED


def test_yes_when_the_task_closed_but_the_contact_is_still_pending(
    pending, sns_event, lambda_context
) -> None:
    # TaskTimedOut also means "already answered": OptIn may be about to run. No "expired".
    pending.workflow.gone_tokens["token-1"] = "TaskTimedOut"
    result = inbound_sms.handler(sns_event("YES"), lambda_context)
    assert result["actions"] == ["ignored_token_gone"]
    assert replies(pending) == []


def test_second_yes_is_harmless(pending, sns_event, lambda_context) -> None:
    inbound_sms.handler(sns_event("YES"), lambda_context)
    result = inbound_sms.handler(sns_event("YES"), lambda_context)
    assert result["actions"] == ["ignored_token_gone"]
    assert len(pending.workflow.callbacks) == 1
    assert replies(pending) == []


@pytest.mark.parametrize("body", ["YES", "STOP", "START", "hello"])
def test_a_number_that_never_signed_up_changes_nothing(
    world, sns_event, lambda_context, body
) -> None:
    inbound_sms.handler(sns_event(body, number="+14255550123"), lambda_context)
    assert world.store.get("+14255550123") is None
    assert world.workflow.callbacks == []
    assert world.sms.sent == []


def test_repeated_inbound_message_id_changes_nothing(pending, sns_event, lambda_context) -> None:
    event = sns_event("STOP", "dup-1")
    inbound_sms.handler(event, lambda_context)
    inbound_sms.handler(sns_event("START", "start-1"), lambda_context)
    # The STOP is delivered again, late: it must not opt the number out a second time.
    result = inbound_sms.handler(event, lambda_context)
    assert result["actions"] == ["duplicate"]
    assert pending.store.get(NUMBER).status == Status.CONFIRMED
    assert len(replies(pending)) == 2


def test_out_of_order_stop_then_yes_keeps_the_stop(pending, sns_event, lambda_context) -> None:
    inbound_sms.handler(sns_event("STOP", "later"), lambda_context)
    inbound_sms.handler(sns_event("YES", "earlier"), lambda_context)
    assert pending.store.get(NUMBER).status == Status.OPTED_OUT
    assert [c.outcome for c in pending.workflow.callbacks] == ["failure"]


@pytest.mark.parametrize(
    "record",
    [
        {},
        {"Sns": {}},
        {"Sns": {"Message": "not json"}},
        {"Sns": {"Message": "[1, 2]"}},
        {"Sns": {"Message": json.dumps({"originationNumber": "+12065550100"})}},
        {"Sns": {"Message": json.dumps({"messageBody": "YES", "inboundMessageId": "x"})}},
        "a string",
        None,
    ],
)
def test_malformed_records_are_logged_and_dropped(pending, lambda_context, record, caplog) -> None:
    result = inbound_sms.handler({"Records": [record]}, lambda_context)
    assert result == {"processed": 0, "dropped": 1, "actions": []}
    assert pending.workflow.callbacks == [] and pending.sms.sent == []
    assert "malformed" in logged(caplog) or "without Records" in logged(caplog)
    assert NUMBER not in logged(caplog)


@pytest.mark.parametrize("event", [{}, {"Records": "nope"}, [], "x"])
def test_events_without_records_are_dropped(world, lambda_context, event) -> None:
    assert inbound_sms.handler(event, lambda_context)["dropped"] == 1


def test_a_malformed_record_does_not_stop_the_good_ones(pending, sns_event, lambda_context) -> None:
    event = sns_event("YES")
    event["Records"].insert(0, {"Sns": {"Message": "{}"}})
    result = inbound_sms.handler(event, lambda_context)
    assert result == {"processed": 1, "dropped": 1, "actions": ["confirmed"]}


def test_minimal_sns_record_from_a_local_runtime_parses(pending, lambda_context) -> None:
    message = {
        "originationNumber": NUMBER,
        "destinationNumber": OUR_NUMBER,
        "messageKeyword": "KEYWORD_1",
        "messageBody": "y",
        "inboundMessageId": "local-1",
        "previousPublishedMessageId": "prev-1",
    }
    result = inbound_sms.handler(
        {"Records": [{"Sns": {"Message": json.dumps(message)}}]}, lambda_context
    )
    assert result["actions"] == ["confirmed"]


def test_phone_numbers_and_bodies_are_not_logged_in_clear(
    pending, sns_event, lambda_context, caplog
) -> None:
    inbound_sms.handler(sns_event("Yes I really want this"), lambda_context)
    out = logged(caplog)
    assert NUMBER not in out
    assert "really want" not in out
    assert "+1206***0100" in out


# -- a reply whose execution is over (stopped, failed outside any catch) -------------------


@pytest.mark.parametrize("refusal", ["TaskTimedOut", "TaskDoesNotExist", "InvalidToken"])
@pytest.mark.parametrize("execution_status", ["ABORTED", "TIMED_OUT", "FAILED"])
def test_yes_after_the_execution_ended_expires_and_answers_once(
    pending, sns_event, lambda_context, refusal, execution_status
) -> None:
    pending.workflow.end(REG, execution_status)
    pending.workflow.gone_tokens["token-1"] = refusal

    event = sns_event("YES", "in-late")
    result = inbound_sms.handler(event, lambda_context)

    assert result["actions"] == ["closed_reply"]
    contact = pending.store.get(NUMBER)
    assert (contact.status, contact.opted_in, contact.task_token) == (Status.EXPIRED, False, None)
    expired = last_change(pending)
    assert expired.type == EventType.EXPIRED
    assert expired.details["reason"] == "execution_ended"
    assert expired.details["executionStatus"] == execution_status
    assert expired.details["error"] == refusal
    assert expired.details["executionArn"] == pending.workflow.execution_arn(REG)
    # The reply that revealed the end is on record, as a YES that confirms is.
    assert (expired.details["reply"], expired.details["inboundMessageId"]) == ("YES", "in-late")
    [reply] = replies(pending)
    assert reply.startswith(f"{pending.settings.program_name}: ")
    assert "no longer open" in reply and reply.endswith(pending.settings.signup_url)

    # SNS redelivers the same message: nothing is recorded or sent again.
    inbound_sms.handler(event, lambda_context)
    # …and a later YES from the same phone gets the same answer: on record, no other change.
    events = len(pending.store.events(NUMBER))
    inbound_sms.handler(sns_event("yes"), lambda_context)
    assert [e.type for e in pending.store.events(NUMBER)[events:]] == [EventType.REPLY_SENT]
    assert replies(pending) == [reply, reply]


def test_a_crash_after_the_expiry_sends_the_same_one_reply_on_redelivery(
    pending, sns_event, lambda_context
) -> None:
    pending.workflow.end(REG)
    pending.workflow.gone_tokens["token-1"] = "TaskTimedOut"
    event = sns_event("YES", "in-crash")
    real_reply = type(pending.deps.inbound).reply
    calls = {"n": 0}

    def crash_once(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("the Lambda died before the reply")
        return real_reply(self, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(type(pending.deps.inbound), "reply", crash_once)
        with pytest.raises(RuntimeError):
            inbound_sms.handler(event, lambda_context)
        assert pending.store.get(NUMBER).status == Status.EXPIRED
        assert replies(pending) == []
        inbound_sms.handler(event, lambda_context)  # the platform retries
    [reply] = replies(pending)
    assert "no longer open" in reply  # the ledger's reason picks the text, not "expired"
    assert [e.type for e in pending.store.events(NUMBER)].count(EventType.EXPIRED) == 1


def test_an_odd_reply_after_the_execution_ended_gets_the_same_answer(
    pending, sns_event, lambda_context, capsys
) -> None:
    pending.workflow.end(REG, "ABORTED")
    capsys.readouterr()
    result = inbound_sms.handler(sns_event("what is this"), lambda_context)
    assert '"Inbound_closed_reply"' in capsys.readouterr().out  # the operator sees repairs
    assert result["actions"] == ["closed_reply"]
    assert pending.store.get(NUMBER).status == Status.EXPIRED
    details = last_change(pending).details
    assert details["reason"] == "execution_ended" and "error" not in details
    [reply] = replies(pending)
    assert "no longer open" in reply


def test_a_running_execution_is_never_expired_by_a_refused_token(
    pending, sns_event, lambda_context
) -> None:
    # An earlier YES closed the task; OptIn is about to run. Step Functions says RUNNING.
    pending.workflow.gone_tokens["token-1"] = "TaskTimedOut"
    result = inbound_sms.handler(sns_event("YES"), lambda_context)
    assert result["actions"] == ["ignored_token_gone"]
    assert pending.workflow.status_calls == [pending.workflow.execution_arn(REG)]
    assert pending.store.get(NUMBER).status == Status.PENDING
    assert replies(pending) == []


def test_when_step_functions_cannot_say_the_reply_is_retried_not_guessed(
    pending, sns_event, lambda_context
) -> None:
    pending.workflow.gone_tokens["token-1"] = "TaskTimedOut"
    pending.workflow.fail_status_with = WorkflowUnavailable("DescribeExecution failed")
    event = sns_event("YES", "in-retry")
    with pytest.raises(WorkflowUnavailable):
        inbound_sms.handler(event, lambda_context)
    assert pending.store.get(NUMBER).status == Status.PENDING
    assert not pending.store.inbound_processed("in-retry")  # the redelivery will decide
    pending.workflow.fail_status_with = None
    pending.workflow.end(REG)
    inbound_sms.handler(event, lambda_context)
    assert pending.store.get(NUMBER).status == Status.EXPIRED


def test_a_window_that_passed_keeps_its_own_answer(pending, sns_event, lambda_context) -> None:
    pending.workflow.gone_tokens["token-1"] = "TaskTimedOut"
    expire.handler({"registrationId": REG, "phoneNumber": NUMBER}, lambda_context)
    pending.workflow.end(REG, "SUCCEEDED")
    inbound_sms.handler(sns_event("YES"), lambda_context)
    assert last_change(pending).details["reason"] == "no_reply"
    assert replies(pending) == [
        f"{pending.settings.program_name}: This request expired. "
        f"Sign up again at {pending.settings.signup_url}"
    ]
