"""`optin pending`, `optin expired`, `optin export`: the operator's view, read through the
console's use case (Console.list_signups / export_signups) over the target's ContactStore,
so masking, filters and the CSV rules are the console's own."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click

from optin_cli.errors import CliError
from optin_cli.output import emit_json, table

_AGO = re.compile(r"(\d+)([mhd])")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}
MAX_LIMIT = 10_000


def parse_since(raw: str | None, now: datetime | None = None) -> datetime | None:
    """`24h`, `7d`, `30m` ago, or an ISO date/time (UTC unless it says otherwise)."""
    if raw is None:
        return None
    match = _AGO.fullmatch(raw.strip())
    if match:
        return (now or datetime.now(UTC)) - timedelta(**{_UNITS[match[2]]: int(match[1])})
    try:
        moment = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(
            f"{raw!r} is neither a duration (30m, 24h, 7d) nor an ISO date (2026-11-01)."
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class _NoExecutions:
    """The lists and exports never read executions; a command that did would say so."""

    def __getattr__(self, name: str) -> Any:
        raise CliError("This command cannot read workflow executions.", code="unsupported")


def console(target: Any) -> Any:
    from optin.usecases.console import Console

    return Console(store=target.contact_store(), reader=_NoExecutions())


def listing(target: Any, request: Any, *, unmasked: bool, limit: int) -> list[dict[str, Any]]:
    """Up to `limit` summaries, following the console's cursors page by page."""
    from optin.usecases.console import BadRequest

    view = console(target)
    items: list[dict[str, Any]] = []
    cursor = None
    while len(items) < limit:
        page_request = replace(request, limit=min(100, limit - len(items)), cursor=cursor)
        try:
            page = view.list_signups(page_request, viewer=not unmasked)
        except BadRequest as error:
            raise CliError(error.message, code=error.code) from None
        items.extend(page["items"])
        cursor = page["nextCursor"]
        if cursor is None:
            break
    return items


def _status_command(name: str, status: str, help_text: str) -> click.Command:
    @click.command(name=name, help=help_text)
    @click.option("--since", help="Changed since: 30m, 24h, 7d, or an ISO date.")
    @click.option("--limit", type=click.IntRange(1, MAX_LIMIT), default=25, show_default=True)
    @click.option("--unmasked", is_flag=True, help="Show whole numbers (default: masked).")
    @click.option("--json", "as_json", is_flag=True, help="Print the list as JSON.")
    @click.pass_obj
    def command(ctx: Any, since: str | None, limit: int, unmasked: bool, as_json: bool) -> None:
        from optin.domain.contact import Status
        from optin.usecases.console import ListRequest

        request = ListRequest(statuses=(Status(status),), updated_from=parse_since(since))
        items = listing(ctx.target, request, unmasked=unmasked, limit=limit)
        if as_json:
            emit_json(items)
            return
        if not items:
            click.echo(f"No {status.lower()} sign-ups.")
            return
        table(
            ("registrationId", "phoneNumber", "updatedAt", "outcome"),
            [
                (i["registrationId"], i["phoneNumber"], i["updatedAt"], i["outcome"]["summary"])
                for i in items
            ],
        )

    return command


pending = _status_command("pending", "PENDING", "Sign-ups waiting for a reply, newest first.")
expired = _status_command(
    "expired", "EXPIRED", "Sign-ups whose window closed unconfirmed, newest first."
)

STATUSES = ("PENDING", "CONFIRMED", "EXPIRED", "OPTED_OUT", "REJECTED")


@click.command()
@click.option(
    "--status",
    "statuses",
    multiple=True,
    type=click.Choice(STATUSES, case_sensitive=False),
    help="Only these statuses (repeat it); default all.",
)
@click.option("--since", help="Changed since: 30m, 24h, 7d, or an ISO date.")
@click.option("--until", help="Changed until: an ISO date/time or a duration ago.")
@click.option("--unmasked", is_flag=True, help="Whole numbers (default: masked, as a viewer).")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the CSV here (default: standard output).",
)
@click.pass_obj
def export(
    ctx: Any,
    statuses: tuple[str, ...],
    since: str | None,
    until: str | None,
    unmasked: bool,
    output: Path | None,
) -> None:
    """The filtered list as CSV, by the console's rules (formula cells neutralised)."""
    from optin.domain.contact import Status
    from optin.usecases.console import BadRequest, ListRequest

    chosen = tuple(Status(s.upper()) for s in statuses) or tuple(Status)
    request = ListRequest(
        statuses=chosen, updated_from=parse_since(since), updated_to=parse_since(until)
    )
    try:
        text = console(ctx.target).export_signups(request, viewer=not unmasked)
    except BadRequest as error:
        raise CliError(error.message, code=error.code) from None
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8", newline="")
        click.echo(f"Wrote {text.count(chr(10)) - 1} rows to {output}.", err=True)


COMMANDS = [pending, expired, export]
