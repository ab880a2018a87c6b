"""The real `optin` executable (installed as `make setup` installs it) against a local runtime:
a key, a sign-up with its evidence, its status, the YES from the sandbox phone, CONFIRMED; a
CSV import with good and bad rows; a Pinpoint import, twice; the webhook commands against a
receiver on 127.0.0.1; and every command refusing bad input in one line, never a
traceback."""

from __future__ import annotations

import csv
import json
import re
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.integration.test_webhooks import Receiver
from tests.support.cli import Optin
from tests.support.numbers import new_us_number
from tests.support.runtime import REPO_ROOT, LocalRuntime, wait_for

FIXTURES = REPO_ROOT / "tests" / "fixtures" / "cli"


@pytest.fixture(scope="module")
def optin(optin_cli: Optin) -> Optin:
    return optin_cli


@pytest.fixture(scope="module")
def rt(shared_runtime: LocalRuntime) -> Iterator[LocalRuntime]:
    yield shared_runtime


def where(rt: LocalRuntime) -> list[str]:
    # Under TEST_DYNAMODB=moto the runtime keeps its stores in DynamoDB: so does the CLI.
    endpoint = ["--dynamodb-endpoint", rt.dynamodb_endpoint] if rt.dynamodb_endpoint else []
    return ["--api-url", rt.base_url, "--data-dir", str(rt.data_dir), *endpoint]


def ok(done: object) -> str:
    assert getattr(done, "returncode", None) == 0, (done.stdout, done.stderr)  # type: ignore[attr-defined]
    return str(done.stdout)  # type: ignore[attr-defined]


def new_key(optin: Optin, rt: LocalRuntime, name: str) -> tuple[str, str]:
    made = json.loads(ok(optin.run(*where(rt), "keys", "create", name, "--json")))
    return made["keyId"], made["key"]


def now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def test_key_signup_status_reply_confirmed(optin: Optin, rt: LocalRuntime, tmp_path: Path) -> None:
    key_id, key = new_key(optin, rt, "Acme checkout")
    assert key_id in ok(optin.run(*where(rt), "keys", "list"))
    number = new_us_number()
    evidence = tmp_path / "evidence.json"
    evidence.write_text(
        json.dumps(
            {
                "disclosureText": "Reply YES for Acme deals. Msg & data rates may apply.",
                "disclosureVersion": "acme-3",
                "capturedAt": now(),
                "ip": "203.0.113.9",
                "page": "https://shop.example/checkout",
            }
        )
    )
    made = ok(
        optin.run(
            *where(rt),
            "signup",
            number,
            "--first-name",
            "Ana",
            "--source",
            "checkout",
            "--evidence-file",
            str(evidence),
            api_key=key,
        )
    )
    registration, status = made.split()[:2]
    assert status == "PENDING"
    view = json.loads(ok(optin.run(*where(rt), "status", registration, "--json", api_key=key)))
    assert view["id"] == registration
    assert view["ledger"][0]["details"]["evidence"]["disclosure"]["version"] == "acme-3"
    wait_for(lambda: rt.messages(number, "outbound"), timeout=20)
    # The operator's view sees it pending, masked unless asked.
    pending = ok(optin.run(*where(rt), "pending"))
    assert registration in pending and number not in pending

    assert "inbound message" in ok(optin.run(*where(rt), "reply", number, "YES"))

    def confirmed() -> bool:
        done = optin.run(*where(rt), "status", number, "--json", api_key=key)
        return done.returncode == 0 and json.loads(done.stdout)[0]["status"] == "CONFIRMED"

    wait_for(confirmed, timeout=20)
    exported = ok(optin.run(*where(rt), "export", "--status", "CONFIRMED", "--unmasked"))
    assert f"{registration},'{number},CONFIRMED" in exported

    # Another partner cannot see it; a revoked key is refused.
    _, other = new_key(optin, rt, "Other")
    refused = optin.run(*where(rt), "status", registration, api_key=other)
    assert refused.returncode == 1 and refused.stderr.startswith("optin: error: not_found:")
    ok(optin.run(*where(rt), "keys", "revoke", key_id))
    refused = optin.run(*where(rt), "status", registration, api_key=key)
    assert refused.returncode == 1 and "invalid_api_key" in refused.stderr


def test_import_csv_accepts_good_rows_and_reports_bad_ones(
    optin: Optin, rt: LocalRuntime, tmp_path: Path
) -> None:
    _, key = new_key(optin, rt, "Importer")
    good = [new_us_number() for _ in range(3)]
    rows = [
        ["phoneNumber", "firstName", "source", "capturedAt", "ip"],
        [good[0], "Ana", "store", now(), "203.0.113.1"],
        ["+1 206 555", "Bo", "store", now(), ""],  # line 3: not a number
        [good[1], "Cy", "store", now(), "not-an-ip"],  # line 4
        [good[2], "Di", "store", now(), ""],
        [new_us_number(), "Ed", "store", "yesterday", ""],  # line 6
        ["12", "Fi", "store", now(), ""],  # line 7: not a number either
    ]
    source = tmp_path / "signups.csv"
    with source.open("w", newline="") as handle:
        csv.writer(handle).writerows(rows)
    rejects = tmp_path / "rejects.csv"
    done = optin.run(
        *where(rt),
        "import",
        str(source),
        "--rate",
        "50/s",
        "--disclosure-text",
        "Reply YES for Acme deals.",
        "--disclosure-version",
        "acme-3",
        "--rejects",
        str(rejects),
        "--json",
        api_key=key,
    )
    assert done.returncode == 3, done.stderr
    summary = json.loads(done.stdout)
    assert summary["accepted"] == 2 and summary["rejected"] == 4
    by_code = {
        code: [r["line"] for r in lines] for code, lines in summary["rejectedByCode"].items()
    }
    assert by_code["invalid_ip"] == [4]
    assert by_code["invalid_captured_at"] == [6]
    assert sorted(line for lines in by_code.values() for line in lines) == [3, 4, 6, 7]
    written = list(csv.DictReader(rejects.open()))
    assert [r["line"] for r in written] == ["3", "4", "6", "7"]
    assert written[1]["error"] == "invalid_ip" and written[1]["phoneNumber"] == good[1]
    # Again: the Idempotency-Keys replay the first answers, nothing is signed up twice.
    again = optin.run(
        *where(rt),
        "import",
        str(source),
        "--rate",
        "50/s",
        "--disclosure-text",
        "Reply YES for Acme deals.",
        "--disclosure-version",
        "acme-3",
        "--json",
        api_key=key,
    )
    assert again.returncode == 3
    assert json.loads(again.stdout)["acceptedRows"] == summary["acceptedRows"]
    wait_for(lambda: rt.messages(good[2], "outbound"), timeout=20)
    assert len(rt.messages(good[0], "outbound")) == 1


def test_import_refuses_a_bad_csv_in_one_line(
    optin: Optin, rt: LocalRuntime, tmp_path: Path
) -> None:
    missing = tmp_path / "missing.csv"
    missing.write_text("firstName,capturedAt\nAna,2026-11-01T00:00:00Z\n")
    done = optin.run(*where(rt), "import", str(missing), api_key="optin_x")
    assert done.returncode == 1
    assert done.stderr.strip().count("\n") == 0
    assert "missing column(s) phoneNumber" in done.stderr
    latin = tmp_path / "latin1.csv"
    latin.write_bytes(
        "phoneNumber,firstName,capturedAt\n+12064861999,Jos\xe9,x\n".encode("latin-1")
    )
    done = optin.run(*where(rt), "import", str(latin), api_key="optin_x")
    assert done.returncode == 1 and "bad_encoding" in done.stderr and "UTF-8" in done.stderr


def test_import_pinpoint_twice(optin: Optin, rt: LocalRuntime) -> None:
    sample = FIXTURES / "pinpoint-endpoints.json"
    first = optin.run(*where(rt), "import-pinpoint", str(sample), "--json")
    assert first.returncode == 3, first.stderr  # two endpoints are reported invalid
    report = json.loads(first.stdout)
    assert report["counts"] == {"confirmed": 2, "opted_out": 1, "invalid": 2}
    invalid = {e["endpointId"]: e["code"] for e in report["endpoints"] if e["result"] == "invalid"}
    assert invalid["email-5d6e7f80-91a2-4b3c-8d4e-5f6a7b8c9d04"] == "not_sms"
    second = json.loads(optin.run(*where(rt), "import-pinpoint", str(sample), "--json").stdout)
    assert second["counts"] == {"unchanged": 3, "invalid": 2}
    exported = ok(optin.run(*where(rt), "export", "--status", "CONFIRMED", "--unmasked"))
    assert "'+12064860901,CONFIRMED" in exported and "'+12064860902,CONFIRMED" in exported
    # No texts were sent, and the ledger carries Pinpoint's evidence.
    assert rt.messages("+12064860901") == []
    contact = rt.contact("+12064860901")
    assert contact is not None
    imported = [e for e in contact["events"] if e["type"] == "imported"]
    assert len(imported) == 1
    evidence = imported[0]["details"]["evidence"]
    assert evidence["optInTimestamp"] == "2019-01-28T19:53:57.291Z"
    assert evidence["source"] == "Registration form test"


def test_webhook_set_show_test_deliveries_replay(optin: Optin, rt: LocalRuntime) -> None:
    _, key = new_key(optin, rt, "Acme CRM")
    _, other = new_key(optin, rt, "Other CRM")

    def webhook(*argv: str, api_key: str = key) -> subprocess.CompletedProcess[str]:
        return optin.run(*where(rt), "--api-key", api_key, "webhook", *argv)

    none = webhook("show")
    assert none.returncode == 1 and "optin: error: no_webhook:" in none.stderr
    receiver = Receiver()
    try:
        made = ok(webhook("set", receiver.url, "--event", "signup.confirmed"))
        secret = re.search(r"^secret: (whsec_\S+)$", made, re.M)
        assert secret and f"url:    {receiver.url}" in made, made
        receiver.secret = secret[1]
        shown = json.loads(ok(webhook("show", "--json")))
        assert shown["url"] == receiver.url and shown["events"] == ["signup.confirmed"]
        assert "secret" not in shown and receiver.secret not in ok(webhook("show"))

        queued = json.loads(ok(webhook("test", "--json")))["deliveryId"]
        [got] = wait_for(lambda: receiver.received, timeout=20, what="the test POST")
        assert got["verified"] and got["body"]["type"] == "webhook.test"
        assert got["body"]["id"] == queued

        def logged() -> dict[str, object] | None:
            page = json.loads(ok(webhook("deliveries", "--status", "delivered", "--json")))
            return page if page["deliveries"] else None

        page = wait_for(logged, timeout=20, what="the delivered status")
        assert [d["id"] for d in page["deliveries"]] == [queued]
        table = ok(webhook("deliveries"))
        assert queued in table and "webhook.test" in table and "delivered" in table

        assert ok(webhook("replay", queued)).strip() == f"queued {queued} again (pending)"
        wait_for(lambda: len(receiver.received) == 2, timeout=20, what="the replayed POST")
        assert receiver.received[1]["verified"] and receiver.received[1]["body"]["id"] == queued

        # Another key sees none of it; a bad id or status is one line, not a traceback.
        assert json.loads(ok(webhook("deliveries", "--json", api_key=other)))["deliveries"] == []
        foreign = webhook("replay", queued, api_key=other)
        assert foreign.returncode == 1 and "not_found" in foreign.stderr
        assert webhook("deliveries", "--status", "lost").returncode == 2
        refused = webhook("set", "ftp://example.com/in")
        assert refused.returncode == 1 and "invalid_url" in refused.stderr

        rotated = ok(webhook("set", receiver.url, "--rotate"))
        assert "secret: whsec_" in rotated and receiver.secret not in rotated
        kept = ok(webhook("set", receiver.url))
        assert "secret:" not in kept  # only shown when first set or rotated
    finally:
        receiver.down()


BAD_INPUTS = [
    ["signup", "+12065550100"],  # no key
    ["status", "not-a-thing"],  # no key
    ["pending", "--since", "last tuesday"],
    ["expired", "--limit", "0"],
    ["export", "--status", "MAYBE"],
    ["keys", "create", " "],
    ["keys", "revoke", "0000000000000000"],
    ["import", "/nonexistent.csv"],
    ["import-pinpoint", str(REPO_ROOT / "README.md")],
    ["reply", "12", "YES"],
    ["--stack", "nope", "reply", "+12065550100", "YES"],
    ["webhook", "show"],  # no key
    ["users", "add", "x", "--role", "boss"],
]


@pytest.mark.parametrize("argv", BAD_INPUTS, ids=lambda a: " ".join(a[:2]))
def test_bad_input_gets_one_line_and_a_non_zero_exit(
    optin: Optin, rt: LocalRuntime, argv: list[str]
) -> None:
    prefix = [] if argv[0] == "--stack" else where(rt)
    done = optin.run(*prefix, *argv)
    assert done.returncode != 0, done.stdout
    assert "Traceback" not in done.stderr
    assert re.search(r"(optin: error: |Error: )", done.stderr), done.stderr
