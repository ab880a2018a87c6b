"""What the terminal of `python -m local` shows, and where everything else goes.

The runtime's terminal is for a developer watching a sign-up go through: after the banner, one
readable line per event that matters (a sign-up answered, a text sent, a reply received, an
execution ended, a Lambda error, a runtime warning), phone numbers masked, never a message body.
Everything structured — the functions' Powertools JSON lines and Embedded Metric Format lines,
the runtime's own logging (as JSON lines), uvicorn's warnings — is appended to
`<data-dir>/runtime.log`. With --verbose (or LOCAL_LOG_LEVEL=DEBUG) the structured lines are
echoed to stderr as well.

The HTTP front door and the SMS sandbox report events through the module-level functions below
(`api_answered`, `text_sent`, `reply_received`); they do nothing until `install` is called, so
the modules work unchanged in tests that build them without a console. A console line must
never break what it reports on: the hooks swallow their own errors.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sqlite3
import sys
import threading
import time
import traceback
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, TextIO
from urllib.parse import parse_qs

import phonenumbers

from local.runtime.lambdas import LambdaRunner
from local.runtime.template import Application
from local.stepfunctions import LambdaFunctionError, LambdaServiceError
from local.stepfunctions import store as engine_store

LOG_FILE_NAME = "runtime.log"
DEFAULT_CONFIRM_KEYWORDS = ("YES", "Y", "CONFIRM")
# AWS's required opt-out words and the usual extras (the functions' own list decides; this
# only names the class of a reply on the terminal).
OPT_OUT_WORDS = frozenset(
    {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT", "ARRET"}
)
HELP_WORDS = frozenset({"HELP", "INFO"})
START_WORDS = frozenset({"START", "UNSTOP"})
EXECUTION_POLL_SECONDS = 1.0

_E164_IN_TEXT = re.compile(r"\+\d{8,15}")
_GSM7 = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")


# --- what a line may say ---


def mask(number: Any) -> str:
    """+1206***0100: country code and 3 digits, the last 4 (as optin.domain.phone.mask, which
    the runtime cannot import: it holds the functions' code, not the runtime's)."""
    if not isinstance(number, str) or not number.strip():
        return "***"
    text = number.strip()
    digits = re.sub(r"\D", "", text)
    if len(digits) < 8:
        return "***"
    if text.startswith("+"):
        try:
            code_length = len(str(phonenumbers.parse(text, None).country_code))
        except phonenumbers.NumberParseException:
            code_length = 1
        return f"+{digits[: code_length + 3]}***{digits[-4:]}"
    return f"{digits[:3]}***{digits[-4:]}"


def mask_numbers(text: str) -> str:
    """Every E.164-looking number in free text (error messages, warnings) masked."""
    return _E164_IN_TEXT.sub(lambda match: mask(match.group(0)), text)


def segments(body: str) -> int:
    """SMS parts a text costs: GSM-7 (160, or 153 a part) unless a character needs UCS-2
    (70, or 67 UTF-16 units a part); the functions' domain counts the same way, exactly."""
    if all(char in _GSM7 or char in _GSM7_EXTENSION for char in body):
        units = sum(2 if char in _GSM7_EXTENSION else 1 for char in body)
        single, part = 160, 153
    else:
        units = len(body.encode("utf-16-le")) // 2
        single, part = 70, 67
    return 1 if units <= single else -(-units // part)


def text_kind(dedup_key: str | None) -> str:
    """The kind of a text from its Context.dedupKey (optin.domain.contact's key formats)."""
    key = dedup_key or ""
    if key.startswith("reply:"):
        return "reply"
    for suffix, kind in ((":confirmation", "confirmation"), (":welcome", "welcome")):
        if key.endswith(suffix):
            return kind
    if ":resend:" in key:
        return "confirmation (resent)"
    return "text"


def reply_class(body: str, confirm_keywords: Iterable[str] = DEFAULT_CONFIRM_KEYWORDS) -> str:
    """What kind of reply this is, without its words: a body is the sender's own text."""
    words = re.sub(r"[^\w\s-]", " ", body).upper().replace("-", "").split()
    if words and (words[0] in OPT_OUT_WORDS or words[:2] == ["OPT", "OUT"]):
        return "opt-out keyword"
    phrase = " ".join(words)
    if phrase in HELP_WORDS:
        return "help keyword"
    if phrase in START_WORDS:
        return "start keyword"
    if phrase in {k.strip().upper() for k in confirm_keywords if k.strip()}:
        return "confirm keyword"
    return f"other text ({len(body)} chars)"


def _json_object(raw: bytes) -> dict[str, Any]:
    try:
        value = json.loads(raw or b"null")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _request_phone(body: bytes) -> str | None:
    as_json = _json_object(body)
    if "phoneNumber" in as_json:
        return str(as_json["phoneNumber"])
    form = parse_qs(body.decode("utf-8", "replace"))
    return (form.get("phoneNumber") or [None])[-1]


def _error_name(error: BaseException) -> str:
    return str(getattr(error, "error_type", None) or getattr(error, "error", None) or "Error")


# --- the console ---


class Console:
    """Writes the readable lines; thread-safe (handlers, the engine and the sandbox all call)."""

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        confirm_keywords: Iterable[str] = DEFAULT_CONFIRM_KEYWORDS,
        log_path: Path | None = None,
    ) -> None:
        self.stream = stream if stream is not None else sys.stdout
        self.confirm_keywords = tuple(confirm_keywords)
        self.log_path = log_path
        self._lock = threading.Lock()

    def say(self, text: str) -> None:
        line = f"{time.strftime('%H:%M:%S')} {mask_numbers(text)}\n"
        with self._lock:
            try:
                self.stream.write(line)
            except UnicodeEncodeError:
                # A terminal without UTF-8: the arrows become "?", the line still shows.
                encoding = getattr(self.stream, "encoding", None) or "ascii"
                self.stream.write(line.encode(encoding, "replace").decode(encoding))
            self.stream.flush()

    def api_answered(
        self, method: str, resource: str, request_body: bytes, status: int, response_body: bytes
    ) -> None:
        if method == "POST" and resource.rstrip("/").endswith("/signups"):
            answer = _json_object(response_body)
            phone = answer.get("phoneNumber") or _request_phone(request_body)
            error = answer.get("error")
            outcome = str(
                answer.get("status")
                or (error.get("code") if isinstance(error, dict) else error)
                or answer.get("message")
                or ""
            )
            line = f"sign-up {mask(phone)} → {status} {outcome}".rstrip()
            if registration := answer.get("registrationId"):
                line += f" reg {str(registration)[:4]}…"
            self.say(line)
        elif status >= 500:
            self.say(f"error {method} {resource} → {status}")

    def text_sent(self, destination: str, dedup_key: str | None, body: str) -> None:
        parts = segments(body)
        kind = text_kind(dedup_key)
        self.say(f"text → {mask(destination)} {kind} ({parts} segment{'s' * (parts != 1)})")

    def reply_received(self, sender: str, body: str) -> None:
        self.say(f"reply ← {mask(sender)} {reply_class(body, self.confirm_keywords)}")

    def execution_ended(self, machine: str, name: str, status: str, error: str | None) -> None:
        suffix = f" ({error})" if error else ""
        self.say(f"execution {machine} {name[:8]}… {status}{suffix}")

    def lambda_failed(self, function: str, error: BaseException) -> None:
        where = f" — details in {self.log_path}" if self.log_path else ""
        self.say(f"error {function.rsplit(':function:', 1)[-1]}: {_error_name(error)}{where}")


_current: Console | None = None


def install(console: Console | None) -> None:
    """Make `console` the one the hooks report to (None: report nowhere)."""
    global _current
    _current = console


def _report(method: str, *args: Any) -> None:
    console = _current
    if console is None:
        return
    try:
        getattr(console, method)(*args)
    except Exception:  # a terminal line is never worth a failed request
        logging.getLogger("local.console").debug("console line failed", exc_info=True)


def api_answered(
    method: str, resource: str, request_body: bytes, status: int, response_body: bytes
) -> None:
    _report("api_answered", method, resource, request_body, status, response_body)


def text_sent(destination: str, dedup_key: str | None, body: str) -> None:
    _report("text_sent", destination, dedup_key, body)


def reply_received(sender: str, body: str) -> None:
    _report("reply_received", sender, body)


# --- Lambda errors ---


class ReportingLambdaRunner(LambdaRunner):
    """The runner, with a terminal line for each failed invocation (the caller still gets the
    error; its full text goes to the log file)."""

    def __init__(self, app: Application, base_env: dict[str, str], **kwargs: Any) -> None:
        self.console: Console | None = kwargs.pop("console", None)
        super().__init__(app, base_env, **kwargs)

    def invoke(self, function_name: str, payload: Any) -> Any:
        try:
            return super().invoke(function_name, payload)
        except (LambdaFunctionError, LambdaServiceError) as error:
            # Marked so that the runtime's own log record of the same error is not shown again.
            error._console_reported = True  # type: ignore[attr-defined]
            logging.getLogger("local.lambda").error(
                "%s failed: %s", function_name, error, extra={"console_shown": True}
            )
            if self.console is not None:
                self.console.lambda_failed(function_name, error)
            raise


# --- logging: the file, and the few records the terminal shows ---


class JsonFormatter(logging.Formatter):
    """One JSON object per line, as the functions' Powertools lines are: `jq` reads the file."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "thread": record.threadName,
        }
        if record.exc_info:
            entry["exception"] = "".join(traceback.format_exception(*record.exc_info))
        return json.dumps(entry, default=str)


class ConsoleLogHandler(logging.Handler):
    """Warnings of the runtime (and errors of the libraries under it) as one masked line."""

    def __init__(self, console: Console) -> None:
        super().__init__(logging.WARNING)
        self.console = console

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "console_shown", False):
            return False
        if any(getattr(arg, "_console_reported", False) for arg in _args(record)):
            return False
        own = record.name == "local" or record.name.startswith("local.")
        # uvicorn warns of every malformed request a scanner sends: the file has them.
        return own or record.levelno >= logging.ERROR

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage().splitlines()[0] if record.getMessage() else ""
            self.console.say(f"{record.levelname.lower()} {message}")
        except Exception:
            self.handleError(record)


def _args(record: logging.LogRecord) -> tuple[Any, ...]:
    args = record.args
    if isinstance(args, tuple):
        return args
    return (args,) if args is not None else ()


class Session:
    """The logging of one runtime run: where records and the functions' output go."""

    def __init__(
        self,
        data_dir: Path,
        *,
        verbose: bool = False,
        level: str = "INFO",
        stream: TextIO | None = None,
        echo: TextIO | None = None,
        confirm_keywords: Iterable[str] = DEFAULT_CONFIRM_KEYWORDS,
    ) -> None:
        self.log_path = data_dir / LOG_FILE_NAME
        self.verbose = verbose
        self.echo = echo if echo is not None else sys.stderr
        self.console = Console(stream, confirm_keywords=confirm_keywords, log_path=self.log_path)
        # Appended to by this process and by every worker (O_APPEND: whole lines interleave).
        self._file: IO[bytes] = open(self.log_path, "ab", buffering=0)  # noqa: SIM115
        self._handlers: list[logging.Handler] = []
        self._tee: threading.Thread | None = None
        self._tee_write: int | None = None
        root = logging.getLogger()
        root.setLevel(level.upper())
        file_handler = logging.FileHandler(self.log_path, encoding="utf-8")
        file_handler.setFormatter(JsonFormatter())
        self._handlers.append(file_handler)
        if verbose:
            echo_handler = logging.StreamHandler(self.echo)
            echo_handler.setFormatter(JsonFormatter())
            self._handlers.append(echo_handler)
        else:
            self._handlers.append(ConsoleLogHandler(self.console))
        for handler in list(root.handlers):
            root.removeHandler(handler)  # basicConfig's stderr handler, if any
        for handler in self._handlers:
            root.addHandler(handler)
        install(self.console)

    @property
    def function_output(self) -> IO[bytes] | int:
        """What LambdaRunner(output=…) gets: the log file, or in verbose mode a pipe whose lines
        go to the log file and to the terminal."""
        if not self.verbose:
            return self._file
        if self._tee_write is None:
            read_end, self._tee_write = os.pipe()
            self._tee = threading.Thread(
                target=self._copy, args=(read_end,), name="function-output", daemon=True
            )
            self._tee.start()
        return self._tee_write

    def _copy(self, read_end: int) -> None:
        with os.fdopen(read_end, "rb", buffering=0) as pipe:
            for line in iter(pipe.readline, b""):
                self._file.write(line)
                try:
                    self.echo.write(line.decode("utf-8", "replace"))
                    self.echo.flush()
                except (OSError, ValueError):
                    pass  # the terminal went away; the file still gets every line

    def close(self) -> None:
        install(None)
        root = logging.getLogger()
        for handler in self._handlers:
            root.removeHandler(handler)
            handler.close()
        if self._tee_write is not None:
            os.close(self._tee_write)
        self._file.close()


# --- executions ending (the embedded engine) ---


class ExecutionWatcher:
    """A line when an execution of the embedded engine ends, read from its store once a
    second (read-only: the engine's own connection is never shared)."""

    def __init__(self, db_path: Path, console: Console) -> None:
        self.db_path = db_path
        self.console = console
        self._since = time.time()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="execution-watcher", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _loop(self) -> None:
        conn: sqlite3.Connection | None = None
        while not self._stop.wait(EXECUTION_POLL_SECONDS):
            try:
                if conn is None:
                    conn = engine_store.open_read_only(self.db_path)
                self.poll(conn)
            except sqlite3.Error:
                continue  # busy or not created yet: next second
        if conn is not None:
            conn.close()

    def poll(self, conn: sqlite3.Connection) -> None:
        for machine, name, status, error, stop in engine_store.executions_ended_since(
            conn, self._since
        ):
            self._since = max(self._since, stop)
            self.console.execution_ended(machine, name, status, error)
