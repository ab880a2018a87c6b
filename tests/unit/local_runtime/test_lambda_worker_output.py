"""Workers share the runtime's log file: each of their lines must reach it whole."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from local.runtime import lambda_worker

WRITER = """
import json, sys
sys.path.insert(0, {root!r})
from local.runtime.lambda_worker import whole_line_output
{setup}
for i in range(3000):
    # print() writes the object and the newline separately: Powertools' metrics print so.
    print(json.dumps({{"writer": {n}, "i": i, "pad": "x" * 40}}))
"""


def run_writers(log: Path, setup: str) -> list[str]:
    root = str(Path(lambda_worker.__file__).resolve().parents[2])
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        writers = [
            subprocess.Popen(
                [sys.executable, "-u", "-c", WRITER.format(root=root, setup=setup, n=n)],
                stdout=fd,
            )
            for n in range(4)
        ]
        for writer in writers:
            assert writer.wait(timeout=60) == 0
    finally:
        os.close(fd)
    return log.read_text("utf-8").splitlines()


def test_lines_from_several_workers_reach_the_shared_file_whole(tmp_path: Path) -> None:
    lines = run_writers(tmp_path / "runtime.log", "sys.stdout = whole_line_output(1)")
    records = [json.loads(line) for line in lines]  # a torn line fails here
    assert len(records) == 4 * 3000
    for n in range(4):
        assert [r["i"] for r in records if r["writer"] == n] == list(range(3000))
