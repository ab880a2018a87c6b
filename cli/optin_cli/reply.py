"""`optin reply NUMBER TEXT`: a text from NUMBER to our number, through the local runtime's
SMS sandbox (POST /sandbox/inbound). A stack has real phones and no sandbox."""

from __future__ import annotations

from typing import Any

import click

from optin_cli.errors import CliError


@click.command()
@click.argument("number")
@click.argument("text")
@click.pass_obj
def reply(ctx: Any, number: str, text: str) -> None:
    """Text TEXT from NUMBER to the program (local sandbox only)."""
    if ctx.stack is not None:
        raise CliError(
            f"reply works only against the local runtime's SMS sandbox; stack {ctx.stack} "
            "has real phones: text from one.",
            code="sandbox_only",
        )
    answer = ctx.client().call(
        "POST", "/sandbox/inbound", {"from": number, "body": text}, key_required=False
    )
    click.echo(f"sent from {number}: inbound message {answer.body.get('inboundMessageId')}")


COMMANDS = [reply]
