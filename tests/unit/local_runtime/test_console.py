"""The terminal's lines and the log file's records, without starting a runtime."""

from __future__ import annotations

import io
import json
import logging
import os
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from local.runtime import console
from local.runtime.console import (
    Console,
    ConsoleLogHandler,
    ExecutionWatcher,
    ReportingLambdaRunner,
    Session,
    mask,
    mask_numbers,
    reply_class,
    segments,
    text_kind,
)
from local.runtime.lambdas import LambdaRunner
from local.stepfunctions import LambdaFunctionError


def lines(stream: io.StringIO) -> list[str]:
    """The lines written, without their HH:MM:SS prefix."""
    return [line.split(" ", 1)[1] for line in stream.getvalue().splitlines()]


@pytest.fixture
def out() -> io.StringIO:
    return io.StringIO()


@pytest.fixture
def con(out: io.StringIO) -> Console:
    return Console(out, confirm_keywords=["YES", "Y", "OK"])


# --- masking and classes ---


@pytest.mark.parametrize(
    ("number", "masked"),
    [
        ("+12064861234", "+1206***1234"),
        ("+442079460000", "+44207***0000"),  # a two-digit country code
        ("(206) 486-1234", "206***1234"),
        ("+1206", "***"),
        ("", "***"),
        (None, "***"),
    ],
)
def test_mask(number: Any, masked: str) -> None:
    assert mask(number) == masked


def test_mask_numbers_masks_every_e164_number_in_free_text() -> None:
    text = mask_numbers("from +12064861234 to +442079460000, reg 1234-5678")
    assert text == "from +1206***1234 to +44207***0000, reg 1234-5678"


@pytest.mark.parametrize(
    ("body", "parts"),
    [("a" * 160, 1), ("a" * 161, 2), ("a" * 306, 2), ("a" * 307, 3), ("€" * 80, 1)],
)
def test_segments_gsm7(body: str, parts: int) -> None:
    assert segments(body) == parts


@pytest.mark.parametrize(
    ("body", "parts"), [("ä" * 160, 1), ("ł" * 70, 1), ("ł" * 71, 2), ("ł" * 134, 2)]
)
def test_segments_ucs2(body: str, parts: int) -> None:
    # ä is in GSM-7; ł is not, so a text with it goes as UCS-2: 70 in one part, 67 a part.
    assert segments(body) == parts


@pytest.mark.parametrize(
    ("key", "kind"),
    [
        ("3f1c:confirmation", "confirmation"),
        ("3f1c:resend:2", "confirmation (resent)"),
        ("3f1c:welcome", "welcome"),
        ("reply:abc", "reply"),
        (None, "text"),
        ("something else", "text"),
    ],
)
def test_text_kind_from_the_dedup_key(key: str | None, kind: str) -> None:
    assert text_kind(key) == kind


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        ("yes!", "confirm keyword"),
        (" Ok ", "confirm keyword"),
        ("STOP please", "opt-out keyword"),
        ("opt-out", "opt-out keyword"),
        ("Opt out", "opt-out keyword"),
        ("help", "help keyword"),
        ("unstop", "start keyword"),
        ("eyes", "other text (4 chars)"),
        ("yes but no", "other text (10 chars)"),
    ],
)
def test_reply_class_names_the_class_never_the_words(body: str, kind: str) -> None:
    assert reply_class(body, ["YES", "OK"]) == kind


# --- the lines ---


def test_a_sign_up_line(con: Console, out: io.StringIO) -> None:
    answer = {"status": "PENDING", "phoneNumber": "+12064861234", "registrationId": "3f1c9a0b"}
    request = json.dumps({"phoneNumber": "(206) 486-1234", "firstName": "Ada"}).encode()
    con.api_answered("POST", "/signups", request, 202, json.dumps(answer).encode())
    assert lines(out) == ["sign-up +1206***1234 → 202 PENDING reg 3f1c…"]
    assert out.getvalue()[:8].count(":") == 2  # HH:MM:SS first


def test_a_refused_sign_up_line_has_the_error_code_and_the_typed_number_masked(
    con: Console, out: io.StringIO
) -> None:
    answer = {"error": {"code": "invalid_phone_number", "message": "…"}}
    request = b"firstName=Ada&phoneNumber=%2B12064861234&consent=on"  # a form post
    con.api_answered("POST", "/signups", request, 400, json.dumps(answer).encode())
    assert lines(out) == ["sign-up +1206***1234 → 400 invalid_phone_number"]


def test_other_api_answers_print_nothing_unless_they_fail(con: Console, out: io.StringIO) -> None:
    con.api_answered("GET", "/signups/{registrationId}", b"", 200, b'{"status": "PENDING"}')
    con.api_answered("GET", "/disclosure", b"", 200, b"{}")
    assert out.getvalue() == ""
    con.api_answered("GET", "/disclosure", b"", 502, b'{"message": "Internal server error"}')
    assert lines(out) == ["error GET /disclosure → 502"]


def test_texts_and_replies_never_show_bodies_or_numbers(con: Console, out: io.StringIO) -> None:
    body = "Acme Alerts: Reply YES to confirm. Call +12065550100 for help."
    con.text_sent("+12064861234", "reg:confirmation", body)
    con.text_sent("+12064861234", "reg:welcome", "x" * 200)
    con.reply_received("+12064861234", "yes, call me at +12065550199")
    shown = out.getvalue()
    assert lines(out) == [
        "text → +1206***1234 confirmation (1 segment)",
        "text → +1206***1234 welcome (2 segments)",
        "reply ← +1206***1234 other text (28 chars)",
    ]
    assert "Acme" not in shown and "call me" not in shown and "+1206555" not in shown


def test_execution_and_lambda_error_lines(out: io.StringIO) -> None:
    con = Console(out, log_path=Path("/data/runtime.log"))
    con.execution_ended("RegistrationStateMachine", "3f1c9a0b-1111", "SUCCEEDED", None)
    con.execution_ended("RegistrationStateMachine", "77aa", "FAILED", "States.Timeout")
    error = LambdaFunctionError("ValueError", "bad number +12064861234")
    con.lambda_failed("arn:aws:lambda:us-east-1:123456789012:function:OptInFunction", error)
    assert lines(out) == [
        "execution RegistrationStateMachine 3f1c9a0b… SUCCEEDED",
        "execution RegistrationStateMachine 77aa… FAILED (States.Timeout)",
        "error OptInFunction: ValueError — details in /data/runtime.log",
    ]


def test_hooks_do_nothing_without_a_console_and_never_raise(out: io.StringIO) -> None:
    console.install(None)
    console.text_sent("+12064861234", "k:welcome", "hi")  # nowhere to go: no error

    class Broken(Console):
        def text_sent(self, destination: str, dedup_key: str | None, body: str) -> None:
            raise RuntimeError("the terminal is gone")

    console.install(Broken(out))
    try:
        console.text_sent("+12064861234", "k:welcome", "hi")
        console.install(Console(out))
        console.reply_received("+12064861234", "STOP")
    finally:
        console.install(None)
    assert lines(out) == ["reply ← +1206***1234 opt-out keyword"]


# --- logging records ---


def record(name: str, level: int, message: str, *args: Any, **extra: Any) -> logging.LogRecord:
    rec = logging.LogRecord(name, level, __file__, 1, message, args, None)
    rec.__dict__.update(extra)
    return rec


def test_the_terminal_gets_runtime_warnings_masked_and_not_library_chatter(
    con: Console, out: io.StringIO
) -> None:
    handler = ConsoleLogHandler(con)
    for rec in [
        record("local.sms", logging.INFO, "text to %s stored", "+1206***1234"),
        record("local.sms", logging.WARNING, "delivery to %s failed\nTraceback", "+12064861234"),
        record("uvicorn.error", logging.WARNING, "Invalid HTTP request received."),
        record("uvicorn.error", logging.ERROR, "Exception in ASGI application"),
        record("local.lambda", logging.ERROR, "shown already", console_shown=True),
    ]:
        if rec.levelno >= handler.level and handler.filter(rec):
            handler.emit(rec)
    assert lines(out) == [
        "warning delivery to +1206***1234 failed",
        "error Exception in ASGI application",
    ]


def test_a_lambda_error_already_shown_is_not_shown_again(con: Console, out: io.StringIO) -> None:
    error = LambdaFunctionError("ValueError", "x")
    error._console_reported = True  # type: ignore[attr-defined]
    rec = record("local.http", logging.ERROR, "%s failed behind %s: %s", "Fn", "POST /x", error)
    assert not ConsoleLogHandler(con).filter(rec)
    rec = record("local.http", logging.ERROR, "%s failed: %s", "Fn", LambdaFunctionError("A", "b"))
    assert ConsoleLogHandler(con).filter(rec)


def test_a_failed_invocation_is_reported_and_still_raised(
    monkeypatch: pytest.MonkeyPatch, out: io.StringIO
) -> None:
    def fail(self: LambdaRunner, function_name: str, payload: Any) -> Any:
        raise LambdaFunctionError("KeyError", "'phoneNumber'")

    monkeypatch.setattr(LambdaRunner, "invoke", fail)
    runner = ReportingLambdaRunner(None, {}, console=Console(out))  # type: ignore[arg-type]
    with pytest.raises(LambdaFunctionError) as raised:
        runner.invoke("OptInFunction", {})
    assert getattr(raised.value, "_console_reported", False)
    assert lines(out) == ["error OptInFunction: KeyError"]


@pytest.fixture
def session_factory(tmp_path: Path) -> Iterator[Any]:
    made: list[Session] = []

    def make(**kwargs: Any) -> Session:
        session = Session(tmp_path, **kwargs)
        made.append(session)
        return session

    root = logging.getLogger()
    saved = (root.level, list(root.handlers))
    yield make
    for session in made:
        session.close()
    root.setLevel(saved[0])
    for handler in saved[1]:
        if handler not in root.handlers:
            root.addHandler(handler)


def test_a_session_sends_records_to_the_log_file_as_json(
    session_factory: Any, tmp_path: Path
) -> None:
    out, echo = io.StringIO(), io.StringIO()
    session = session_factory(stream=out, echo=echo)
    logging.getLogger("local.sms").info("text to %s stored (%d chars)", "+1206***1234", 12)
    logging.getLogger("local.http").warning("something odd")
    entry = json.loads((tmp_path / "runtime.log").read_text("utf-8").splitlines()[0])
    assert entry["logger"] == "local.sms" and entry["level"] == "INFO"
    assert entry["message"] == "text to +1206***1234 stored (12 chars)"
    assert lines(out) == ["warning something odd"]  # INFO stays in the file
    assert echo.getvalue() == ""
    assert session.function_output is session._file  # the workers append to the file itself


def test_a_verbose_session_echoes_records_and_function_output(
    session_factory: Any, tmp_path: Path
) -> None:
    out, echo = io.StringIO(), io.StringIO()
    session = session_factory(stream=out, echo=echo, verbose=True)
    logging.getLogger("local.sms").info("stored")
    fd = session.function_output
    assert isinstance(fd, int)
    os.write(fd, b'{"level":"INFO","message":"from a worker"}\n')
    deadline = time.monotonic() + 5
    while "from a worker" not in echo.getvalue() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert '"message": "stored"' in echo.getvalue()
    assert '"message":"from a worker"' in echo.getvalue()
    assert "from a worker" in (tmp_path / "runtime.log").read_text("utf-8")
    assert out.getvalue() == ""  # the readable lines' stream gets no JSON


def test_the_execution_watcher_reports_each_execution_once_as_it_ends(
    con: Console, out: io.StringIO, tmp_path: Path
) -> None:
    db = tmp_path / "sfn.db"
    conn = sqlite3.connect(db)
    conn.execute(
        "CREATE TABLE executions (sm_name TEXT, name TEXT, status TEXT, error TEXT, stop REAL)"
    )
    watcher = ExecutionWatcher(db, con)
    now = time.time()
    conn.executemany(
        "INSERT INTO executions VALUES (?, ?, ?, ?, ?)",
        [
            ("M", "old-run", "SUCCEEDED", None, now - 60),  # ended before the runtime started
            ("M", "running", "RUNNING", None, None),
            ("M", "aaaa1111", "SUCCEEDED", None, now + 1),
        ],
    )
    conn.commit()
    watcher.poll(conn)
    conn.execute("UPDATE executions SET status='FAILED', error='E', stop=? WHERE name='running'",
                 (now + 2,))  # fmt: skip
    conn.commit()
    watcher.poll(conn)
    watcher.poll(conn)
    assert lines(out) == ["execution M aaaa1111… SUCCEEDED", "execution M running… FAILED (E)"]
