"""Starts the local runtime as a subprocess, the way `make run` does, for end-to-end tests."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

from tests.support.aws import local_client

if TYPE_CHECKING:
    from tests.support.moto_server import MotoServer

REPO_ROOT = Path(__file__).resolve().parents[2]
T = TypeVar("T")
# What the end-to-end tests run with unless they say otherwise: no CAPTCHA to solve and no
# rate limits to trip over. tests/integration/test_defences_e2e.py turns them back on.
TESTS_DEFENCES_OFF = {"CaptchaRequired": "false", "SignupRateLimits": "off"}
DEFENCES_ON = {"CaptchaRequired": "true", "SignupRateLimits": "on"}


def _declared(root: Path, parameters: dict[str, str]) -> dict[str, str]:
    """The parameters `root`'s template declares (a benchmark's older checkout may predate
    some, and the runtime refuses an unknown override)."""
    text = (root / "template.yaml").read_text()
    return {name: value for name, value in parameters.items() if f"\n  {name}:" in text}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# Every start of a runtime in this session, as (test module, seconds until ready): start-ups
# are what end-to-end tests spend most of their time on, so the session's summary counts them.
STARTS: list[tuple[str, float]] = []


class LocalRuntime:
    """`python -m local` on a free port and its own data dir.

    dynamodb: None keeps contacts where local/env.json says (SQLite); "moto" starts a moto
    server for this runtime (it outlives kill() and restart(), as a real endpoint would, and
    stop() stops it); a URL passes --dynamodb-endpoint URL. Unset, it is read from
    TEST_DYNAMODB, so `TEST_DYNAMODB=moto pytest tests/workflow` runs a suite in that mode.
    """

    def __init__(
        self,
        data_dir: Path,
        parameters: dict[str, str] | None = None,
        env: dict[str, str] | None = None,
        dynamodb: str | None = None,
        root: Path = REPO_ROOT,
        env_vars: Path | None = None,
    ) -> None:
        self.data_dir = data_dir
        # The checkout whose runtime runs (benchmarks start an older one beside this one).
        self.root = root
        # The pumping defences are on by default in the runtime, as on AWS; tests that are
        # not about them turn them off (a test's own parameters win). README, "Tests".
        self.parameters = {**_declared(root, TESTS_DEFENCES_OFF), **(parameters or {})}
        self.env = env or {}
        # Another `--env-vars` file than local/env.json (the functions' own variables).
        self.env_vars = env_vars
        self.dynamodb = dynamodb if dynamodb is not None else os.environ.get("TEST_DYNAMODB")
        self.moto: MotoServer | None = None
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None
        # What the runtime prints to its terminal; it writes its own runtime.log beside it, so
        # the two streams never interleave in one file.
        self.log_path = data_dir / "terminal.log"
        self.starts = 0

    # --- lifecycle ---

    @property
    def dynamodb_endpoint(self) -> str | None:
        """The --dynamodb-endpoint this runtime runs with (None: SQLite, or not started)."""
        if self.dynamodb == "moto":
            return self.moto.endpoint if self.moto else None
        return self.dynamodb or None

    def _start_moto(self) -> None:
        if self.dynamodb == "moto" and self.moto is None:
            from tests.support.moto_server import MotoServer

            self.moto = MotoServer(self.data_dir / "moto.log").start()

    def start(self, env: dict[str, str] | None = None) -> LocalRuntime:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._start_moto()
        overrides = [f"{k}={v}" for k, v in self.parameters.items()]
        command = [sys.executable, "-m", "local", "--port", str(self.port)]
        command += ["--data-dir", str(self.data_dir)]
        if self.dynamodb_endpoint:
            command += ["--dynamodb-endpoint", self.dynamodb_endpoint]
        if self.env_vars is not None:
            command += ["--env-vars", str(self.env_vars)]
        if overrides:
            command += ["--parameter-overrides", *overrides]
        self.starts += 1
        log = self.log_path.open("ab")
        log.write(f"\n=== start {self.starts} ===\n".encode())
        log.flush()
        self.process = subprocess.Popen(
            command,
            cwd=self.root,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **self.env, **(env or {})},
        )
        began = time.monotonic()
        deadline = began + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.stop()  # its moto server, which no fixture's finally would stop
                raise RuntimeError(f"runtime exited early:\n{self.log()}")
            if self._ready():
                test = os.environ.get("PYTEST_CURRENT_TEST", "?").split("::", 1)[0]
                STARTS.append((test, time.monotonic() - began))
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"runtime not ready after 30 s:\n{self.log()}")

    def _ready(self) -> bool:
        marker = f"=== start {self.starts} ==="
        text = self.log_path.read_text(errors="replace")
        return "Local runtime ready" in text.rsplit(marker, 1)[-1]

    def kill(self) -> None:
        """SIGKILL: no clean-up, no flush: what a crash or a pulled plug does."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()
        if self.moto is not None:
            self.moto.stop()

    def restart(self, env: dict[str, str] | None = None) -> LocalRuntime:
        self.kill()
        return self.start(env)

    def terminal(self) -> str:
        """What the runtime printed to its terminal."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log(self) -> str:
        """The terminal output, then the runtime's own structured log file."""
        parts = [self.log_path, self.data_dir / "runtime.log"]
        return "\n".join(p.read_text(errors="replace") for p in parts if p.exists())

    def __enter__(self) -> LocalRuntime:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    # --- HTTP ---

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        headers: dict[str, str] | None = None,
        raw: bytes | None = None,
    ) -> tuple[int, dict[str, str], Any]:
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        all_headers = {"Content-Type": "application/json"} if body is not None else {}
        all_headers.update(headers or {})
        request = urllib.request.Request(
            self.base_url + path, data=data, method=method, headers=all_headers
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                status, response_headers, text = (
                    response.status,
                    dict(response.headers),
                    response.read(),
                )
        except urllib.error.HTTPError as error:
            status, response_headers, text = error.code, dict(error.headers), error.read()
        try:
            parsed: Any = json.loads(text) if text else None
        except ValueError:
            parsed = text.decode(errors="replace")
        return status, response_headers, parsed

    def get(self, path: str) -> tuple[int, Any]:
        status, _, body = self.request("GET", path)
        return status, body

    def post(self, path: str, body: Any, headers: dict[str, str] | None = None) -> tuple[int, Any]:
        status, _, parsed = self.request("POST", path, body, headers)
        return status, parsed

    # --- conveniences for tests ---

    def signup(self, phone: str, first_name: str = "Ada", **extra: Any) -> tuple[int, Any]:
        return self.post(
            "/signups",
            {"firstName": first_name, "phoneNumber": phone, "consent": True, **extra},
            {"User-Agent": "pytest"},
        )

    def text_in(self, phone: str, body: str) -> str:
        status, response = self.post("/sandbox/inbound", {"from": phone, "body": body})
        assert status == 202, response
        return str(response["inboundMessageId"])

    def messages(self, phone: str, direction: str | None = None) -> list[dict[str, Any]]:
        status, body = self.get("/sandbox/messages?phoneNumber=" + quote(phone, safe=""))
        assert status == 200, body
        found = body["messages"]
        return [m for m in found if direction is None or m["direction"] == direction]

    def contact(self, phone: str) -> dict[str, Any] | None:
        status, body = self.get("/sandbox/contacts/" + quote(phone, safe=""))
        if status == 404:
            return None
        assert status == 200, body
        return dict(body)

    def sfn(self) -> Any:
        return local_client("stepfunctions", self.base_url)

    def sms(self) -> Any:
        return local_client("pinpoint-sms-voice-v2", self.base_url)


def wait_for(
    probe: Callable[[], T | None], timeout: float = 15.0, interval: float = 0.1, what: str = ""
) -> T:
    """Polls until probe returns something truthy; the system under test is asynchronous."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what or probe}; last={last!r}")
