"""`optin users add|list|remove`: the support console's users, by local/users.py's code
(boto3 cognito-idp against the local runtime, or the stack's ConsoleUserPoolId)."""

from __future__ import annotations

import argparse
import io
from typing import Any

import click

from optin_cli.errors import CliError
from optin_cli.output import emit_json


def _args(ctx: Any, command: str, **options: Any) -> argparse.Namespace:
    from local.runtime.config import RuntimeConfig

    target = ctx.target
    return argparse.Namespace(
        command=command,
        endpoint_url=target.api_url if target.is_local else None,
        user_pool_id=target.user_pool_id(),
        template=RuntimeConfig.template,
        prompt=False,
        **options,
    )


def run_users(ctx: Any, command: str, **options: Any) -> str:
    from local import users

    out = io.StringIO()
    try:
        users.run(_args(ctx, command, **options), out)
    except users.UsageError as error:
        raise CliError(str(error)) from None
    return out.getvalue()


def user_rows(ctx: Any) -> list[dict[str, Any]]:
    """Every user as {name, role, status, enabled}: the calls `python -m local users list`
    makes, as data."""
    from local import users

    args = _args(ctx, "list")
    client, pool = users._client(args), users._pool_id(args)
    rows: list[dict[str, Any]] = []
    request: dict[str, Any] = {"UserPoolId": pool}
    while True:
        page = client.list_users(**request)
        for user in page.get("Users", []):
            groups = client.admin_list_groups_for_user(
                UserPoolId=pool, Username=user["Username"]
            ).get("Groups", [])
            names = {g["GroupName"] for g in groups}
            rows.append(
                {
                    "name": user["Username"],
                    "role": next((r for r in ("agent", "viewer") if r in names), None),
                    "status": user.get("UserStatus"),
                    "enabled": user.get("Enabled", True),
                }
            )
        if not page.get("PaginationToken"):
            return rows
        request["PaginationToken"] = page["PaginationToken"]


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
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def list_(ctx: Any, as_json: bool) -> None:
    """Every user with its role and status."""
    if as_json:
        emit_json(user_rows(ctx))
    else:
        click.echo(run_users(ctx, "list"), nl=False)


@users.command()
@click.argument("name")
@click.pass_obj
def remove(ctx: Any, name: str) -> None:
    """Delete NAME (signs it out everywhere)."""
    click.echo(run_users(ctx, "remove", name=name), nl=False)


COMMANDS = [users]
