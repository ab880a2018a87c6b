"""`optin users add|list|remove`: the support console's users, by local/users.py's code
(boto3 cognito-idp against the local runtime, or the stack's ConsoleUserPoolId)."""

from __future__ import annotations

import argparse
import io
from typing import Any

import click

from optin_cli.errors import CliError


def run_users(ctx: Any, command: str, **options: Any) -> str:
    from local import users
    from local.runtime.config import RuntimeConfig

    target = ctx.target
    args = argparse.Namespace(
        command=command,
        endpoint_url=target.api_url if target.is_local else None,
        user_pool_id=target.user_pool_id(),
        template=RuntimeConfig.template,
        prompt=False,
        **options,
    )
    out = io.StringIO()
    try:
        users.run(args, out)
    except users.UsageError as error:
        raise CliError(str(error)) from None
    return out.getvalue()


@click.group()
def users() -> None:
    """Support console users (viewer: numbers masked; agent: may act)."""


@users.command()
@click.argument("name")
@click.option("--role", type=click.Choice(("viewer", "agent")), required=True)
@click.pass_obj
def add(ctx: Any, name: str, role: str) -> None:
    """Create NAME in a role; its password is printed once."""
    click.echo(run_users(ctx, "add", name=name, role=role), nl=False)


@users.command(name="list")
@click.pass_obj
def list_(ctx: Any) -> None:
    """Every user with its role and status."""
    click.echo(run_users(ctx, "list"), nl=False)


@users.command()
@click.argument("name")
@click.pass_obj
def remove(ctx: Any, name: str) -> None:
    """Delete NAME (signs it out everywhere)."""
    click.echo(run_users(ctx, "remove", name=name), nl=False)


COMMANDS = [users]
