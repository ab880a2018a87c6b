"""The agent actions through the runtime's front door, as the console's page calls them: a
real sign-up waits for its reply in a real execution, an agent signed in with the user pool
acts on it, and the execution, the contact, the ledger and the SMS sandbox show the result."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.console import cookie_for, own, request
from tests.support.numbers import new_us_number
from tests.support.runtime import LocalRuntime, wait_for

SIGNUPS = "/console/api/signups"
COOLDOWN = 3  # seconds between confirmation texts in this module's runtime


@pytest.fixture(scope="module")
def rt(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRuntime]:
    runtime = LocalRuntime(
        Path(tmp_path_factory.mktemp("actions")) / "runtime",
        parameters={"ResendCooldownSeconds": str(COOLDOWN)},
    )
    runtime.start()
    try:
        yield runtime
    finally:
        runtime.stop()


@pytest.fixture(scope="module")
def agent(rt: LocalRuntime) -> dict[str, str]:
    return {**cookie_for(rt, "action-agent", "agent"), **own(rt)}


def waiting_signup(rt: LocalRuntime) -> tuple[str, str]:
    """A sign-up whose confirmation text is out: (phone, registrationId)."""
    phone = new_us_number()
    status, body = rt.signup(phone)
    assert status == 202, body
    wait_for(lambda: rt.messages(phone, "outbound"), what="the confirmation text")
    wait_for(
        lambda: (rt.contact(phone) or {}).get("sendCount") == 1 or None,
        what="the text on record",
    )
    return phone, str(body["registrationId"])


def act(
    rt: LocalRuntime, registration: str, action: str, headers: dict[str, str], reason: Any = None
) -> tuple[int, Any]:
    body = {"reason": "Asked on the phone" if reason is None else reason}
    status, _, answer = request(
        rt, "POST", f"{SIGNUPS}/{registration}/{action}", body, headers=headers
    )
    return status, answer


def execution_status(rt: LocalRuntime, page: dict[str, Any]) -> str:
    arn = page["signup"]["executionArn"]
    return str(rt.sfn().describe_execution(executionArn=arn)["status"])


@pytest.mark.parametrize(
    ("action", "code", "summary"),
    [
        ("cancel", "agent_cancelled", "Cancelled by action-agent: Asked on the phone"),
        ("expire", "agent_expired", "Expired by action-agent: Asked on the phone"),
    ],
)
def test_an_agent_cancels_or_expires_a_waiting_sign_up(
    rt: LocalRuntime, agent: dict[str, str], action: str, code: str, summary: str
) -> None:
    phone, registration = waiting_signup(rt)
    status, page = act(rt, registration, action, agent)
    assert status == 200, page
    assert page["signup"]["status"] == "EXPIRED"
    assert page["signup"]["outcome"] == {"code": code, "summary": summary}
    assert execution_status(rt, page) == "ABORTED"
    assert page["execution"]["status"] == "ABORTED"
    aborted = [e for e in page["history"] if e["type"] == "ExecutionAborted"]
    assert aborted and "action-agent" in aborted[0]["executionAbortedEventDetails"]["cause"]
    last = page["ledger"][-1]
    assert last["type"] == "expired" and last["details"]["reason"] == code
    assert last["details"]["by"] == "action-agent"
    assert last["details"]["why"] == "Asked on the phone"
    assert last["details"]["source"] == "console"
    assert rt.contact(phone)["status"] == "EXPIRED"
    # The same request again (a retry): the same answer, nothing written twice.
    status, again = act(rt, registration, action, agent)
    assert status == 200 and len(again["ledger"]) == len(page["ledger"])
    # A YES now reaches no workflow and confirms nothing.
    rt.text_in(phone, "YES")
    time.sleep(1)
    assert rt.contact(phone)["status"] == "EXPIRED"


def test_an_agent_opts_a_number_out_and_nothing_is_texted(
    rt: LocalRuntime, agent: dict[str, str]
) -> None:
    phone, registration = waiting_signup(rt)
    texts = len(rt.messages(phone, "outbound"))
    status, page = act(rt, registration, "opt-out", agent, "Called to unsubscribe")
    assert status == 200, page
    assert page["signup"]["status"] == "OPTED_OUT"
    assert page["signup"]["outcome"]["summary"] == (
        "Opted out while pending by action-agent: Called to unsubscribe"
    )
    last = page["ledger"][-1]
    assert last["type"] == "opted_out" and last["details"]["source"] == "console"
    assert last["details"]["by"] == "action-agent"
    assert last["details"]["why"] == "Called to unsubscribe"
    # The wait ended as a STOP ends it: the workflow's Cancelled state.
    wait_for(lambda: execution_status(rt, page) == "SUCCEEDED" or None, what="the workflow's end")
    arn = page["signup"]["executionArn"]
    history = rt.sfn().get_execution_history(executionArn=arn)["events"]
    entered = [
        e["stateEnteredEventDetails"]["name"] for e in history if "stateEnteredEventDetails" in e
    ]
    assert entered[-1] == "Cancelled"
    time.sleep(0.5)
    assert len(rt.messages(phone, "outbound")) == texts
    status, body = act(rt, registration, "opt-out", agent, "Another reason")
    assert status == 409 and body["error"]["code"] == "already_opted_out"


def test_an_agent_resends_the_text_once_per_request(
    rt: LocalRuntime, agent: dict[str, str]
) -> None:
    phone, registration = waiting_signup(rt)
    status, body = act(rt, registration, "resend", agent, "Never got it")
    assert status == 429 and body["error"]["code"] == "cooldown"
    assert 1 <= body["error"]["retryAfterSeconds"] <= COOLDOWN
    time.sleep(body["error"]["retryAfterSeconds"])
    status, page = act(rt, registration, "resend", agent, "Never got it")
    assert status == 200, page
    assert page["signup"]["status"] == "PENDING"
    texts = rt.messages(phone, "outbound")
    assert len(texts) == 2 and texts[-1]["body"] == texts[0]["body"]
    requested = [e for e in page["ledger"] if e["type"] == "resend_requested"]
    assert requested[-1]["details"]["by"] == "action-agent"
    status, again = act(rt, registration, "resend", agent, "Never got it")  # a retry
    assert status == 200 and len(again["ledger"]) == len(page["ledger"])
    assert len(rt.messages(phone, "outbound")) == 2
    # The resent text is answered like the first: YES confirms.
    rt.text_in(phone, "YES")
    wait_for(lambda: (rt.contact(phone) or {}).get("status") == "CONFIRMED" or None)


def test_repair_only_a_sign_up_whose_execution_is_over(
    rt: LocalRuntime, agent: dict[str, str]
) -> None:
    phone, registration = waiting_signup(rt)
    status, body = act(rt, registration, "repair", agent)
    assert status == 409 and body["error"]["code"] == "still_running"
    arn = rt.contact(phone)["executionArn"]
    rt.sfn().stop_execution(executionArn=arn, error="Operator", cause="stopped by hand")
    status, page = act(rt, registration, "repair", agent, "Stuck after a manual stop")
    assert status == 200, page
    assert page["signup"]["outcome"]["code"] == "expired_execution_ended"
    last = page["ledger"][-1]
    assert last["details"]["executionStatus"] == "ABORTED"
    assert last["details"]["by"] == "action-agent"


def test_refusals_change_nothing(rt: LocalRuntime, agent: dict[str, str]) -> None:
    phone, registration = waiting_signup(rt)
    viewer = {**cookie_for(rt, "action-viewer", "viewer"), **own(rt)}
    hostile = {**agent, "Origin": "http://evil.example"}
    no_origin = {k: v for k, v in agent.items() if k != "Origin"}
    for headers, reason, status_code, code in (
        (viewer, None, 403, "forbidden"),
        # Another origin is stopped by the runtime's front door before the function runs
        # (on AWS, by the function: its own test covers that).
        (hostile, None, 403, "cross_origin_refused"),
        (no_origin, None, 403, "cross_site_request"),
        ({**agent, "Content-Type": "text/plain"}, None, 403, "cross_site_request"),
        (agent, "", 400, "invalid_reason"),
        (own(rt), None, 401, "unauthenticated"),
    ):
        for action in ("cancel", "opt-out", "resend"):
            status, body = act(rt, registration, action, headers, reason)
            assert status == status_code, (headers, action, body)
            if status_code != 401:  # API Gateway's own 401 from the authorizer
                assert body["error"]["code"] == code, body
            assert phone not in str(body)
    status, body = act(rt, "no-such-registration", "cancel", agent)
    assert status == 404 and body["error"]["code"] == "not_found"
    assert rt.contact(phone)["status"] == "PENDING"
    assert len(rt.messages(phone, "outbound")) == 1
