"""Every path of statemachine/registration.asl.json, run on the local engine with the real handlers.

The runtime runs as `make run` runs it; texts come and go through the SMS sandbox, replies go in as
End User Messaging would publish them. Assertions read the contact store (GET /contacts), the
sandbox's messages and Step Functions itself (boto3, DescribeExecution, GetExecutionHistory).
"""

from __future__ import annotations

import json
from typing import Any

from tests.support.numbers import new_us_number
from tests.support.runtime import LocalRuntime, wait_for


def execution_of(rt: LocalRuntime, registration_id: str) -> dict[str, Any]:
    sm = rt.sfn().list_state_machines()["stateMachines"][0]["stateMachineArn"]
    arn = sm.replace(":stateMachine:", ":execution:") + ":" + registration_id
    return dict(rt.sfn().describe_execution(executionArn=arn))


def finished(rt: LocalRuntime, registration_id: str) -> dict[str, Any]:
    return wait_for(
        lambda: (e := execution_of(rt, registration_id))["status"] != "RUNNING" and e,
        what="the execution to finish",
    )


def states_entered(rt: LocalRuntime, execution_arn: str) -> list[str]:
    events = rt.sfn().get_execution_history(executionArn=execution_arn, maxResults=1000)["events"]
    return [
        e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e
    ]


def pending_with_text(rt: LocalRuntime, phone: str) -> str:
    status, body = rt.signup(phone)
    assert status == 202, body
    wait_for(lambda: rt.messages(phone, "outbound"), what="the confirmation text")
    wait_for(lambda: (c := rt.contact(phone)) and c["status"] == "PENDING", what="PENDING contact")
    return str(body["registrationId"])


def test_yes_confirms_opts_in_and_sends_welcome(shared_runtime: LocalRuntime) -> None:
    rt, phone = shared_runtime, new_us_number()
    registration = pending_with_text(rt, phone)
    confirmation = rt.messages(phone, "outbound")[0]["body"]
    for required in ("Reply YES", "Msg & data rates may apply", "HELP", "STOP", "https://"):
        assert required in confirmation

    rt.text_in(phone, "yes!")

    execution = finished(rt, registration)
    assert execution["status"] == "SUCCEEDED"
    contact = rt.contact(phone)
    assert contact is not None
    assert (contact["status"], contact["optedIn"]) == ("CONFIRMED", True)
    texts = [m["body"] for m in rt.messages(phone, "outbound")]
    assert len(texts) == 2
    assert texts[1].startswith("You're subscribed")
    assert "Reply STOP to cancel" in texts[1]
    assert states_entered(rt, execution["executionArn"]) == [
        "LoadSettings",
        "ValidateNumber",
        "Acceptable?",
        "CreateContact",
        "SendConfirmation",
        "OptIn",
        "Confirmed",
    ]
    ledger = [e["type"] for e in contact["events"]]
    assert ledger[0] == "requested"
    assert "confirmed" in ledger


def test_stop_while_pending_cancels_and_opts_out(shared_runtime: LocalRuntime) -> None:
    rt, phone = shared_runtime, new_us_number()
    registration = pending_with_text(rt, phone)

    rt.text_in(phone, "Stop")

    execution = finished(rt, registration)
    assert execution["status"] == "SUCCEEDED"
    assert states_entered(rt, execution["executionArn"])[-1] == "Cancelled"
    contact = rt.contact(phone)
    assert contact is not None
    assert (contact["status"], contact["optedIn"]) == ("OPTED_OUT", False)


def test_reply_that_only_contains_yes_does_not_confirm(shared_runtime: LocalRuntime) -> None:
    rt, phone = shared_runtime, new_us_number()
    registration = pending_with_text(rt, phone)

    rt.text_in(phone, "eyes")
    wait_for(lambda: len(rt.messages(phone, "outbound")) == 2, what="the clarifying reply")
    rt.text_in(phone, "no, not yes")

    assert execution_of(rt, registration)["status"] == "RUNNING"
    contact = rt.contact(phone)
    assert contact is not None
    assert contact["status"] == "PENDING"
    # One clarifying reply, not one per message.
    wait_for(lambda: len(rt.messages(phone, "inbound")) == 2, what="both replies stored")
    assert len(rt.messages(phone, "outbound")) == 2


def test_rejected_number_ends_in_fail_state_with_readable_cause(
    shared_runtime: LocalRuntime,
) -> None:
    rt = shared_runtime
    sm = rt.sfn().list_state_machines()["stateMachines"][0]["stateMachineArn"]
    started = rt.sfn().start_execution(
        stateMachineArn=sm,
        name="rejected-toll-free",
        input=json.dumps(
            {
                "registrationId": "rejected-toll-free",
                "phoneNumber": "+18005550100",
                "firstName": "Ada",
                "evidence": {},
            }
        ),
    )

    execution = wait_for(
        lambda: (
            (e := rt.sfn().describe_execution(executionArn=started["executionArn"]))["status"]
            != "RUNNING"
            and e
        )
    )
    assert execution["status"] == "FAILED"
    assert execution["error"] == "NumberRejected"
    assert "toll-free" in execution["cause"].lower()
    assert rt.messages("+18005550100") == []


def test_duplicate_signup_resends_instead_of_starting_again(shared_runtime: LocalRuntime) -> None:
    rt, phone = shared_runtime, new_us_number()
    registration = pending_with_text(rt, phone)

    status, body = rt.signup(phone)

    # Within the cooldown: no second text, no second workflow.
    assert status == 429, body
    assert body["error"]["code"] == "resend_cooldown"
    assert len(rt.messages(phone, "outbound")) == 1
    executions = rt.sfn().list_executions(
        stateMachineArn=rt.sfn().list_state_machines()["stateMachines"][0]["stateMachineArn"]
    )["executions"]
    assert registration in [e["name"] for e in executions]


def test_confirmed_number_signing_up_again_gets_200_and_no_text(
    shared_runtime: LocalRuntime,
) -> None:
    rt, phone = shared_runtime, new_us_number()
    registration = pending_with_text(rt, phone)
    rt.text_in(phone, "Y")
    finished(rt, registration)
    texts_before = len(rt.messages(phone, "outbound"))

    status, body = rt.signup(phone)

    assert status == 200, body
    assert body["status"] == "CONFIRMED"
    assert len(rt.messages(phone, "outbound")) == texts_before


def test_unknown_number_texting_yes_changes_nothing(shared_runtime: LocalRuntime) -> None:
    rt, stranger = shared_runtime, new_us_number()

    rt.text_in(stranger, "YES")
    rt.text_in(stranger, "STOP")

    wait_for(lambda: len(rt.messages(stranger, "inbound")) == 2)
    assert rt.contact(stranger) is None


def test_repeated_inbound_message_id_changes_nothing(shared_runtime: LocalRuntime) -> None:
    rt, phone = shared_runtime, new_us_number()
    registration = pending_with_text(rt, phone)
    rt.text_in(phone, "yes")
    finished(rt, registration)
    contact = rt.contact(phone)
    assert contact is not None
    events_before = len(contact["events"])
    texts_before = len(rt.messages(phone, "outbound"))
    # SNS delivers at least once: publish the same End User Messaging payload again.
    inbound = rt.messages(phone, "inbound")[-1]
    original_id = inbound["messageId"]

    rt.text_in(phone, "STOP")  # a new message: must opt out…
    wait_for(lambda: (c := rt.contact(phone)) and c["status"] == "OPTED_OUT")
    # Our answer to the STOP goes on record just after the opt-out: let it land first.
    wait_for(lambda: (c := rt.contact(phone)) and c["events"][-1]["type"] == "reply_sent")
    replay = rt.post(f"/sandbox/inbound/{original_id}/redeliver", {})

    # …and the replayed YES (same inboundMessageId) must not undo it.
    assert replay[0] == 202
    contact = rt.contact(phone)
    assert contact is not None
    assert contact["status"] == "OPTED_OUT"
    # The STOP's opt-out and our answer to it; nothing for the replayed YES.
    assert [e["type"] for e in contact["events"][events_before:]] == ["opted_out", "reply_sent"]
    assert len(rt.messages(phone, "outbound")) >= texts_before


def test_help_answers_with_program_contact_and_stop(shared_runtime: LocalRuntime) -> None:
    rt, phone = shared_runtime, new_us_number()
    pending_with_text(rt, phone)

    rt.text_in(phone, "help")

    reply = wait_for(lambda: rt.messages(phone, "outbound")[1:], what="the HELP answer")[0]
    assert "Acme Alerts" in reply["body"]
    assert "support@example.com" in reply["body"]
    assert "STOP" in reply["body"]


def test_silence_expires_and_a_late_yes_is_told_to_sign_up_again(make_runtime: Any) -> None:
    rt: LocalRuntime = make_runtime({"ConfirmationWindowSeconds": "2"})
    phone = new_us_number()
    registration = pending_with_text(rt, phone)

    execution = finished(rt, registration)

    assert execution["status"] == "SUCCEEDED"
    assert states_entered(rt, execution["executionArn"])[-2:] == ["Expire", "Expired"]
    contact = rt.contact(phone)
    assert contact is not None
    assert (contact["status"], contact["optedIn"]) == ("EXPIRED", False)

    rt.text_in(phone, "YES")

    late = wait_for(lambda: rt.messages(phone, "outbound")[1:], what="the expiry answer")[0]
    assert "expired" in late["body"].lower()
    assert "https://example.com/sms" in late["body"]
    contact = rt.contact(phone)
    assert contact is not None
    assert contact["status"] == "EXPIRED"


def test_two_quick_yeses_confirm_once_and_never_say_expired(shared_runtime: LocalRuntime) -> None:
    rt, phone = shared_runtime, new_us_number()
    registration = pending_with_text(rt, phone)

    rt.text_in(phone, "yes")
    rt.text_in(phone, "YES!!")

    assert finished(rt, registration)["status"] == "SUCCEEDED"
    wait_for(lambda: len(rt.messages(phone, "inbound")) == 2)
    wait_for(lambda: len(rt.messages(phone, "outbound")) >= 2, what="the welcome text")
    texts = [m["body"] for m in rt.messages(phone, "outbound")]
    assert len(texts) == 2, texts
    assert not any("expired" in t.lower() for t in texts)


def stop_waiting_execution(rt: LocalRuntime, registration: str) -> str:
    """An operator stops the execution while it waits for the reply (StopExecution, boto3)."""
    arn = str(execution_of(rt, registration)["executionArn"])
    assert execution_of(rt, registration)["status"] == "RUNNING"
    rt.sfn().stop_execution(executionArn=arn, error="Operator", cause="stopped by hand")
    assert execution_of(rt, registration)["status"] == "ABORTED"
    return arn


def test_yes_after_the_execution_was_stopped_expires_and_says_so_once(
    shared_runtime: LocalRuntime,
) -> None:
    rt, phone = shared_runtime, new_us_number()
    registration = pending_with_text(rt, phone)
    arn = stop_waiting_execution(rt, registration)
    # Nothing ran after the stop: the contact would wait forever.
    assert states_entered(rt, arn)[-1] == "SendConfirmation"
    assert (rt.contact(phone) or {})["status"] == "PENDING"

    inbound_id = rt.text_in(phone, "YES")

    reply = wait_for(lambda: rt.messages(phone, "outbound")[1:], what="the closed answer")[0]
    assert reply["body"] == (
        "Acme Alerts: This sign-up is no longer open, so your reply could not confirm it. "
        "Sign up again at https://example.com/sms"
    )
    contact = rt.contact(phone)
    assert contact is not None
    assert (contact["status"], contact["optedIn"]) == ("EXPIRED", False)
    expired = [e for e in contact["events"] if e["type"] == "expired"]
    assert len(expired) == 1
    assert expired[0]["registrationId"] == registration
    assert expired[0]["details"]["reason"] == "execution_ended"
    assert expired[0]["details"]["executionStatus"] == "ABORTED"
    assert expired[0]["details"]["executionArn"] == arn
    assert expired[0]["details"]["error"] in {"TaskTimedOut", "TaskDoesNotExist", "InvalidToken"}

    # SNS delivers the same message again: no second text, no second event.
    assert rt.post(f"/sandbox/inbound/{inbound_id}/redeliver", {})[0] == 202
    wait_for(lambda: len(rt.messages(phone, "inbound")) >= 1)
    contact = rt.contact(phone)
    assert contact is not None
    assert [e["type"] for e in contact["events"]].count("expired") == 1
    assert len(rt.messages(phone, "outbound")) == 2


def test_signing_up_again_after_a_stopped_execution_starts_a_new_one(
    shared_runtime: LocalRuntime,
) -> None:
    rt, phone = shared_runtime, new_us_number()
    first = pending_with_text(rt, phone)
    stop_waiting_execution(rt, first)

    status, body = rt.signup(phone)

    assert status == 202, body
    second = str(body["registrationId"])
    assert second != first
    assert execution_of(rt, second)["status"] == "RUNNING"
    wait_for(lambda: len(rt.messages(phone, "outbound")) == 2, what="the new confirmation text")
    contact = rt.contact(phone)
    assert contact is not None
    assert (contact["status"], contact["registrationId"]) == ("PENDING", second)
    expired = next(e for e in contact["events"] if e["type"] == "expired")
    assert (expired["registrationId"], expired["details"]["reason"]) == (first, "execution_ended")
