"""`optin webhook set|show|deliveries|replay|test`: the partner's webhook, through the partner
API's /v1/webhook routes (docs/cli.md, docs/webhooks.md)."""

from __future__ import annotations

from typing import Any

import click

from optin_cli.http import path_part
from optin_cli.output import emit_json, table

EVENTS = ("signup.confirmed", "signup.expired", "signup.opted_out", "signup.rejected")


@click.group()
def webhook() -> None:
    """Your webhook: where signed sign-up events are POSTed."""


@webhook.command(name="set")
@click.argument("url")
@click.option(
    "--event", "events", multiple=True, type=click.Choice(EVENTS), help="Repeat; default all."
)
@click.option("--rotate", is_flag=True, help="Make a new signing secret (shown once).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def set_(ctx: Any, url: str, events: tuple[str, ...], rotate: bool, as_json: bool) -> None:
    """Send events to URL (https)."""
    body: dict[str, Any] = {"url": url}
    if events:
        body["events"] = list(events)
    answer = (
        ctx.client()
        .call("PUT", "/v1/webhook", body, query={"rotate": "true"} if rotate else None)
        .body
    )
    if as_json:
        emit_json(answer)
        return
    click.echo(f"url:    {answer.get('url')}")
    click.echo(f"events: {', '.join(answer.get('events') or [])}")
    if answer.get("secret"):
        click.echo(f"secret: {answer['secret']}")
        click.echo("Keep the secret now: it is shown only when set or rotated.", err=True)


@webhook.command()
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def show(ctx: Any, as_json: bool) -> None:
    """Your webhook's URL and events (never the secret)."""
    answer = ctx.client().call("GET", "/v1/webhook").body
    if as_json:
        emit_json(answer)
        return
    click.echo(f"url:     {answer.get('url')}")
    click.echo(f"events:  {', '.join(answer.get('events') or [])}")
    click.echo(f"created: {answer.get('createdAt')}")


@webhook.command()
@click.option("--status", type=click.Choice(("pending", "delivered", "failed")))
@click.option("--limit", type=click.IntRange(1, 100), default=25, show_default=True)
@click.option("--cursor", help="nextCursor from the last page.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def deliveries(ctx: Any, status: str | None, limit: int, cursor: str | None, as_json: bool) -> None:
    """The delivery log, newest first."""
    answer = (
        ctx.client()
        .call(
            "GET",
            "/v1/webhook/deliveries",
            query={"status": status, "limit": limit, "cursor": cursor},
        )
        .body
    )
    if as_json:
        emit_json(answer)
        return
    items = answer.get("deliveries") or []
    if not items:
        click.echo("No deliveries.")
    else:
        table(
            ("id", "event", "status", "attempts", "lastStatusCode", "createdAt"),
            [
                (
                    d.get("id"),
                    (d.get("event") or {}).get("type"),
                    d.get("status"),
                    len(d.get("attempts") or []),
                    ((d.get("attempts") or [{}])[-1] or {}).get("statusCode"),
                    d.get("createdAt"),
                )
                for d in items
            ],
        )
    if answer.get("nextCursor"):
        click.echo(f"more: --cursor {answer['nextCursor']}")


@webhook.command()
@click.argument("delivery_id")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def replay(ctx: Any, delivery_id: str, as_json: bool) -> None:
    """Queue DELIVERY_ID again now."""
    answer = (
        ctx.client().call("POST", f"/v1/webhook/deliveries/{path_part(delivery_id)}/replay").body
    )
    if as_json:
        emit_json(answer)
    else:
        click.echo(f"queued {answer.get('id')} again ({answer.get('status')})")


@webhook.command()
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def test(ctx: Any, as_json: bool) -> None:
    """Queue a webhook.test event to your URL."""
    answer = ctx.client().call("POST", "/v1/webhook/test").body
    if as_json:
        emit_json(answer)
    else:
        click.echo(f"queued test delivery {answer.get('deliveryId')}")


COMMANDS = [webhook]
