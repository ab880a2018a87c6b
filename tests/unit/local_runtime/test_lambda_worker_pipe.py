"""The worker's side of the pipes (local/runtime/lambda_worker.py), driven directly: requests
are read by the thread that runs them, and the runtime's hang-up ends the worker even while a
handler runs."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from local.runtime.lambdas import WORKER_SCRIPT

HANDLERS = """
import time

def echo(event, context):
    return {"size": len(event["blob"]), "head": event["blob"][:3], "tail": event["blob"][-3:]}

def slow(event, context):
    time.sleep(30)
"""


class Worker:
    def __init__(self, code: Path, handler: str) -> None:
        request_read, self.requests = os.pipe()
        self.responses, response_write = os.pipe()
        env = {
            "PATH": os.environ.get("PATH", ""),
            "LAMBDA_TASK_ROOT": str(code),
            "_HANDLER": handler,
            "AWS_LAMBDA_FUNCTION_NAME": "Test",
        }
        self.process = subprocess.Popen(
            [sys.executable, "-u", str(WORKER_SCRIPT), str(request_read), str(response_write)],
            env=env,
            pass_fds=(request_read, response_write),
        )
        os.close(request_read)
        os.close(response_write)
        assert json.loads(self.line()) == {"ready": True}

    def send(self, event: object) -> None:
        data = json.dumps({"requestId": "r1", "event": event, "remainingMs": 60_000}).encode()
        view = memoryview(data + b"\n")
        while view:
            view = view[os.write(self.requests, view) :]

    def line(self) -> bytes:
        chunks = []
        while not chunks or not chunks[-1].endswith(b"\n"):
            chunk = os.read(self.responses, 1 << 16)
            assert chunk, "the worker closed its response pipe"
            chunks.append(chunk)
        return b"".join(chunks)

    def close(self) -> None:
        for fd in (self.requests, self.responses):
            with contextlib.suppress(OSError):
                os.close(fd)
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()


@pytest.fixture
def code(tmp_path: Path) -> Path:
    (tmp_path / "handlers.py").write_text(HANDLERS)
    return tmp_path


@pytest.fixture
def worker(code: Path) -> Iterator[Worker]:
    w = Worker(code, "handlers.echo")
    yield w
    w.close()


def test_a_large_event_split_over_many_reads_arrives_whole(worker: Worker) -> None:
    blob = "abc" + "x" * (3 * 1024 * 1024) + "xyz"  # far beyond a pipe's 64 KiB buffer

    worker.send({"blob": blob})

    assert json.loads(worker.line())["result"] == {
        "size": len(blob),
        "head": "abc",
        "tail": "xyz",
    }


def test_requests_one_after_another_each_get_their_answer(worker: Worker) -> None:
    for blob in ("one", "two", "three"):
        worker.send({"blob": blob})
        assert json.loads(worker.line())["result"]["size"] == len(blob)


def test_the_runtime_hanging_up_ends_the_worker_mid_invocation(code: Path) -> None:
    worker = Worker(code, "handlers.slow")
    try:
        worker.send({})
        time.sleep(0.3)  # the handler is asleep in its 30 s
        os.close(worker.requests)
        worker.process.wait(timeout=5)
        assert worker.process.returncode == 0
    finally:
        worker.close()
