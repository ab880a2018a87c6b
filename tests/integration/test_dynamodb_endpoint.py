"""`python -m local --dynamodb-endpoint URL`: the AWS contact store, run against moto's server.

The runtime runs as `make run` runs it, except that the functions keep contacts in DynamoDB
(CONTACT_STORE=dynamodb, the template's table) at a moto server started for the test. Contact
states are read from DynamoDB itself, not through the runtime, so a pass proves the data is
there and not in SQLite.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from local.runtime.config import with_dynamodb_store
from tests.support.numbers import new_us_number
from tests.support.runtime import REPO_ROOT, LocalRuntime, free_port, wait_for

TABLE = "ContactsTable"  # the local physical name of the template's table


@pytest.fixture(scope="module")
def ddb_runtime(moto_runtime: LocalRuntime) -> LocalRuntime:
    return moto_runtime


def dynamodb(rt: LocalRuntime) -> Any:
    assert rt.moto is not None
    return rt.moto.dynamodb()


def contact_item(rt: LocalRuntime, phone: str) -> dict[str, Any] | None:
    """The contact item as DynamoDB holds it (the layout of optin/ports/contact_store.py)."""
    key = {"pk": {"S": f"CONTACT#{phone}"}, "sk": {"S": "CONTACT"}}
    item = dynamodb(rt).get_item(TableName=TABLE, Key=key, ConsistentRead=True).get("Item")
    return dict(item) if item else None


def stored_status(rt: LocalRuntime, phone: str) -> str | None:
    item = contact_item(rt, phone)
    return None if item is None else str(item["status"]["S"])


def ledger_items(rt: LocalRuntime, phone: str) -> list[dict[str, Any]]:
    found = dynamodb(rt).query(
        TableName=TABLE,
        KeyConditionExpression="pk = :pk AND begins_with(sk, :event)",
        ExpressionAttributeValues={":pk": {"S": f"CONTACT#{phone}"}, ":event": {"S": "EVENT#"}},
        ConsistentRead=True,
    )
    return list(found["Items"])


def pending_with_text(rt: LocalRuntime, phone: str) -> str:
    status, body = rt.signup(phone)
    assert status == 202, body
    wait_for(lambda: rt.messages(phone, "outbound"), what="the confirmation text")
    wait_for(lambda: stored_status(rt, phone) == "PENDING", what="a PENDING item in DynamoDB")
    return str(body["registrationId"])


def outbound(rt: LocalRuntime, phone: str) -> list[str]:
    return [str(m["body"]) for m in rt.messages(phone, "outbound")]


# --- start-up: tables, environment, banner, errors ---


def test_start_creates_the_template_table_and_the_banner_names_it(
    ddb_runtime: LocalRuntime,
) -> None:
    rt = ddb_runtime
    table = dynamodb(rt).describe_table(TableName=TABLE)["Table"]
    assert [k["AttributeName"] for k in table["KeySchema"]] == ["pk", "sk"]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert "ByStatus" in [i["IndexName"] for i in table.get("GlobalSecondaryIndexes", [])]
    banner = rt.log()
    assert f"  contacts         DynamoDB at {rt.dynamodb_endpoint}, table {TABLE}\n" in banner
    assert "SQLite" not in banner


def test_a_restart_keeps_the_existing_table(tmp_path: Path) -> None:
    rt = LocalRuntime(tmp_path / "rt", dynamodb="moto").start()
    try:
        client = dynamodb(rt)
        marker = {"pk": {"S": "MARKER#restart"}, "sk": {"S": "MARKER"}}
        client.put_item(TableName=TABLE, Item=marker)
        rt.restart()
        # Both starts log to the same runtime.log: the table was created by the first alone.
        assert (rt.data_dir / "runtime.log").read_text().count("created DynamoDB table") == 1
        assert client.get_item(TableName=TABLE, Key=marker).get("Item") == marker
    finally:
        rt.stop()


def run_local(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "local", "--port", "0", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        env=env,
    )


@pytest.mark.parametrize(
    "how",
    [
        pytest.param("flag", id="--dynamodb-endpoint"),
        pytest.param("env", id="LOCAL_DYNAMODB_ENDPOINT"),
    ],
)
def test_an_endpoint_that_does_not_answer_is_one_sentence_and_exit_2(
    tmp_path: Path, how: str
) -> None:
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens: the port was just released
    args = ["--data-dir", str(tmp_path)]
    env = dict(os.environ)
    if how == "flag":
        args += ["--dynamodb-endpoint", dead]
    else:
        env["LOCAL_DYNAMODB_ENDPOINT"] = dead
    done = run_local(*args, env=env)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("python -m local: error: no DynamoDB answers at " + dead)
    assert "Local runtime ready" not in done.stdout
    assert not (tmp_path / "contacts.db").exists()


@pytest.mark.parametrize("url", ["localhost:8001", "ftp://localhost:8001", "http://", "http://h:x"])
def test_a_malformed_endpoint_is_refused_before_anything_starts(tmp_path: Path, url: str) -> None:
    done = run_local("--data-dir", str(tmp_path), "--dynamodb-endpoint", url)
    assert done.returncode == 2
    assert "--dynamodb-endpoint" in done.stderr
    assert "Traceback" not in done.stderr
    assert not any(tmp_path.iterdir())


def test_a_server_that_is_not_dynamodb_is_named_as_such(
    tmp_path: Path, ddb_runtime: LocalRuntime
) -> None:
    # The local runtime's own port answers HTTP, but not DynamoDB's JSON protocol.
    done = run_local("--data-dir", str(tmp_path), "--dynamodb-endpoint", ddb_runtime.base_url)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert ddb_runtime.base_url in done.stderr


def test_env_overrides_switch_every_scope_to_dynamodb() -> None:
    env_file = {
        "Parameters": {"CONTACT_STORE": "sqlite", "SQLITE_PATH": "/x/contacts.db"},
        "SignupFunction": {"CONTACT_STORE": "sqlite", "LOG_LEVEL": "DEBUG"},
    }
    switched = with_dynamodb_store(env_file)
    assert switched == {
        "Parameters": {"CONTACT_STORE": "dynamodb", "SQLITE_PATH": "/x/contacts.db"},
        "SignupFunction": {"LOG_LEVEL": "DEBUG"},
    }
    assert env_file["SignupFunction"]["CONTACT_STORE"] == "sqlite"  # the input is not changed
    assert with_dynamodb_store({}) == {"Parameters": {"CONTACT_STORE": "dynamodb"}}


# --- the whole flow, contacts in DynamoDB ---


def test_yes_confirms_and_the_contact_is_in_dynamodb_not_sqlite(ddb_runtime: LocalRuntime) -> None:
    rt, phone = ddb_runtime, new_us_number()
    pending_with_text(rt, phone)
    assert "Reply YES" in outbound(rt, phone)[0]

    rt.text_in(phone, "yes")

    wait_for(lambda: stored_status(rt, phone) == "CONFIRMED", what="CONFIRMED in DynamoDB")
    wait_for(lambda: len(outbound(rt, phone)) == 2, what="the welcome text")
    assert outbound(rt, phone)[1].startswith("You're subscribed")
    # The consent ledger: at least the request and the confirmation, as items of their own.
    assert len(ledger_items(rt, phone)) >= 2
    assert not list(rt.data_dir.rglob("contacts.db*"))


def test_stop_while_pending_opts_out(ddb_runtime: LocalRuntime) -> None:
    rt, phone = ddb_runtime, new_us_number()
    pending_with_text(rt, phone)

    rt.text_in(phone, "STOP")

    wait_for(lambda: stored_status(rt, phone) == "OPTED_OUT", what="OPTED_OUT in DynamoDB")
    item = contact_item(rt, phone)
    assert item is not None
    rt.text_in(phone, "yes")  # too late: an opted-out number is not confirmed by a YES
    time.sleep(1.0)
    assert stored_status(rt, phone) == "OPTED_OUT"


def test_a_rejected_number_stores_nothing_and_gets_no_text(ddb_runtime: LocalRuntime) -> None:
    rt, toll_free = ddb_runtime, "+18005550100"
    status, body = rt.signup(toll_free)
    assert status == 400, body
    assert body["error"]["code"] == "unsupported_line_type"
    assert contact_item(rt, toll_free) is None
    assert rt.messages(toll_free) == []


@pytest.mark.slow
def test_kill_while_waiting_for_yes_then_yes_confirms_once(tmp_path: Path) -> None:
    rt = LocalRuntime(tmp_path / "rt", dynamodb="moto").start()
    try:
        phone = new_us_number()
        pending_with_text(rt, phone)

        rt.kill()  # SIGKILL the runtime; moto, the "DynamoDB", keeps running
        rt.start()

        rt.text_in(phone, "YES")
        wait_for(lambda: stored_status(rt, phone) == "CONFIRMED", what="CONFIRMED after restart")
        wait_for(lambda: len(outbound(rt, phone)) == 2, what="the welcome text")
        time.sleep(0.5)  # anything sent twice would show up now
        texts = outbound(rt, phone)
        assert len(texts) == 2, texts
        assert "Reply YES" in texts[0]
        assert texts[1].startswith("You're subscribed")
        assert not list(rt.data_dir.rglob("contacts.db*"))
    finally:
        rt.stop()
