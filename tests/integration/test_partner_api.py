"""The partner API through the local runtime's front door, with keys made by
`python -m local keys`: a partner signs a number up with its evidence, reads it, cannot read
another partner's, and a missing, unknown or revoked key is refused."""

from __future__ import annotations

import io
import re
import subprocess
import sys
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import pytest

from local.keys import main as keys_main
from tests.support.numbers import new_us_number
from tests.support.runtime import REPO_ROOT, LocalRuntime, wait_for


def keys(rt: LocalRuntime, *argv: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    where = ["--data-dir", str(rt.data_dir)]
    if rt.dynamodb_endpoint:  # TEST_DYNAMODB=moto: the runtime keeps keys in DynamoDB
        where += ["--dynamodb-endpoint", rt.dynamodb_endpoint]
    status = keys_main([*where, *argv], out, err)
    return status, out.getvalue() + err.getvalue()


def new_key(rt: LocalRuntime, name: str) -> tuple[str, str]:
    status, text = keys(rt, "create", name)
    assert status == 0, text
    found = re.search(r"key id: (\w+).*key:\s+(\S+)", text, re.S)
    assert found
    return found[1], found[2]


def evidence_body(number: str) -> dict[str, Any]:
    now = datetime.now(UTC).replace(microsecond=0).isoformat()
    return {
        "phoneNumber": number,
        "firstName": "Ana",
        "source": "checkout",
        "consent": {
            "disclosureText": "Reply YES for Acme deals. Msg & data rates may apply.",
            "disclosureVersion": "acme-3",
            "capturedAt": now,
            "ip": "203.0.113.9",
            "userAgent": "Mozilla/5.0",
            "page": "https://shop.example/checkout",
        },
    }


def call(
    rt: LocalRuntime, method: str, path: str, key: str | None, body: Any = None
) -> tuple[int, dict[str, str], Any]:
    return rt.request(method, path, body, {"x-api-key": key} if key else {})


def test_a_partner_signs_up_reads_and_is_kept_to_its_own(shared_runtime: LocalRuntime) -> None:
    rt = shared_runtime
    acme_id, acme = new_key(rt, "Acme")
    _, other = new_key(rt, "Other")
    number = new_us_number()

    status, _, made = call(rt, "POST", "/v1/signups", acme, evidence_body(number))
    assert status == 202, made
    assert made["status"] == "PENDING"
    # The same workflow as the form's: the confirmation text goes out.
    wait_for(lambda: rt.messages(number, "outbound"), timeout=20)

    status, _, view = call(rt, "GET", f"/v1/signups/{made['id']}", acme)
    assert status == 200, view
    evidence = view["ledger"][0]["details"]["evidence"]
    assert evidence["apiClient"] == acme_id and evidence["disclosure"]["version"] == "acme-3"
    status, _, found = call(rt, "GET", f"/v1/signups?phoneNumber={quote(number)}", acme)
    assert status == 200 and [s["id"] for s in found["signups"]] == [made["id"]]

    status, _, refused = call(rt, "GET", f"/v1/signups/{made['id']}", other)
    assert status == 404 and refused["error"]["code"] == "not_found"
    status, _, none = call(rt, "GET", f"/v1/signups?phoneNumber={quote(number)}", other)
    assert status == 200 and none["signups"] == []
    # Keys are never logged, and the number only masked.
    logged = rt.log()
    assert "partner sign-up" in logged  # the function's own log lines are in it
    assert acme not in logged and other not in logged and number not in logged


def test_no_key_is_api_gateways_403_and_a_bad_key_the_functions(
    shared_runtime: LocalRuntime,
) -> None:
    rt = shared_runtime
    body = evidence_body(new_us_number())
    status, headers, answer = call(rt, "POST", "/v1/signups", None, body)
    assert (status, answer) == (403, {"message": "Forbidden"})
    assert headers.get("x-amzn-errortype") == "ForbiddenException"
    status, _, answer = call(rt, "POST", "/v1/signups", "optin_not_a_key", body)
    assert status == 403 and answer["error"]["code"] == "invalid_api_key"
    assert rt.messages(body["phoneNumber"]) == []


def test_a_revoked_key_stops_at_once(shared_runtime: LocalRuntime) -> None:
    rt = shared_runtime
    key_id, key = new_key(rt, "Leaver")
    number = new_us_number()
    assert call(rt, "POST", "/v1/signups", key, evidence_body(number))[0] == 202
    status, text = keys(rt, "revoke", key_id)
    assert status == 0 and f"revoked {key_id}" in text
    status, _, answer = call(rt, "GET", f"/v1/signups?phoneNumber={quote(number)}", key)
    assert status == 403 and answer["error"]["code"] == "invalid_api_key"
    status, listing = keys(rt, "list")
    assert key_id in listing and key not in listing


def test_bad_evidence_is_a_400_with_a_code(shared_runtime: LocalRuntime) -> None:
    rt = shared_runtime
    _, key = new_key(rt, "Sloppy")
    body = evidence_body(new_us_number())
    body["consent"]["userAgent"] = "u" * 600
    status, _, answer = call(rt, "POST", "/v1/signups", key, body)
    assert status == 400 and answer["error"]["code"] == "field_too_long"


@pytest.mark.parametrize(
    ("argv", "says"),
    [(["revoke", "0123456789abcdef"], "No API key"), (["create", "   "], "name")],
)
def test_the_keys_command_refuses_clearly(
    shared_runtime: LocalRuntime, argv: list[str], says: str
) -> None:
    status, text = keys(shared_runtime, *argv)
    assert status == 2 and says in text


def test_python_m_local_keys_runs() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "local", "keys", "--help"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and "create" in done.stdout


def test_an_idempotent_retry_replays_and_a_changed_one_is_409(
    shared_runtime: LocalRuntime,
) -> None:
    rt = shared_runtime
    _, key = new_key(rt, "Retrier")
    body = evidence_body(new_us_number())
    headers = {"x-api-key": key, "Idempotency-Key": "order-4711"}
    first = rt.request("POST", "/v1/signups", body, headers)
    again = rt.request("POST", "/v1/signups", body, headers)
    assert first[0] == again[0] == 202 and first[2] == again[2]
    assert again[1].get("idempotent-replayed") == "true"
    assert "idempotent-replayed" not in first[1]
    changed = {**body, "firstName": "Bea"}
    status, _, answer = rt.request("POST", "/v1/signups", changed, headers)
    assert status == 409 and answer["error"]["code"] == "idempotency_key_reused"
