"""The runtime's Lambda workers live and die with it: none survives a stop or a kill -9."""

from __future__ import annotations

import os
import threading
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
    # Every text the sandbox takes stalls 2 s before SendTextMessage answers: each sign-up's
    # SendConfirmation holds a worker that long, and a dozen of them queue behind the pool's cap.
    rt = LocalRuntime(tmp_path / "rt", env={"LOCAL_SMS_SEND_DELAY": "2"}).start()
    try:
        phone = new_us_number()
        assert rt.signup(phone)[0] == 202
        wait_for(lambda: rt.messages(phone), what="the confirmation text")
        rt.text_in(phone, "HELP")  # the inbound function is warm, as in a running system
        wait_for(lambda: len(rt.messages(phone, "outbound")) == 2, what="the first HELP reply")
        signups = [
            threading.Thread(target=rt.signup, args=(new_us_number(),), daemon=True)
            for _ in range(12)
        ]
        for thread in signups:
            thread.start()
        conversations = lambda: len(rt.get("/sandbox/conversations")[1]["conversations"])  # noqa: E731
        # Confirmation texts are going out now, each holding its SendConfirmation for 2 s.
        wait_for(lambda: conversations() >= 3, what="sign-ups texted", interval=0.05)

        started = time.monotonic()
        rt.text_in(phone, "HELP")
        wait_for(lambda: len(rt.messages(phone, "outbound")) == 3, what="the HELP reply")

        # Behind the queue, as when all functions shared one lock, it waited for the sends.
        assert time.monotonic() - started < 2
        for thread in signups:
            thread.join(30)
    finally:
        rt.stop()
