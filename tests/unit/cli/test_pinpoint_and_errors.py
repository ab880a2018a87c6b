"""The Pinpoint file's shapes, and every failure worded in one line with a non-zero exit."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError, NoCredentialsError
from click.testing import CliRunner

from optin_cli.errors import CliError
from optin_cli.main import cli, translate
from optin_cli.pinpoint import read_endpoints

ENDPOINT = {"Id": "e1", "ChannelType": "SMS", "Address": "+12065550100", "OptOut": "NONE"}


@pytest.mark.parametrize(
    "text",
    [
        json.dumps({"EndpointsResponse": {"Item": [ENDPOINT]}}),  # get-user-endpoints
        json.dumps({"Item": [ENDPOINT]}),
        json.dumps([ENDPOINT]),
        json.dumps(ENDPOINT),  # one endpoint (get-endpoint's EndpointResponse)
        json.dumps(ENDPOINT) + "\n\n" + json.dumps(ENDPOINT) + "\n",  # an export job's file
    ],
)
def test_pinpoints_shapes(tmp_path: Path, text: str) -> None:
    path = tmp_path / "e.json"
    path.write_text(text)
    endpoints = read_endpoints(path)
    assert endpoints and all(e == ENDPOINT for e in endpoints)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ('{"Items": []}', "bad_json"),
        ("not json\n", "bad_json"),
        ('{"Id": "e1"}\n{broken\n', "bad_json"),
    ],
)
def test_files_that_are_not_pinpoints(tmp_path: Path, text: str, code: str) -> None:
    path = tmp_path / "e.json"
    path.write_text(text)
    with pytest.raises(CliError) as raised:
        read_endpoints(path)
    assert raised.value.code == code


def test_a_file_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "e.json"
    path.write_bytes(b'{"Address": "\xff"}')
    with pytest.raises(CliError) as raised:
        read_endpoints(path)
    assert raised.value.code == "bad_encoding"


@pytest.mark.parametrize(
    ("error", "words"),
    [
        (
            ClientError(
                {"Error": {"Code": "AccessDeniedException", "Message": "not allowed"}}, "Query"
            ),
            "AccessDeniedException: not allowed",
        ),
        (NoCredentialsError(), "no_credentials"),
        (FileNotFoundError(2, "No such file or directory", "x.csv"), "No such file"),
        (ZeroDivisionError("division by zero"), "unexpected: Unexpected ZeroDivisionError"),
    ],
)
def test_errors_are_translated_to_one_line(error: Exception, words: str) -> None:
    assert words in translate(error).format_message()


def test_an_unexpected_failure_is_one_line_and_exit_1(monkeypatch: Any, tmp_path: Path) -> None:
    def boom(*_: Any, **__: Any) -> Any:
        raise KeyError("surprise")

    monkeypatch.setattr("optin_cli.target.Target.contact_store", boom)
    done = CliRunner().invoke(cli, ["--data-dir", str(tmp_path), "pending"])
    assert done.exit_code == 1
    assert done.output.strip() == "optin: error: unexpected: Unexpected KeyError: 'surprise'"
    assert "Traceback" not in done.output


def test_no_local_data_is_a_clear_error(tmp_path: Path) -> None:
    done = CliRunner().invoke(cli, ["--data-dir", str(tmp_path / "none"), "expired"])
    assert done.exit_code == 1
    assert "optin: error: no_store: No local data at" in done.output


def test_local_and_stack_together_is_a_usage_error() -> None:
    done = CliRunner().invoke(cli, ["--local", "--stack", "s", "pending"])
    assert done.exit_code == 2
