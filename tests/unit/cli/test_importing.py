"""`optin import`: the CSV's rules, the pacing, the retries and the summary, with a fake API."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import pytest

from optin_cli.errors import CliError
from optin_cli.http import ApiError, Response
from optin_cli.importing import (
    Pacer,
    Row,
    Summary,
    body_of,
    idempotency_key,
    parse_rate,
    read_rows,
    run_import,
)

DEFAULTS = {"disclosureText": "Reply YES.", "disclosureVersion": "v2"}


def csv_file(tmp_path: Path, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / "in.csv"
    path.write_bytes(text.encode(encoding))
    return path


@pytest.mark.parametrize(("raw", "per_second"), [("5/s", 5.0), ("120/m", 2.0), ("0.5", 0.5)])
def test_rates(raw: str, per_second: float) -> None:
    assert parse_rate(raw) == per_second


@pytest.mark.parametrize("raw", ["fast", "0/s", "-1/s", "5000/s", ""])
def test_bad_rates(raw: str) -> None:
    with pytest.raises(click.BadParameter):
        parse_rate(raw)


def test_rows_keep_their_line_numbers_and_skip_blank_lines(tmp_path: Path) -> None:
    path = csv_file(
        tmp_path,
        "\ufeffphoneNumber, firstName ,capturedAt\r\n+12065550100,Ana,2026-11-01T00:00:00Z\r\n"
        ",,\r\n+12065550101,Bo,2026-11-01T00:00:00Z\r\n",
    )
    rows = read_rows(path, DEFAULTS)
    assert [(r.line, r.values["firstName"]) for r in rows] == [(2, "Ana"), (4, "Bo")]


@pytest.mark.parametrize(
    ("text", "defaults", "words"),
    [
        ("firstName,capturedAt\nAna,x\n", DEFAULTS, "missing column(s) phoneNumber"),
        ("phoneNumber,capturedAt\n+1,x\n", {}, "missing column(s) disclosureText"),
        ("phoneNumber,capturedAt,email\n+1,x,a@b\n", DEFAULTS, "unknown column(s) email"),
        ("", DEFAULTS, "needs a header row"),
        ("phoneNumber,capturedAt\n+1,x,extra\n", DEFAULTS, "line 2: more cells"),
    ],
)
def test_bad_csv_is_one_clear_error(
    tmp_path: Path, text: str, defaults: dict[str, str], words: str
) -> None:
    with pytest.raises(CliError) as raised:
        read_rows(csv_file(tmp_path, text), defaults)
    assert words in raised.value.message


def test_a_file_that_is_not_utf8_is_named_as_such(tmp_path: Path) -> None:
    path = csv_file(tmp_path, "phoneNumber,firstName,capturedAt\n+1,José,x\n", "latin-1")
    with pytest.raises(CliError) as raised:
        read_rows(path, DEFAULTS)
    assert raised.value.code == "bad_encoding"


def test_a_row_becomes_the_apis_body() -> None:
    row = Row(2, {"phoneNumber": "+12065550100", "firstName": "", "capturedAt": "T", "ip": "1"})
    assert body_of(row, DEFAULTS) == {
        "phoneNumber": "+12065550100",
        "consent": {
            "disclosureText": "Reply YES.",
            "disclosureVersion": "v2",
            "capturedAt": "T",
            "ip": "1",
        },
    }


def test_idempotency_keys_are_stable_per_row_and_differ_between_rows() -> None:
    a = Row(2, {"phoneNumber": "+12065550100"})
    b = Row(3, {"phoneNumber": "+12065550100"})
    path = Path("x.csv")
    assert idempotency_key(path, a, body_of(a, {})) == idempotency_key(path, a, body_of(a, {}))
    assert idempotency_key(path, a, body_of(a, {})) != idempotency_key(path, b, body_of(b, {}))


def test_the_pacer_spaces_calls_evenly() -> None:
    now = [100.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(round(seconds, 6))
        now[0] += seconds

    pacer = Pacer(4.0, clock=lambda: now[0], sleep=sleep)
    for _ in range(3):
        pacer.wait()
    assert slept == [0.25, 0.25]
    now[0] += 1.0  # idle for a while: no catching up in a burst, no sleep either
    pacer.wait()
    assert slept == [0.25, 0.25]


class FakeApi:
    """Answers per phone number: a status code and body, or a list of them in turn."""

    api_key = "k"

    def __init__(self, answers: dict[str, Any]) -> None:
        self.answers = answers
        self.calls: list[dict[str, Any]] = []

    def call(self, method: str, path: str, body: Any = None, **kwargs: Any) -> Response:
        self.calls.append({"body": body, **kwargs})
        answer = self.answers[body["phoneNumber"]]
        if isinstance(answer, list):
            answer = answer.pop(0)
        status, payload = answer
        if status >= 400:
            raise ApiError(status, payload["code"], payload["message"], payload.get("retry"))
        return Response(status, payload)


def test_the_summary_groups_rejections_by_code_with_line_numbers() -> None:
    api = FakeApi(
        {
            "+1": (202, {"id": "a", "status": "PENDING"}),
            "+2": (400, {"code": "invalid_phone_number", "message": "Not a number."}),
            "+3": (400, {"code": "invalid_phone_number", "message": "Not a number."}),
            "+4": (409, {"code": "already_registered", "message": "Waiting."}),
            "+5": [
                (429, {"code": "rate_limited", "message": "Slow down.", "retry": 2}),
                (202, {"id": "e", "status": "PENDING"}),
            ],
        }
    )
    rows = [Row(n + 1, {"phoneNumber": f"+{n}", "capturedAt": "T"}) for n in range(1, 6)]
    slept: list[float] = []
    summary = run_import(api, Path("f.csv"), rows, DEFAULTS, 1000.0, sleep=slept.append)  # type: ignore[arg-type]
    assert [line for line, _, _ in summary.accepted] == [2, 6]
    assert summary.rejected == {
        "invalid_phone_number": [(3, "Not a number."), (4, "Not a number.")],
        "already_registered": [(5, "Waiting.")],
    }
    assert 2 in slept  # the 429's Retry-After was honoured before the retry
    assert all("Idempotency-Key" in call["headers"] for call in api.calls)
    lines = list(summary.lines())
    assert lines[:2] == ["accepted: 2", "rejected: 3"]
    assert lines[2].startswith("  invalid_phone_number (2): Not a number. lines 3, 4")


def test_summary_as_json() -> None:
    summary = Summary()
    summary.reject(7, "invalid_ip", "ip is an IPv4 or IPv6 address.")
    assert summary.as_dict() == {
        "accepted": 0,
        "rejected": 1,
        "acceptedRows": [],
        "rejectedByCode": {
            "invalid_ip": [{"line": 7, "message": "ip is an IPv4 or IPv6 address."}]
        },
    }
