"""Kill -9 the runtime at the awkward moments; nothing is lost and no text goes out twice."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.support.numbers import new_us_number
from tests.support.runtime import LocalRuntime, wait_for

# Each test starts, kills and restarts a runtime: seconds apiece (`-m "not slow"` skips them).
pytestmark = pytest.mark.slow


def status_of(rt: LocalRuntime, phone: str) -> str | None:
    contact = rt.contact(phone)
    return None if contact is None else str(contact["status"])


def test_kill_while_executions_wait_for_yes(tmp_path: Path) -> None:
    rt = LocalRuntime(tmp_path / "rt").start()
    try:
        phones = [new_us_number() for _ in range(3)]
        for phone in phones:
            assert rt.signup(phone)[0] == 202
        for phone in phones:
            wait_for(lambda p=phone: status_of(rt, p) == "PENDING" and rt.messages(p))

        rt.kill()
        rt.start()

        for phone in phones:
            rt.text_in(phone, "yes")
        for phone in phones:
            wait_for(lambda p=phone: status_of(rt, p) == "CONFIRMED", what="confirmation")
            wait_for(lambda p=phone: len(rt.messages(p, "outbound")) == 2, what="welcome")
        time.sleep(0.5)  # anything sent twice would show up now
        for phone in phones:
            bodies = [m["body"] for m in rt.messages(phone, "outbound")]
            assert len(bodies) == 2, bodies
            assert bodies[1].startswith("You're subscribed")
    finally:
        rt.stop()


def test_kill_while_the_confirmation_text_is_being_sent(tmp_path: Path) -> None:
    # The sandbox stores the text, then stalls before answering: the Lambda never hears back.
    rt = LocalRuntime(tmp_path / "rt", env={"LOCAL_SMS_SEND_DELAY": "30"}).start()
    try:
        phone = new_us_number()
        assert rt.signup(phone)[0] == 202
        wait_for(lambda: rt.messages(phone), what="the text in the sandbox")

        rt.kill()
        rt.start(env={"LOCAL_SMS_SEND_DELAY": "0"})

        # The engine re-runs SendConfirmation; the text must not go out again.
        wait_for(lambda: status_of(rt, phone) == "PENDING")
        execution = rt.sfn().list_executions(
            stateMachineArn=rt.sfn().list_state_machines()["stateMachines"][0]["stateMachineArn"]
        )["executions"][0]
        assert execution["status"] == "RUNNING"
        rt.text_in(phone, "YES")
        wait_for(lambda: status_of(rt, phone) == "CONFIRMED", what="confirmation after restart")
        wait_for(lambda: len(rt.messages(phone, "outbound")) >= 2, what="welcome")
        time.sleep(0.5)
        bodies = [m["body"] for m in rt.messages(phone, "outbound")]
        assert len(bodies) == 2, bodies
        assert "Reply YES" in bodies[0]
    finally:
        rt.stop()


def test_confirmation_window_that_closed_while_down_expires_on_restart(tmp_path: Path) -> None:
    rt = LocalRuntime(tmp_path / "rt", {"ConfirmationWindowSeconds": "3"}).start()
    try:
        phone = new_us_number()
        assert rt.signup(phone)[0] == 202
        wait_for(lambda: status_of(rt, phone) == "PENDING" and rt.messages(phone))

        rt.kill()
        time.sleep(3.5)
        rt.start()

        wait_for(lambda: status_of(rt, phone) == "EXPIRED", what="expiry after restart")
        assert len(rt.messages(phone, "outbound")) == 1
    finally:
        rt.stop()


def test_inbound_text_acknowledged_before_a_kill_is_still_processed(tmp_path: Path) -> None:
    rt = LocalRuntime(tmp_path / "rt").start()
    try:
        phone = new_us_number()
        assert rt.signup(phone)[0] == 202
        wait_for(lambda: status_of(rt, phone) == "PENDING" and rt.messages(phone))

        rt.text_in(phone, "yes")
        rt.kill()  # at once: delivery to inbound_sms may or may not have happened
        rt.start()

        wait_for(lambda: status_of(rt, phone) == "CONFIRMED", what="confirmation")
        wait_for(lambda: len(rt.messages(phone, "outbound")) == 2)
        time.sleep(0.5)
        assert len(rt.messages(phone, "outbound")) == 2
    finally:
        rt.stop()
