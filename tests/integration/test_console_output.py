"""What `python -m local` prints to its terminal, and what it keeps in <data-dir>/runtime.log.

The harness keeps the runtime's stdout and stderr in a file of their own (terminal.log), so
the terminal and the log file can be told apart.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.numbers import new_us_number
from tests.support.runtime import LocalRuntime, wait_for


def start(data_dir: Path, env: dict[str, str] | None = None) -> LocalRuntime:
    return LocalRuntime(data_dir, env=env).start()


def terminal(rt: LocalRuntime) -> str:
    return rt.terminal()


def after_banner(rt: LocalRuntime) -> list[str]:
    lines = terminal(rt).splitlines()
    export_at = max(i for i, line in enumerate(lines) if line.strip().startswith("export "))
    return [line for line in lines[export_at + 1 :] if line.strip()]


def log_file_entries(rt: LocalRuntime) -> list[dict[str, Any]]:
    entries = []
    for line in (rt.data_dir / "runtime.log").read_text("utf-8").splitlines():
        if line.startswith("{"):
            entries.append(json.loads(line))
    return entries


@pytest.fixture
def quiet(tmp_path: Path) -> Iterator[LocalRuntime]:
    rt = start(tmp_path / "quiet")
    try:
        yield rt
    finally:
        rt.stop()


def sign_up_and_confirm(rt: LocalRuntime, phone: str) -> list[str]:
    """A sign-up and its YES, end to end; returns the bodies of the texts sent."""
    assert rt.signup(phone)[0] == 202
    wait_for(lambda: rt.messages(phone, "outbound"), what="the confirmation text")
    rt.text_in(phone, "yes!")
    wait_for(lambda: (c := rt.contact(phone)) and c["status"] == "CONFIRMED", what="CONFIRMED")

    def both_texts() -> list[dict[str, Any]] | None:
        sent = rt.messages(phone, "outbound")
        return sent if len(sent) == 2 else None

    texts = wait_for(both_texts, what="the welcome text")
    return [m["body"] for m in texts]


def test_the_terminal_shows_one_readable_line_per_event(quiet: LocalRuntime) -> None:
    rt = quiet
    phone = new_us_number()
    masked = phone[:5] + "***" + phone[-4:]
    bodies = sign_up_and_confirm(rt, phone)
    # The execution's end is read from the engine's store once a second.
    wait_for(lambda: "SUCCEEDED" in terminal(rt), what="the execution's line")
    # Polls the simulator makes every second print nothing.
    for _ in range(5):
        rt.get("/sandbox/conversations")
        rt.messages(phone)
        rt.get("/")

    text = terminal(rt)
    assert "Local runtime ready" in text
    assert f"  log              {rt.data_dir.resolve() / 'runtime.log'}" in text.splitlines()
    events = [line.split(" ", 1)[1] for line in after_banner(rt)]
    assert events[0].startswith(f"sign-up {masked} → 202 PENDING reg "), events
    assert events[1:4] == [
        f"text → {masked} confirmation (1 segment)",
        f"reply ← {masked} confirm keyword",
        f"text → {masked} welcome (1 segment)",
    ], events
    assert events[4].startswith("execution RegistrationStateMachine "), events
    assert events[4].endswith(" SUCCEEDED"), events
    assert len(events) == 5, events

    # Nothing structured, no number in full, no message body, no reply's words.
    assert not [line for line in text.splitlines() if line.lstrip().startswith("{")]
    assert phone not in text and phone[2:] not in text
    for body in bodies:
        assert body not in text
    assert "yes!" not in text


def test_the_log_file_holds_what_the_functions_and_the_runtime_log(
    shared_runtime: LocalRuntime,
) -> None:
    # The log file only gains lines: a runtime other tests use shows it as well as a new one.
    rt = shared_runtime
    phone = new_us_number()
    sign_up_and_confirm(rt, phone)

    def with_opt_in() -> list[dict[str, Any]] | None:
        found = log_file_entries(rt)
        return found if any(e.get("function_name") == "OptInFunction" for e in found) else None

    entries = wait_for(with_opt_in, what="the OptInFunction's log lines")
    functions = {e.get("function_name") for e in entries if "function_name" in e}
    assert {"SignupFunction", "ValidateNumberFunction", "OptInFunction"} <= functions
    metrics = [
        name["Name"]
        for e in entries
        if "_aws" in e
        for directive in e["_aws"]["CloudWatchMetrics"]
        for name in directive["Metrics"]
    ]
    assert "SignupStarted" in metrics
    runtime_records = [e for e in entries if str(e.get("logger", "")).startswith("local")]
    assert any("stored" in e["message"] for e in runtime_records), runtime_records
    log_text = (rt.data_dir / "runtime.log").read_text("utf-8")
    assert phone not in log_text
    assert phone[:5] + "***" + phone[-4:] in log_text


def test_a_bad_sign_up_is_one_line_with_its_error_code(shared_runtime: LocalRuntime) -> None:
    # Other tests' lines are on this terminal too: this one is the only sign-up from +44.
    rt = shared_runtime
    status, _ = rt.signup("+44 20 7946 0000")
    assert status == 400
    line = wait_for(
        lambda: next((e for e in after_banner(rt) if " sign-up +44" in e), None),
        what="the sign-up line",
    )
    assert " → 400 " in line
    assert "+44207***0000" in line
    assert "20 7946 0000" not in terminal(rt)


def test_verbose_also_echoes_the_structured_lines(tmp_path: Path) -> None:
    rt = start(tmp_path / "verbose", env={"LOCAL_LOG_LEVEL": "DEBUG"})
    try:
        phone = new_us_number()
        assert rt.signup(phone)[0] == 202
        # The metric line is printed after the handler's own lines, so wait for both.
        wait_for(
            lambda: (
                '"function_name":"SignupFunction"' in terminal(rt)
                and '"CloudWatchMetrics"' in terminal(rt)
            ),
            what="echoed JSON and metric lines",
        )
        text = terminal(rt)
        assert f"sign-up {phone[:5]}***{phone[-4:]} → 202" in text  # and the readable line
        # The log file gets the same lines in verbose mode.
        logged = (rt.data_dir / "runtime.log").read_text("utf-8")
        assert '"function_name":"SignupFunction"' in logged
        assert phone not in text and phone not in logged
    finally:
        rt.stop()
