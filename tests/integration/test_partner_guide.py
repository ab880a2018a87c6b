"""docs/partner-api.md works as a partner pastes it: its ```sh blocks run in order, in one
bash, against a fresh local runtime (port and data dir substituted), each under
`set -e -o pipefail`, and each prints what the guide says it does. Its ```python signature
check accepts our signature and refuses a forged, altered or old one."""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.test_readme_commands import fenced_blocks
from tests.support.runtime import REPO_ROOT, LocalRuntime

GUIDE = REPO_ROOT / "docs" / "partner-api.md"
VENV_BIN = Path(sys.executable).parent
MARK = "=== block "
SIGNUP_ID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def blocks(language: str | None) -> list[str]:
    return fenced_blocks(GUIDE.read_text(encoding="utf-8"), language)


@pytest.fixture(scope="module")
def guide_runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRuntime]:
    rt = LocalRuntime(tmp_path_factory.mktemp("guide") / "runtime", dynamodb="")
    rt.start()
    try:
        yield rt
    finally:
        rt.stop()


@pytest.fixture(scope="module")
def outputs(guide_runtime: LocalRuntime, tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """What each block printed, the blocks run in order in one shell (they share KEY, ID)."""
    rt = guide_runtime
    script = ["set -e -o pipefail"]
    for index, block in enumerate(blocks("sh")):
        script += [f"printf '\\n{MARK}{index}\\n'", block]
    text = "\n".join(script).replace("127.0.0.1:8000", f"127.0.0.1:{rt.port}")
    text = text.replace("-m local keys ", f"-m local keys --data-dir {rt.data_dir} ")
    done = subprocess.run(
        ["bash", "-c", text],
        cwd=REPO_ROOT,
        env={
            "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            "HOME": str(tmp_path_factory.mktemp("home")),
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, f"{text}\n--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"
    printed = re.split(rf"^{MARK}\d+$", done.stdout, flags=re.M)[1:]
    assert len(printed) == len(blocks("sh"))
    return printed


def block_output(outputs: list[str], says: str) -> str:
    """The output of the one block whose text contains `says`."""
    found = [i for i, block in enumerate(blocks("sh")) if says in block]
    assert len(found) == 1, f"{says!r} is in blocks {found}"
    return outputs[found[0]]


def test_the_guide_has_every_step() -> None:
    text = "\n".join(blocks("sh"))
    for step in ("keys create", "POST", "Idempotency-Key", "DELETE", "phoneNumber=%2B", "jq"):
        assert step in text, step
    assert len(blocks("sh")) >= 6 and len(blocks("python")) == 1


def test_a_key_from_the_cli_works_and_no_key_or_a_bad_one_is_refused(outputs: list[str]) -> None:
    assert "Acme checkout" in block_output(outputs, "keys create")
    auth = block_output(outputs, "optin_nope").strip().splitlines()
    assert auth[0] == '{"message": "Forbidden"}'
    assert '"invalid_api_key"' in auth[1]
    assert auth[2] == "3.1.0"


def test_a_sign_up_is_read_and_found_by_number(outputs: list[str]) -> None:
    made = block_output(outputs, 'echo "$ANSWER"')
    assert re.search(rf'"id": "({SIGNUP_ID})", "status": "PENDING"', made), made
    signup_id = re.search(SIGNUP_ID, made)
    assert signup_id
    read = block_output(outputs, "jq -r '.signups[].id'").split()
    assert read == ["PENDING", signup_id[0]]


def test_a_retry_replays_and_another_body_is_409(outputs: list[str]) -> None:
    retried = block_output(outputs, "grep -i -e '^HTTP' -e replayed")
    assert re.search(r"^HTTP/1.1 202", retried, re.M), retried
    assert re.search(r"^idempotent-replayed: true", retried, re.M | re.I), retried
    assert '"idempotency_key_reused"' in retried


def test_the_opt_out_and_an_error(outputs: list[str]) -> None:
    assert block_output(outputs, "-X DELETE").strip() == "OPTED_OUT"
    refused = block_output(outputs, "+12065550149")
    assert '"code": "consent_required"' in refused and '"field": "consent"' in refused


def test_a_webhook_is_set_tested_and_logged(outputs: list[str]) -> None:
    printed = block_output(outputs, "/v1/webhook/test").strip().splitlines()
    assert printed[0] == "whsec_…"  # the secret, shown once, not printed whole
    assert re.fullmatch(r"[0-9a-f]{32}", printed[1]), printed
    assert printed[2] == "webhook.test pending"


def test_the_webhook_section_links_the_webhook_guide() -> None:
    section = GUIDE.read_text(encoding="utf-8").split("## 9. Webhooks", 1)[1]
    assert "](webhooks.md)" in section and (GUIDE.parent / "webhooks.md").is_file()


def test_every_request_in_the_guide_is_in_a_block_that_runs() -> None:
    # No example request hides in a block this test does not run.
    for language in ("text", "json", "bash", "http", "console", None):
        for block in blocks(language):
            assert "curl " not in block and "http://127.0.0.1" not in block, block


def _verify() -> Any:
    namespace: dict[str, Any] = {}
    exec(compile(blocks("python")[0], str(GUIDE), "exec"), namespace)
    return namespace["verify"]


def sign(secret: str, body: bytes, at: int) -> str:
    mac = hmac.new(secret.encode(), f"{at}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={at},v1={mac}"


def test_the_guides_signature_check() -> None:
    verify = _verify()
    secret, body, now = (
        "whsec_test",
        b'{"id": "evt_1", "type": "signup.confirmed"}',
        int(time.time()),
    )
    assert verify(secret, sign(secret, body, now), body)
    assert not verify(secret, sign("whsec_other", body, now), body)
    assert not verify(secret, sign(secret, body, now), body + b" ")
    assert not verify(secret, sign(secret, body, now - 301), body)
    assert not verify(secret, "v1=abc", body)
    assert not verify(secret, "t=soon,v1=abc", body)
