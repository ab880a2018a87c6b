"""moto's server in its own process: a DynamoDB endpoint for the local runtime's tests.

A separate process, not moto's ThreadedMotoServer inside pytest, because the durability
tests kill -9 the runtime and start it again: moto keeps its tables in memory, so they must
live in a process that neither the runtime nor its restart touches. It is also what a
developer runs by hand (`python -m moto.server -p PORT`), so the tests exercise that setup.
"""

from __future__ import annotations

import atexit
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from tests.support.aws import local_client
from tests.support.runtime import free_port


class MotoServer:
    def __init__(self, log_path: Path) -> None:
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 20.0) -> MotoServer:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        atexit.register(self.stop)  # a test run that dies early leaves no server behind
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"moto server exited early:\n{self.log()}")
            if self._answers():
                return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"moto server not answering after {timeout} s:\n{self.log()}")

    def _answers(self) -> bool:
        try:
            # moto's own management API: answers as soon as the server serves anything.
            with urllib.request.urlopen(self.endpoint + "/moto-api/data.json", timeout=1):
                return True
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def dynamodb(self) -> Any:
        """A client on this server, with the runtime's region and dummy credentials."""
        return local_client("dynamodb", self.endpoint)

    def __enter__(self) -> MotoServer:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()
