"""CSV for the console's exports: RFC 4180 (the csv module's quoting, CRLF line ends), and
no cell a spreadsheet would run as a formula.

A cell that begins with = + - @, a tab or a carriage return is prefixed with an apostrophe
(OWASP's "CSV injection" advice): spreadsheets read such cells as formulas (or shift them to
one). That includes E.164 numbers ("'+12065550100"): the apostrophe is how a spreadsheet
keeps them as text anyway.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: object) -> str:
    """One cell's text: None as empty, anything a formula could start with defused."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def csv_text(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    writer.writerow([neutralise(name) for name in header])
    writer.writerows([neutralise(cell) for cell in row] for row in rows)
    return buffer.getvalue()
