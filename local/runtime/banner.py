"""What `python -m local` prints once it serves: where everything is, and how to reach it.

Kept apart from the server so that it can be tested without starting one, and so that what a
new user reads first (the parameters in force, the line that makes `aws` work) is one function.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local.runtime.cfn_yaml import load_template
from local.runtime.template import Application

# The AWS CLI and boto3 refuse to send a request without a region and credentials; the runtime
# accepts any, so these are the ones it gives its own handlers (server.REGION and friends).
EXPORT_LINE_TEMPLATE = (
    "export AWS_DEFAULT_REGION={region} AWS_ACCESS_KEY_ID={key} AWS_SECRET_ACCESS_KEY={secret}"
)


@dataclass(frozen=True)
class Parameter:
    name: str
    value: str
    overridden: bool
    secret: bool = False  # NoEcho: CloudFormation never shows it, nor do we


def template_parameters(template: Path, overrides: Mapping[str, str]) -> list[Parameter]:
    """The template's parameters in template order, with the value in force for each."""
    spec: dict[str, Any] = load_template(template).get("Parameters") or {}
    out: list[Parameter] = []
    for name, details in spec.items():
        details = details or {}
        overridden = name in overrides
        value = overrides[name] if overridden else details.get("Default", "")
        out.append(
            Parameter(
                name=name,
                value=str(value),
                overridden=overridden,
                secret=str(details.get("NoEcho", "")).lower() == "true",
            )
        )
    return out


def export_line(region: str, access_key_id: str, secret_access_key: str) -> str:
    return EXPORT_LINE_TEMPLATE.format(region=region, key=access_key_id, secret=secret_access_key)


def banner_lines(
    *,
    endpoint: str,
    app: Application,
    parameters: Iterable[Parameter],
    stores: Iterable[str],
    data_dir: Path,
    export: str,
    external_stepfunctions: str | None = None,
    warnings: Iterable[str] = (),
    console_sign_in: str | None = None,
) -> list[str]:
    """The lines printed at start, without trailing newlines.

    The first line starts with "Local runtime ready", which tests and scripts wait for.
    The Lambda Invoke API is listed only with an external Step Functions, the one case in
    which the runtime serves it (its only caller is that Step Functions). Warnings (e.g. a
    listening address other than loopback) come last, where the terminal leaves them in view.
    """
    lines = [
        f"Local runtime ready: {endpoint}/",
        f"  sign-up form     {endpoint}/",
        f"  phone simulator  {endpoint}/simulator.html",
    ]
    if console_sign_in:
        # Opens the console signed in as admin, once; `python -m local users` for the rest.
        lines.append(f"  support console  {endpoint}/console/")
        lines.append(f"  sign in once     {console_sign_in}")
    lines += [
        f"  API {r.method:6} {r.path:28} → {r.function_id}"
        + (f" (signed in: {r.authorizer})" if r.authorizer else "")
        + (" (API key)" if r.api_key_required else "")
        for r in app.routes
    ]
    lines += [f"  state machine    {m.arn}" for m in app.state_machines.values()]
    if external_stepfunctions:
        lines.append(f"  Step Functions   {external_stepfunctions} (external)")
        lines.append(f"  Lambda invoke    {endpoint}/2015-03-31/functions/<name>/invocations")
    lines += [f"  contacts         {store}" for store in stores]
    lines.append(f"  data             {data_dir}")

    params = list(parameters)
    if params:
        lines.append("Template parameters (* = from --parameter-overrides):")
        width = max(len(p.name) for p in params)
        for p in params:
            value = "****" if p.secret else (p.value if p.value != "" else '""')
            lines.append(f"  {'*' if p.overridden else ' '} {p.name:{width}} = {value}")
    lines.append("For the aws CLI and boto3 (any credentials work locally), paste:")
    lines.append(f"  {export}")
    lines += [f"WARNING: {warning}" for warning in warnings]
    return lines
