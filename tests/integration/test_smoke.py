"""tools/smoke.py against the local runtime: the same API and Step Functions API a deployed
stack serves, reached through --api-url and --sfn-endpoint (and --dynamodb-endpoint for the
ledger). Each failing path must print its ✗ and exit 1."""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType
from typing import Any

import pytest

from tests.support.runtime import REPO_ROOT, LocalRuntime, free_port, wait_for

SIMULATOR_FAILURE = "+14254147167"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("smoke", REPO_ROOT / "tools" / "smoke.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["smoke"] = module
    spec.loader.exec_module(module)
    return module


smoke = _load()


@pytest.fixture(autouse=True)
def dummy_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    # The local runtime checks SigV4's shape, not the keys; nothing may reach a real account.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "local")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "local")
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)


def run(*argv: str) -> tuple[int, str]:
    lines: list[str] = []
    code = smoke.run(smoke.parse_args(list(argv)), out=lines.append)
    return code, "\n".join(lines)


def local(rt: LocalRuntime, *extra: str) -> tuple[int, str]:
    return run(
        "--api-url", rt.base_url, "--sfn-endpoint", rt.base_url, "--timeout", "20",
        "--interval", "0.2", *extra,
    )  # fmt: skip


def marks(output: str) -> dict[str, str]:
    """Step name -> its mark, from the report lines."""
    found: dict[str, str] = {}
    for line in output.splitlines():
        mark, _, rest = line.partition(" ")
        if mark in (smoke.OK, smoke.FAIL, smoke.SKIP):
            found[rest.split(":", 1)[0]] = mark
    return found


def assert_masked(output: str, *numbers: str) -> None:
    for number in numbers:
        assert number not in output and number.lstrip("+") not in output


def test_a_sign_up_reaches_the_wait_and_the_ledger(moto_runtime: LocalRuntime) -> None:
    assert moto_runtime.dynamodb_endpoint is not None
    code, output = local(
        moto_runtime,
        "--dynamodb-endpoint", moto_runtime.dynamodb_endpoint, "--table", "ContactsTable",
    )  # fmt: skip
    assert code == 0, output
    assert marks(output) == {
        "API reachable": smoke.OK,
        "GET /disclosure 200": smoke.OK,
        "POST /signups 202": smoke.OK,
        "GET /signups/{id} PENDING": smoke.OK,
        "execution waits for YES": smoke.OK,
        "confirmation in the ledger": smoke.OK,
    }, output
    # The message id the ledger holds is the one the SMS service gave the text.
    sent = moto_runtime.messages(smoke.SIMULATOR_SUCCESS, "outbound")
    assert len(sent) == 1
    assert f"message id {sent[0]['messageId']}" in output
    assert "+1425***7755" in output
    assert_masked(output, smoke.SIMULATOR_SUCCESS)
    assert "YES path" in output  # what a person checks by hand


def test_without_a_table_the_ledger_is_not_observable_and_not_a_failure(
    shared_runtime: LocalRuntime,
) -> None:
    code, output = local(shared_runtime)
    assert code == 0, output
    assert marks(output)["confirmation in the ledger"] == smoke.SKIP
    assert marks(output)["execution waits for YES"] == smoke.OK
    assert_masked(output, smoke.SIMULATOR_SUCCESS)


def test_api_down_is_a_failure() -> None:
    code, output = run("--api-url", f"http://127.0.0.1:{free_port()}", "--http-timeout", "2")
    assert code == 1
    assert marks(output) == {"API reachable": smoke.FAIL}, output


def test_a_refused_sign_up_shows_its_error_code(shared_runtime: LocalRuntime) -> None:
    # A UK number: outside the default allow-list (US, CA), answered 400 with a code.
    uk = "+447700900123"
    code, output = local(shared_runtime, "--phone", uk)
    assert code == 1
    assert marks(output)["POST /signups 400"] == smoke.FAIL, output
    assert "country_not_allowed" in output, output
    assert_masked(output, uk)


def test_a_number_already_confirmed_is_a_failure(shared_runtime: LocalRuntime) -> None:
    code, output = local(shared_runtime, "--phone", SIMULATOR_FAILURE)
    assert code == 0, output
    shared_runtime.text_in(SIMULATOR_FAILURE, "YES")

    def confirmed() -> Any:
        contact = shared_runtime.contact(SIMULATOR_FAILURE)
        return contact and contact.get("status") == "CONFIRMED"

    wait_for(confirmed, what="the contact CONFIRMED")
    code, output = local(shared_runtime, "--phone", SIMULATOR_FAILURE)
    assert code == 1
    assert marks(output) == {
        "API reachable": smoke.OK,
        "GET /disclosure 200": smoke.OK,
        "POST /signups 200": smoke.FAIL,
    }, output
    assert "already CONFIRMED" in output
    assert_masked(output, SIMULATOR_FAILURE)


def test_an_execution_it_cannot_find_is_a_failure(shared_runtime: LocalRuntime) -> None:
    bogus = "arn:aws:states:us-east-1:123456789012:stateMachine:NotThere"
    code, output = local(
        shared_runtime, "--phone", "+12065550142", "--state-machine-arn", bogus, "--timeout", "1"
    )
    assert code == 1
    assert marks(output)["execution waits for YES"] == smoke.FAIL, output
    assert "ExecutionDoesNotExist" in output, output


def test_the_tool_only_accepts_e164_numbers() -> None:
    with pytest.raises(SystemExit):
        smoke.parse_args(["--api-url", "http://x", "--phone", "4254147755"])
    with pytest.raises(SystemExit):
        smoke.parse_args(["--phone", smoke.SIMULATOR_SUCCESS])  # neither stack nor URL


@pytest.mark.parametrize(
    ("number", "masked"),
    [("+12065550100", "+1206***0100"), ("+14254147755", "+1425***7755"), ("+1", "***")],
)
def test_mask_matches_the_functions_format(number: str, masked: str) -> None:
    assert smoke.mask(number) == masked
