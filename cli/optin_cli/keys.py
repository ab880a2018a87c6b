"""`optin keys create|list|revoke`: partner API keys.

Locally the key goes into the runtime's key store, as `python -m local keys` does. On a stack
it must pass two gates: API Gateway's usage plan (the key's value as an API Gateway API key,
named `optin-<key id>`, added to the stack's PartnerUsagePlanId) and the key table the
function checks. Create adds it to the gateway first and takes it out again if the table
write fails, so a key is never half-made; revoke marks the table (the function refuses the
key at once) and then deletes the gateway's key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import click

from optin_cli.errors import CliError
from optin_cli.output import emit_json, table

GATEWAY_PREFIX = "optin-"
# How docs/deploy.md named a partner's API Gateway key when it was made by hand.
MANUAL_PREFIX = "partner-"


def gateway_name(key_id: str) -> str:
    return f"{GATEWAY_PREFIX}{key_id}"


@dataclass
class UsagePlan:
    """The stack's usage plan, through boto3's apigateway client."""

    client: Any
    plan_id: str

    def add(self, key_id: str, name: str, value: str) -> str:
        made = self.client.create_api_key(
            name=gateway_name(key_id), description=name[:125], enabled=True, value=value
        )
        try:
            self.client.create_usage_plan_key(
                usagePlanId=self.plan_id, keyId=made["id"], keyType="API_KEY"
            )
        except Exception:
            self.client.delete_api_key(apiKey=made["id"])
            raise
        return str(made["id"])

    def remove(self, key_id: str) -> int:
        """Delete the gateway's key(s) named for key_id; how many there were."""
        deleted = 0
        for name in (gateway_name(key_id), f"{MANUAL_PREFIX}{key_id}"):
            found = self.client.get_api_keys(nameQuery=name, includeValues=False)
            # nameQuery matches by prefix: only the exact name is this key's.
            for key in [k for k in found.get("items", []) if k.get("name") == name]:
                self.client.delete_api_key(apiKey=key["id"])
                deleted += 1
        return deleted


@dataclass
class KeyAdmin:
    store: Any  # optin.ports.api_keys.ApiKeyStore
    plan: UsagePlan | None = None

    def create(self, name: str) -> Any:
        from optin.domain import api_keys
        from optin.domain.clock import utc_now

        made = api_keys.new_key(name, utc_now())
        if self.plan is not None:
            gateway_id = self.plan.add(made.record.key_id, made.record.name, made.key)
            try:
                self.store.add(made.record)
            except Exception:
                self.plan.client.delete_api_key(apiKey=gateway_id)
                raise
        else:
            self.store.add(made.record)
        return made

    def list(self) -> list[Any]:
        return list(self.store.list())

    def revoke(self, key_id: str) -> Any:
        from optin.domain.clock import utc_now

        record = self.store.revoke(key_id, now=utc_now())
        if self.plan is not None:
            self.plan.remove(key_id)
        return record


def admin(target: Any) -> KeyAdmin:
    plan_id = target.usage_plan()
    plan = UsagePlan(target.client("apigateway"), plan_id) if plan_id else None
    return KeyAdmin(target.key_store(), plan)


@click.group()
def keys() -> None:
    """Partner API keys: the key is shown once, only its hash is kept."""


@keys.command()
@click.argument("name")
@click.option("--json", "as_json", is_flag=True)
@click.option("--key-only", is_flag=True, help="Print only the key (for scripts).")
@click.pass_obj
def create(ctx: Any, name: str, as_json: bool, key_only: bool) -> None:
    """Make a key for NAME (who it is for)."""
    from optin.domain.api_keys import InvalidKeyName

    try:
        made = admin(ctx.target).create(name)
    except InvalidKeyName as error:
        raise CliError(error.message, code=error.code, exit_code=2) from None
    if as_json:
        emit_json({"keyId": made.record.key_id, "name": made.record.name, "key": made.key})
        return
    if key_only:
        click.echo(made.key)
        return
    click.echo(f"key id: {made.record.key_id}")
    click.echo(f"name:   {made.record.name}")
    click.echo(f"key:    {made.key}")
    click.echo("Keep the key now: it is not stored and cannot be shown again.", err=True)


@keys.command(name="list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def list_(ctx: Any, as_json: bool) -> None:
    """Every key: id, created, revoked, name (never the key)."""
    from optin.domain.clock import to_iso

    records = admin(ctx.target).list()
    rows = [
        {
            "keyId": r.key_id,
            "name": r.name,
            "createdAt": to_iso(r.created_at),
            "revokedAt": to_iso(r.revoked_at) if r.revoked_at else None,
        }
        for r in records
    ]
    if as_json:
        emit_json(rows)
    elif not rows:
        click.echo("No keys.")
    else:
        table(
            ("keyId", "createdAt", "revokedAt", "name"),
            [(r["keyId"], r["createdAt"], r["revokedAt"] or "-", r["name"]) for r in rows],
        )


@keys.command()
@click.argument("key_id")
@click.pass_obj
def revoke(ctx: Any, key_id: str) -> None:
    """Stop KEY_ID at once."""
    from optin.domain.api_keys import KeyNotFound
    from optin.domain.clock import to_iso

    try:
        record = admin(ctx.target).revoke(key_id)
    except KeyNotFound as error:
        raise CliError(error.message, code=error.code) from None
    click.echo(f"revoked {record.key_id} at {to_iso(record.revoked_at)}")


COMMANDS = [keys]
