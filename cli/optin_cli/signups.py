"""`optin signup` and `optin status`: the partner API, with a key, as a partner calls it."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from optin_cli.errors import CliError
from optin_cli.http import path_part
from optin_cli.output import emit_json, table

# The partner API's consent fields (functions/optin/handlers/partner_api.py).
CONSENT_FIELDS = ("disclosureText", "disclosureVersion", "capturedAt", "ip", "userAgent", "page")
DEFAULT_DISCLOSURE = (
    "By entering my number I agree to receive text messages. Msg & data rates may apply. "
    "Reply STOP to cancel, HELP for help."
)
_ID = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def read_evidence(path: Path) -> dict[str, Any]:
    """The consent object from a JSON file: the API's consent fields and nothing else."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise CliError(f"{path} is not UTF-8 text.", code="bad_evidence_file") from None
    except ValueError as error:
        raise CliError(f"{path} is not valid JSON ({error}).", code="bad_evidence_file") from None
    if isinstance(data, dict) and isinstance(data.get("consent"), dict):
        data = data["consent"]
    if not isinstance(data, dict):
        raise CliError(
            f"{path} must hold a JSON object of consent fields.", code="bad_evidence_file"
        )
    unknown = sorted(set(data) - set(CONSENT_FIELDS))
    if unknown:
        raise CliError(
            f"{path} has fields the API does not take: {', '.join(unknown)} (it takes "
            f"{', '.join(CONSENT_FIELDS)}).",
            code="bad_evidence_file",
        )
    return data


def signup_body(
    number: str,
    first_name: str | None,
    source: str | None,
    consent: dict[str, Any],
) -> dict[str, Any]:
    body: dict[str, Any] = {"phoneNumber": number, "consent": consent}
    if first_name:
        body["firstName"] = first_name
    if source:
        body["source"] = source
    return body


def show_signup(view: dict[str, Any], *, as_json: bool) -> None:
    if as_json:
        emit_json(view)
        return
    click.echo(f"{view.get('id')}  {view.get('status')}  {view.get('phoneNumber', '')}".rstrip())
    ledger = view.get("ledger")
    if ledger:
        table(("at", "event"), [(e.get("at"), e.get("type")) for e in ledger])


@click.command()
@click.argument("number")
@click.option("--first-name", help="The person's first name (it goes into the text).")
@click.option("--source", help="Your own label for where the consent was collected.")
@click.option(
    "--evidence-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="JSON of the consent you collected: " + ", ".join(CONSENT_FIELDS) + ".",
)
@click.option("--disclosure-text", help="The disclosure the person saw (else a default).")
@click.option("--disclosure-version", help="Its version (else v1).")
@click.option("--idempotency-key", help="Sent as Idempotency-Key: a retry replays the answer.")
@click.option("--json", "as_json", is_flag=True, help="Print the API's answer as JSON.")
@click.pass_obj
def signup(
    ctx: Any,
    number: str,
    first_name: str | None,
    source: str | None,
    evidence_file: Path | None,
    disclosure_text: str | None,
    disclosure_version: str | None,
    idempotency_key: str | None,
    as_json: bool,
) -> None:
    """Sign NUMBER up through the partner API; its confirmation text goes out."""
    consent: dict[str, Any] = read_evidence(evidence_file) if evidence_file else {}
    if disclosure_text:
        consent["disclosureText"] = disclosure_text
    if disclosure_version:
        consent["disclosureVersion"] = disclosure_version
    consent.setdefault("disclosureText", DEFAULT_DISCLOSURE)
    consent.setdefault("disclosureVersion", "v1")
    consent.setdefault("capturedAt", now_iso())
    headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
    answer = ctx.client().call(
        "POST", "/v1/signups", signup_body(number, first_name, source, consent), headers=headers
    )
    if as_json:
        emit_json(answer.body)
    else:
        replayed = " (replayed)" if answer.headers.get("Idempotent-Replayed") else ""
        click.echo(f"{answer.body['id']}  {answer.body['status']}{replayed}")


@click.command()
@click.argument("id_or_number")
@click.option("--json", "as_json", is_flag=True, help="Print the API's answer as JSON.")
@click.pass_obj
def status(ctx: Any, id_or_number: str, as_json: bool) -> None:
    """A sign-up's status and ledger, by its id or by phone number (this key's only)."""
    client = ctx.client()
    if _ID.fullmatch(id_or_number):
        view = client.call("GET", f"/v1/signups/{path_part(id_or_number)}").body
        show_signup(view, as_json=as_json)
        return
    found = client.call("GET", "/v1/signups", query={"phoneNumber": id_or_number}).body
    items = found.get("signups", []) if isinstance(found, dict) else []
    if as_json:
        emit_json(items)
        return
    if not items:
        raise CliError("No sign-up of this number was made with this API key.", code="not_found")
    for view in items:
        show_signup(view, as_json=False)


COMMANDS = [signup, status]
