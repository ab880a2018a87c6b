"""The README's shell commands work when pasted, as a new user pastes them.

Each ```sh block of README.md is run with `bash -c` (under `set -e -o pipefail`, so every
command in it must succeed, not only the last) against a runtime started as `make run` starts
it, on a free port substituted for 8000, in an environment with only PATH (the venv's bin
first) and an empty HOME: no region, no credentials, no ~/.aws but what the README's own lines
give. A README command that cannot be pasted fails here.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.runtime import REPO_ROOT, LocalRuntime

README = REPO_ROOT / "README.md"
VENV_BIN = Path(sys.executable).parent
STATE_MACHINE_ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:RegistrationStateMachine"

# Blocks not run here, each for a reason: `make run` is what the fixture starts (and blocks),
# `make test` is this suite.
NOT_RUN = {("make run", "make test")}


def fenced_blocks(text: str, language: str | None) -> list[str]:
    """The contents of the fenced blocks tagged `language` (None: untagged blocks)."""
    blocks: list[str] = []
    current: list[str] | None = None
    tag: str | None = None
    for line in text.splitlines():
        if current is None and line.startswith("```"):
            current, tag = [], line[3:].strip() or None
        elif current is not None and line.strip() == "```":
            if tag == language:
                blocks.append("\n".join(current) + "\n")
            current = None
        elif current is not None:
            current.append(line)
    return blocks


def command_heads(block: str) -> tuple[str, ...]:
    """The first two words of each command line (comments and continuations left out)."""
    heads = []
    for line in block.splitlines():
        code = line.split("#", 1)[0].strip()
        if code and not line.startswith((" ", "\t")):
            heads.append(" ".join(code.split()[:2]))
    return tuple(heads)


def readme_shell_blocks() -> list[str]:
    return fenced_blocks(README.read_text(encoding="utf-8"), "sh")


def runnable_blocks() -> list[str]:
    return [b for b in readme_shell_blocks() if command_heads(b) not in NOT_RUN]


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRuntime]:
    # As the README's banner shows it: the confirmation window overridden to 120 s.
    rt = LocalRuntime(
        tmp_path_factory.mktemp("readme") / "runtime",
        parameters={"ConfirmationWindowSeconds": "120"},
        dynamodb="",  # the README's default: SQLite, whatever TEST_DYNAMODB says
    )
    rt.start()
    try:
        yield rt
    finally:
        rt.stop()


def pasted(block: str, rt: LocalRuntime, home: Path) -> subprocess.CompletedProcess[str]:
    script = block.replace("127.0.0.1:8000", f"127.0.0.1:{rt.port}")
    return subprocess.run(
        ["bash", "-c", "set -e -o pipefail\n" + script],
        cwd=REPO_ROOT,
        env={"PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}", "HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_readme_has_the_blocks_this_test_expects() -> None:
    blocks = readme_shell_blocks()
    # Exactly the two commands are skipped; every other block is run below.
    assert [command_heads(b) for b in blocks if command_heads(b) in NOT_RUN] == [
        ("make run", "make test")
    ]
    assert len(runnable_blocks()) >= 2
    text = "\n".join(runnable_blocks())
    assert "--endpoint-url http://127.0.0.1:8000 stepfunctions" in text
    assert "curl " in text and "import boto3" in text
    assert "python -m local invoke" in text


@pytest.mark.parametrize("index", range(len(runnable_blocks())))
def test_each_readme_block_works_when_pasted(
    index: int, runtime: LocalRuntime, tmp_path: Path
) -> None:
    block = runnable_blocks()[index]
    done = pasted(block, runtime, tmp_path)
    assert done.returncode == 0, f"{block}\n--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"
    # What each command is for shows in its output, not only a zero exit status.
    if "stepfunctions list-executions" in block:
        assert '"executions"' in done.stdout
    if "curl " in block and "/signups" in block:
        assert '"registrationId"' in done.stdout
    if "import boto3" in block:
        assert STATE_MACHINE_ARN in done.stdout
    if "local invoke SignupFunction" in block:
        assert '"statusCode": 200' in done.stdout
    if "local users" in block:
        assert "Added dana as viewer." in done.stdout and "Removed dana." in done.stdout
        assert '"code": "unauthenticated"' in done.stdout


def test_the_aws_cli_without_the_export_line_is_what_the_readme_fixes(
    runtime: LocalRuntime, tmp_path: Path
) -> None:
    # The test's environment really lacks region and credentials: the same command fails
    # without the export line (so the passing test above is owed to the README's line).
    block = next(b for b in runnable_blocks() if "stepfunctions list-executions" in b)
    without = "\n".join(line for line in block.splitlines() if not line.startswith("export "))
    done = pasted(without, runtime, tmp_path)
    assert done.returncode != 0
    assert "region" in done.stderr.lower() or "credentials" in done.stderr.lower()


def test_the_readme_export_line_is_the_one_the_banner_prints(runtime: LocalRuntime) -> None:
    banner_exports = [
        line.strip() for line in runtime.log().splitlines() if line.strip().startswith("export ")
    ]
    assert banner_exports, runtime.log()
    readme_exports = [
        line.strip()
        for block in runnable_blocks()
        for line in block.splitlines()
        if line.startswith("export ")
    ]
    assert readme_exports == [banner_exports[-1]]


def test_the_readme_banner_is_what_make_run_prints(runtime: LocalRuntime) -> None:
    shown = next(
        b for b in fenced_blocks(README.read_text("utf-8"), None) if "Local runtime ready" in b
    )
    printed = runtime.log().replace(f"127.0.0.1:{runtime.port}", "127.0.0.1:8000").splitlines()
    for line in shown.splitlines():
        if "…" in line or "/path/to/" in line:
            continue  # elided, or this machine's paths
        assert line in printed, f"README shows {line!r}, the runtime does not print it"


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        (
            ["run", "PORT=8123", "ARGS=--parameter-overrides ConfirmationWindowSeconds=120"],
            "-m local --port 8123 --parameter-overrides ConfirmationWindowSeconds=120",
        ),
        (
            ["invoke", "FN=SignupFunction", "EVENT=events/signup-get-disclosure.json"],
            "-m local invoke SignupFunction -e events/signup-get-disclosure.json",
        ),
    ],
)
def test_make_passes_the_readme_options_through(target: list[str], expected: str) -> None:
    done = subprocess.run(
        ["make", "-n", "--no-print-directory", *target],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert expected in " ".join(done.stdout.replace("\\\n", " ").split())


def test_make_invoke_without_a_function_says_how() -> None:
    done = subprocess.run(
        ["make", "--no-print-directory", "-o", ".venv/.installed", "invoke"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "usage: make invoke FN=FunctionName" in done.stderr
