"""`optin import FILE.csv`: bulk sign-ups with their evidence through the partner API, at a
controlled rate, with a progress bar and a summary of what was rejected and why.

Columns (a header row, UTF-8, any order; names as the API's fields):
  phoneNumber (required), firstName, source, disclosureText, disclosureVersion, capturedAt,
  ip, userAgent, page. disclosureText / disclosureVersion may instead come from
  --disclosure-text / --disclosure-version for every row; capturedAt is required per row
  (it is the evidence of when that person agreed).

Each row is sent with an Idempotency-Key made from the file's row content, so running the
same file again within 24 hours replays the first answers instead of signing up twice.
"""

from __future__ import annotations

import csv
import hashlib
import io
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from optin_cli.errors import SOME_REJECTED, CliError
from optin_cli.http import ApiError, Client
from optin_cli.output import emit_json

COLUMNS = (
    "phoneNumber",
    "firstName",
    "source",
    "disclosureText",
    "disclosureVersion",
    "capturedAt",
    "ip",
    "userAgent",
    "page",
)
REQUIRED = ("phoneNumber", "capturedAt")
CONSENT = ("disclosureText", "disclosureVersion", "capturedAt", "ip", "userAgent", "page")
MAX_RETRIES = 5


@dataclass(frozen=True)
class Row:
    line: int  # the line number in the file (the header is line 1)
    values: dict[str, str]


def parse_rate(raw: str) -> float:
    """`N/s`, `N/m` (per minute) or a bare N (per second) → requests per second."""
    text = raw.strip().lower()
    per = 1.0
    if text.endswith("/s"):
        text = text[:-2]
    elif text.endswith("/m"):
        text, per = text[:-2], 60.0
    try:
        value = float(text) / per
    except ValueError:
        raise click.BadParameter(f"{raw!r} is not a rate like 5/s or 120/m.") from None
    if not 0 < value <= 1000:
        raise click.BadParameter("The rate must be above 0 and at most 1000/s.")
    return value


def read_rows(path: Path, defaults: dict[str, str]) -> list[Row]:
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise CliError(
            f"{path} is not UTF-8 text (byte {error.start}); save it as UTF-8 CSV.",
            code="bad_encoding",
        ) from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [name.strip() for name in (reader.fieldnames or [])]
    if not header:
        raise CliError(f"{path} is empty: it needs a header row.", code="bad_csv")
    reader.fieldnames = header
    unknown = [name for name in header if name not in COLUMNS]
    if unknown:
        raise CliError(
            f"{path}: unknown column(s) {', '.join(unknown)}; the columns are "
            f"{', '.join(COLUMNS)}.",
            code="bad_csv",
        )
    shared = ("disclosureText", "disclosureVersion")
    needed = [*REQUIRED, *(c for c in shared if c not in defaults)]
    missing = [name for name in needed if name not in header]
    if missing:
        raise CliError(f"{path}: missing column(s) {', '.join(missing)}.", code="bad_csv")
    rows = []
    try:
        for record in reader:
            if None in record:
                raise CliError(
                    f"{path} line {reader.line_num}: more cells than the header has.",
                    code="bad_csv",
                )
            values = {k: (v or "").strip() for k, v in record.items() if k}
            if not any(values.values()):
                continue
            rows.append(Row(reader.line_num, values))
    except csv.Error as error:
        raise CliError(f"{path} line {reader.line_num}: {error}.", code="bad_csv") from None
    return rows


def body_of(row: Row, defaults: dict[str, str]) -> dict[str, Any]:
    values = {**defaults, **{k: v for k, v in row.values.items() if v}}
    body: dict[str, Any] = {"phoneNumber": values.get("phoneNumber", "")}
    for name in ("firstName", "source"):
        if values.get(name):
            body[name] = values[name]
    body["consent"] = {name: values[name] for name in CONSENT if values.get(name)}
    return body


def idempotency_key(path: Path, row: Row, body: dict[str, Any]) -> str:
    digest = hashlib.sha256(f"{path.name}\n{row.line}\n{sorted(body.items())}".encode())
    return f"optin-import-{digest.hexdigest()[:40]}"


@dataclass
class Summary:
    accepted: list[tuple[int, str, str]] = field(default_factory=list)  # line, id, status
    rejected: dict[str, list[tuple[int, str]]] = field(default_factory=dict)  # code → lines

    def reject(self, line: int, code: str, message: str) -> None:
        self.rejected.setdefault(code, []).append((line, message))

    @property
    def rejected_count(self) -> int:
        return sum(len(lines) for lines in self.rejected.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "accepted": len(self.accepted),
            "rejected": self.rejected_count,
            "acceptedRows": [
                {"line": line, "id": signup_id, "status": status}
                for line, signup_id, status in self.accepted
            ],
            "rejectedByCode": {
                code: [{"line": line, "message": message} for line, message in lines]
                for code, lines in sorted(self.rejected.items())
            },
        }

    def lines(self) -> Iterator[str]:
        yield f"accepted: {len(self.accepted)}"
        yield f"rejected: {self.rejected_count}"
        for code, lines in sorted(self.rejected.items(), key=lambda item: -len(item[1])):
            numbers = ", ".join(str(line) for line, _ in lines[:20])
            more = f" and {len(lines) - 20} more" if len(lines) > 20 else ""
            yield f"  {code} ({len(lines)}): {lines[0][1]} lines {numbers}{more}"


class Pacer:
    """At most `rate` calls a second, evenly spaced (a start time per call, not bursts)."""

    def __init__(
        self,
        rate: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.interval = 1.0 / rate
        self.clock, self.sleep = clock, sleep
        self.next_at: float | None = None

    def wait(self) -> None:
        now = self.clock()
        if self.next_at is not None and now < self.next_at:
            self.sleep(self.next_at - now)
            now = self.next_at
        self.next_at = now + self.interval


def send(
    client: Client, pacer: Pacer, body: dict[str, Any], key: str, sleep: Callable[[float], None]
) -> Any:
    """POST one row; 429 and 503 are waited out (Retry-After) and tried again."""
    for attempt in range(MAX_RETRIES):
        pacer.wait()
        try:
            return client.call("POST", "/v1/signups", body, headers={"Idempotency-Key": key}).body
        except ApiError as error:
            if error.status not in (429, 503) or attempt == MAX_RETRIES - 1:
                raise
            sleep(error.retry_after or min(2.0**attempt, 30.0))
    raise AssertionError("unreachable")


def run_import(
    client: Client,
    path: Path,
    rows: list[Row],
    defaults: dict[str, str],
    rate: float,
    progress: Callable[[int], None] = lambda _n: None,
    sleep: Callable[[float], None] = time.sleep,
) -> Summary:
    summary = Summary()
    pacer = Pacer(rate, sleep=sleep)
    for row in rows:
        body = body_of(row, defaults)
        try:
            answer = send(client, pacer, body, idempotency_key(path, row, body), sleep)
        except ApiError as error:
            summary.reject(row.line, error.code or f"http_{error.status}", error.message)
        else:
            summary.accepted.append((row.line, str(answer.get("id")), str(answer.get("status"))))
        progress(1)
    return summary


def write_rejects(path: Path, rows: list[Row], summary: Summary) -> None:
    by_line = {row.line: row for row in rows}
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["line", "error", "message", *COLUMNS])
    problems = sorted(
        (line, code, message) for code, lines in summary.rejected.items() for line, message in lines
    )
    for line, code, message in problems:
        values = by_line[line].values
        writer.writerow([line, code, message, *(values.get(c, "") for c in COLUMNS)])
    path.write_text(out.getvalue(), encoding="utf-8", newline="")


@click.command(name="import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--rate", default="5/s", show_default=True, help="Requests per second (N/s, N/m).")
@click.option("--disclosure-text", help="For rows without a disclosureText column/cell.")
@click.option("--disclosure-version", help="For rows without a disclosureVersion.")
@click.option(
    "--rejects",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the rejected rows here (line, error, message, then the row).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.pass_obj
def import_(
    ctx: Any,
    file: Path,
    rate: str,
    disclosure_text: str | None,
    disclosure_version: str | None,
    rejects: Path | None,
    as_json: bool,
) -> None:
    """Sign up every row of FILE (CSV) through the partner API. Exit 3 if any was rejected."""
    per_second = parse_rate(rate)
    defaults = {
        k: v
        for k, v in (("disclosureText", disclosure_text), ("disclosureVersion", disclosure_version))
        if v
    }
    rows = read_rows(file, defaults)
    client = ctx.client()
    if not client.api_key:
        raise CliError(
            "Give an API key with --api-key or OPTIN_API_KEY (optin keys create NAME).",
            code="no_api_key",
        )
    with click.progressbar(
        length=len(rows), label=f"Importing {len(rows)} rows", file=click.get_text_stream("stderr")
    ) as bar:
        summary = run_import(client, file, rows, defaults, per_second, bar.update)
    if rejects is not None:
        write_rejects(rejects, rows, summary)
    if as_json:
        emit_json(summary.as_dict())
    else:
        for line in summary.lines():
            click.echo(line)
    if summary.rejected_count:
        ctx_exit = click.get_current_context()
        ctx_exit.exit(SOME_REJECTED)


COMMANDS = [import_]
