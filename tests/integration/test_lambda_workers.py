"""The runtime's Lambda workers live and die with it: none survives a stop or a kill -9."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from tests.support.numbers import new_us_number
from tests.support.runtime import LocalRuntime, wait_for

pytestmark = pytest.mark.slow


def children(pid: int) -> dict[int, str]:
    """Live child processes of pid and their command lines (zombies excluded)."""
    found: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        # Fields after the parenthesised command name: state, ppid, …
        state, ppid = stat.rsplit(")", 1)[1].split()[:2]
        if int(ppid) == pid and state != "Z":
            found[int(entry.name)] = command
    return found


def alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "zombie" not in status


def workers_after_a_signup(rt: LocalRuntime) -> dict[int, str]:
    assert rt.process is not None
    phone = new_us_number()
    assert rt.signup(phone)[0] == 202
    wait_for(lambda: rt.messages(phone), what="the confirmation text")
    workers = {
        pid: command
        for pid, command in children(rt.process.pid).items()
        if "lambda_worker.py" in command
    }
    # SignupFunction, ValidateNumber, CreateContact and SendConfirmation at least.
    assert len(workers) >= 4, children(rt.process.pid)
    return workers


def test_no_worker_survives_kill_9(tmp_path: Path) -> None:
    rt = LocalRuntime(tmp_path / "rt").start()
    try:
        workers = workers_after_a_signup(rt)

        rt.kill()

        wait_for(lambda: not any(alive(pid) for pid in workers), timeout=10, what="orphans gone")
        # And the next start works as before, with new workers.
        rt.start()
        assert set(workers_after_a_signup(rt)).isdisjoint(workers)
    finally:
        rt.stop()


def test_workers_stop_with_the_runtime(tmp_path: Path) -> None:
    rt = LocalRuntime(tmp_path / "rt").start()
    workers = workers_after_a_signup(rt)

    rt.stop()

    wait_for(lambda: not any(alive(pid) for pid in workers), timeout=10, what="workers gone")


def test_each_function_runs_in_its_own_process_with_its_own_environment(
    tmp_path: Path,
) -> None:
    rt = LocalRuntime(tmp_path / "rt", env={"RUNTIME_ONLY_VARIABLE": "x"}).start()
    try:
        workers = workers_after_a_signup(rt)
        names = set()
        for pid in workers:
            environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
            env = dict(item.decode().split("=", 1) for item in environ if b"=" in item)
            assert "RUNTIME_ONLY_VARIABLE" not in env  # the runtime's own environment
            assert env["AWS_ENDPOINT_URL_SFN"] == rt.base_url
            names.add(env["AWS_LAMBDA_FUNCTION_NAME"])
        assert {"SignupFunction", "SendConfirmationFunction"} <= names
        assert os.getpid() not in workers
    finally:
        rt.stop()


def test_inbound_text_is_answered_while_sign_ups_queue(tmp_path: Path) -> None:
    rt = LocalRuntime(tmp_path / "rt").start()
    try:
        phone = new_us_number()
        assert rt.signup(phone)[0] == 202
        wait_for(lambda: rt.messages(phone), what="the confirmation text")
        for _ in range(40):
            assert rt.signup(new_us_number())[0] == 202

        started = time.monotonic()
        rt.text_in(phone, "HELP")
        wait_for(lambda: len(rt.messages(phone, "outbound")) == 2, what="the HELP reply")

        assert time.monotonic() - started < 5
    finally:
        rt.stop()
