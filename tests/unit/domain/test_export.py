"""CSV cells a spreadsheet would run are defused; quoting is RFC 4180's."""

from __future__ import annotations

import csv
import io

import pytest

from optin.domain.export import csv_text, neutralise


@pytest.mark.parametrize(
    ("cell", "written"),
    [
        ("=1+1", "'=1+1"),
        ("+12065550100", "'+12065550100"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("plain", "plain"),
        ("a=b", "a=b"),
        (None, ""),
        (3, "3"),
        (-3, "'-3"),
    ],
)
def test_neutralise(cell: object, written: str) -> None:
    assert neutralise(cell) == written


def test_quoting_round_trips_commas_quotes_and_newlines() -> None:
    text = csv_text(["a", "b"], [['say "yes", please', "two\nlines"], ["=cmd", None]])
    assert text.endswith("\r\n") and '"say ""yes"", please"' in text
    assert list(csv.reader(io.StringIO(text, newline=""))) == [
        ["a", "b"],
        ['say "yes", please', "two\nlines"],
        ["'=cmd", ""],
    ]
