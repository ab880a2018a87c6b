"""Phone numbers are personal data: the runtime's whole log of a sign-up never shows one in full,
nor any message body: neither the log file (<data-dir>/runtime.log: the functions' own JSON
lines and metrics, the runtime's records) nor what the terminal shows."""

from __future__ import annotations

from typing import Any

from tests.support.numbers import new_us_number
from tests.support.runtime import LocalRuntime, wait_for


def test_log_of_a_full_conversation_masks_numbers_and_omits_bodies(make_runtime: Any) -> None:
    rt: LocalRuntime = make_runtime()
    phone = new_us_number()

    assert rt.signup(phone)[0] == 202
    wait_for(lambda: rt.messages(phone), what="the confirmation text")
    for reply in ("what is this", "HELP", "yes!", "STOP"):
        rt.text_in(phone, reply)
    wait_for(lambda: (c := rt.contact(phone)) and c["status"] == "OPTED_OUT", what="OPTED_OUT")
    texts = [m["body"] for m in rt.messages(phone, "outbound")]

    log_file = (rt.data_dir / "runtime.log").read_text(errors="replace")
    # The file the functions log to, not only the terminal: their Powertools lines are there.
    assert '"function_name":"SignupFunction"' in log_file
    assert '"level":"INFO"' in log_file  # the handlers did log
    log = log_file + rt.log()
    assert phone not in log
    assert phone[2:] not in log  # nor the national digits
    assert phone[:5] + "***" + phone[-4:] in log  # masked, as DESIGN.md gives it
    for body in [*texts, "what is this"]:
        assert body not in log
