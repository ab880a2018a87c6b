"""`optin import-pinpoint FILE.json`: the AWS tutorial's Amazon Pinpoint endpoints as contacts
(functions/optin/usecases/importing.py), written through the target's ContactStore. No text
is sent.

The file may be any of Pinpoint's shapes: GetUserEndpoints' answer
({"EndpointsResponse": {"Item": [...]}} or {"Item": [...]}), a JSON array of endpoints, or an
export job's file (one endpoint JSON object per line).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import click

from optin_cli.errors import SOME_REJECTED, CliError
from optin_cli.output import emit_json


def read_endpoints(path: Path) -> list[Any]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise CliError(f"{path} is not UTF-8 text.", code="bad_encoding") from None
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if data is None:
        # An export job writes newline-delimited JSON.
        items = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                items.append(json.loads(line))
            except ValueError:
                raise CliError(
                    f"{path} line {number} is not JSON: give GetUserEndpoints' answer, a JSON "
                    "array of endpoints, or an export file (one endpoint per line).",
                    code="bad_json",
                ) from None
        return items
    if isinstance(data, dict):
        data = (data.get("EndpointsResponse") or data).get("Item", [data] if "Id" in data else None)
    if not isinstance(data, list):
        raise CliError(
            f"{path} holds no endpoints: expected EndpointsResponse.Item, Item, or an array.",
            code="bad_json",
        )
    return data


@click.command(name="import-pinpoint")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print every endpoint's outcome as JSON.")
@click.pass_obj
def import_pinpoint(ctx: Any, file: Path, as_json: bool) -> None:
    """Endpoints from a Pinpoint project become contacts: OptOut NONE → CONFIRMED, ALL →
    OPTED_OUT, with Pinpoint's evidence in the ledger. Importing twice changes nothing.
    Exit 3 if any endpoint was invalid."""
    from optin.domain.phone import mask
    from optin.usecases.importing import Endpoint, Outcome, PinpointImport, Result

    raw = read_endpoints(file)
    importer = PinpointImport(ctx.target.contact_store())
    outcomes: list[Outcome] = []
    for index, item in enumerate(raw, start=1):
        try:
            endpoint = Endpoint.from_json(item)
        except ValueError as error:
            outcomes.append(Outcome(f"#{index}", Result.INVALID, None, str(error), "not_object"))
            continue
        outcomes.append(importer.run(endpoint))
    counts = Counter(str(o.result) for o in outcomes)
    if as_json:
        emit_json(
            {
                "counts": dict(counts),
                "endpoints": [
                    {
                        "endpointId": o.endpoint_id,
                        "result": str(o.result),
                        "phoneNumber": mask(o.phone_number) if o.phone_number else None,
                        "code": o.code,
                        "reason": o.reason,
                    }
                    for o in outcomes
                ],
            }
        )
    else:
        click.echo(
            ", ".join(f"{name}: {counts.get(str(name), 0)}" for name in Result)
            + f" (of {len(outcomes)} endpoints)"
        )
        for o in outcomes:
            if o.result in (Result.INVALID, Result.EXISTS):
                click.echo(f"  {o.endpoint_id}: {o.code}: {o.reason}")
    if counts.get(str(Result.INVALID)):
        click.get_current_context().exit(SOME_REJECTED)


COMMANDS = [import_pinpoint]
