"""docs/cli.md's shell blocks run as pasted, in order, in one shell (`set -e -o pipefail`),
with the installed `optin` first on PATH, against a fresh local runtime: PORT and
OPTIN_DATA_DIR point at it, as `make run`'s defaults would for a user."""

from __future__ import annotations

import csv
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.test_readme_commands import fenced_blocks
from tests.support.cli import Optin
from tests.support.runtime import REPO_ROOT, LocalRuntime

DOC = REPO_ROOT / "docs" / "cli.md"


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRuntime]:
    rt = LocalRuntime(tmp_path_factory.mktemp("cli-docs") / "runtime", dynamodb="")
    rt.start()
    try:
        yield rt
    finally:
        rt.stop()


def test_every_shell_block_of_the_cli_page_runs(
    runtime: LocalRuntime, optin_cli: Optin, tmp_path: Path
) -> None:
    blocks = fenced_blocks(DOC.read_text(encoding="utf-8"), "sh")
    assert len(blocks) >= 5
    optin = optin_cli
    work = tmp_path / "work"
    work.mkdir()
    # The page's Pinpoint example imports "your" export file: the repository's sample.
    shutil.copy(REPO_ROOT / "tests/fixtures/cli/pinpoint-endpoints.json", work / "endpoints.json")
    env = {
        "PATH": f"{optin.exe.parent}:{Path(sys.executable).parent}:/usr/bin:/bin",
        "PYTHONPATH": optin.env["PYTHONPATH"],
        "HOME": str(tmp_path),
        "PORT": str(runtime.port),
        "OPTIN_DATA_DIR": str(runtime.data_dir),
    }
    script = "set -e -o pipefail\n" + "\n".join(
        f"echo '=== block {n}'\n{block}" for n, block in enumerate(blocks)
    )
    done = subprocess.run(
        ["bash", "-c", script], cwd=work, env=env, capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    out = done.stdout
    assert f"=== block {len(blocks) - 1}" in out  # every block ran
    assert "PENDING" in out  # the sign-up
    assert "sent from +12065550123" in out  # the sandbox reply
    rejected = list(csv.DictReader((work / "rejects.csv").open()))
    assert [(r["line"], r["error"]) for r in rejected] == [
        ("3", "invalid_ip"),
        ("4", rejected[1]["error"]),
    ]
    assert "accepted: 1" in out and "rejected: 2" in out
    assert "confirmed: 2, opted_out: 1" in out  # the first Pinpoint import
    assert (work / "contacts.csv").read_text().startswith("registrationId,")
    assert "Added ana as agent." in out and "Removed ana." in out
    assert '"role": "agent"' in out  # users list --json
    assert "url:    https://partner.example/hooks/optin" in out
    assert len(re.findall(r"^secret: whsec_", out, re.M)) == 2  # first set, then --rotate
    assert re.search(r"^queued test delivery [0-9a-f]{32}$", out, re.M)
    assert re.search(r"^queued [0-9a-f]{32} again \(pending\)$", out, re.M)
