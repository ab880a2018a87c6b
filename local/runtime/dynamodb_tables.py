"""Creates the template's DynamoDB tables at a DynamoDB endpoint (DynamoDB Local, moto_server).

The definition comes from template.yaml and nowhere else: key schema, attribute definitions,
secondary indexes and billing mode are passed through as CloudFormation declares them (the
CloudFormation property shapes of these are the CreateTable API's shapes). The physical name
is the one the local runtime gives the table everywhere else (`!Ref ContactsTable` in a
function's environment), so a function finds the table it was told about.

Tables that exist keep their data and their definition, with one exception: a table with the
declared key schema that lacks a declared global secondary index gets it (UpdateTable, as a
CloudFormation stack update adds it on AWS), so a local table made by an older template gains
the indexes newer code queries. Nothing is ever removed or replaced.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from local.runtime.cfn_yaml import load_template
from local.runtime.template import TemplateError, _Resolver

TABLE_TYPE = "AWS::DynamoDB::Table"

# The members of a GlobalSecondaryIndex/LocalSecondaryIndex that CreateTable accepts;
# CloudFormation-only members (ContributorInsightsSpecification…) are left out.
_INDEX_KEYS = (
    "IndexName",
    "KeySchema",
    "Projection",
    "ProvisionedThroughput",
    "OnDemandThroughput",
)


def table_names(
    template_path: Path, parameter_overrides: dict[str, str] | None = None
) -> dict[str, str]:
    """Logical id -> the physical table name the local runtime uses, for every table."""
    template = load_template(Path(template_path))
    resolver = _Resolver(template, parameter_overrides or {})
    return {
        logical_id: str(resolver.ref(logical_id))
        for logical_id, resource in template["Resources"].items()
        if resource.get("Type") == TABLE_TYPE
    }


def create_table_requests(
    template_path: Path, parameter_overrides: dict[str, str] | None = None
) -> list[dict[str, Any]]:
    """The CreateTable request for each table of the template, in template order."""
    template = load_template(Path(template_path))
    resolver = _Resolver(template, parameter_overrides or {})
    requests = []
    for logical_id, resource in template["Resources"].items():
        if resource.get("Type") != TABLE_TYPE:
            continue
        props = resolver.resolve(resource.get("Properties") or {})
        for required in ("KeySchema", "AttributeDefinitions"):
            if not props.get(required):
                raise TemplateError(f"{logical_id}: a DynamoDB table needs {required}")
        request: dict[str, Any] = {
            "TableName": str(resolver.ref(logical_id)),
            "KeySchema": props["KeySchema"],
            "AttributeDefinitions": props["AttributeDefinitions"],
            # CloudFormation's default, when the template does not say.
            "BillingMode": props.get("BillingMode") or "PROVISIONED",
        }
        if request["BillingMode"] == "PROVISIONED":
            if "ProvisionedThroughput" not in props:
                raise TemplateError(
                    f"{logical_id}: BillingMode PROVISIONED needs ProvisionedThroughput"
                )
            request["ProvisionedThroughput"] = props["ProvisionedThroughput"]
        for indexes in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
            if props.get(indexes):
                request[indexes] = [
                    {key: index[key] for key in _INDEX_KEYS if key in index}
                    for index in props[indexes]
                ]
        requests.append(request)
    return requests


def ensure_tables(
    client: Any,
    template_path: Path,
    *,
    parameter_overrides: dict[str, str] | None = None,
    timeout_seconds: float = 60.0,
    poll_seconds: float = 0.2,
    sleep: Callable[[float], None] = time.sleep,
) -> list[str]:
    """Create every table of the template that `client`'s endpoint lacks; wait until each
    table of the template (and each of its indexes) is ACTIVE; return the names created.

    `client` is a boto3 DynamoDB client. Errors other than "already there" propagate.
    """
    created: list[str] = []
    requests = create_table_requests(Path(template_path), parameter_overrides)
    deadline = time.monotonic() + timeout_seconds
    for request in requests:
        name = request["TableName"]
        existing = _describe(client, name)
        if existing is not None:
            _add_missing_indexes(client, request, existing, deadline, poll_seconds, sleep)
            continue
        try:
            client.create_table(**request)
        except ClientError as error:
            # Another process (a second runtime on the same endpoint) created it first.
            if error.response.get("Error", {}).get("Code") != "ResourceInUseException":
                raise
        else:
            created.append(name)
    for request in requests:
        _wait_active(client, request["TableName"], deadline, poll_seconds, sleep)
    return created


def _add_missing_indexes(
    client: Any,
    request: dict[str, Any],
    table: dict[str, Any],
    deadline: float,
    poll_seconds: float,
    sleep: Callable[[float], None],
) -> None:
    """Create the declared global secondary indexes an existing table of the declared key
    schema lacks, one UpdateTable each (DynamoDB takes one index creation per call)."""
    if table.get("KeySchema") != request["KeySchema"]:
        return  # not this template's table: left alone
    have = {index["IndexName"] for index in table.get("GlobalSecondaryIndexes") or []}
    types = {a["AttributeName"]: a for a in request["AttributeDefinitions"]}
    for index in request.get("GlobalSecondaryIndexes") or []:
        if index["IndexName"] in have:
            continue
        keys = [key["AttributeName"] for key in index["KeySchema"]]
        # A table accepts one index change at a time: the one before must be ACTIVE.
        _wait_active(client, request["TableName"], deadline, poll_seconds, sleep)
        client.update_table(
            TableName=request["TableName"],
            AttributeDefinitions=[types[name] for name in keys],
            GlobalSecondaryIndexUpdates=[{"Create": index}],
        )


def _describe(client: Any, name: str) -> dict[str, Any] | None:
    try:
        table: dict[str, Any] = client.describe_table(TableName=name)["Table"]
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            return None
        raise
    return table


def _wait_active(
    client: Any, name: str, deadline: float, poll_seconds: float, sleep: Callable[[float], None]
) -> None:
    while True:
        table = _describe(client, name)
        status = table.get("TableStatus") if table else "absent"
        indexes = (table or {}).get("GlobalSecondaryIndexes") or []
        pending = [i["IndexName"] for i in indexes if i.get("IndexStatus", "ACTIVE") != "ACTIVE"]
        if status == "ACTIVE" and not pending:
            return
        if time.monotonic() >= deadline:
            detail = f"table is {status}" + (f", indexes {pending} are not" if pending else "")
            raise TimeoutError(f"DynamoDB table {name} did not become ACTIVE in time ({detail}).")
        sleep(poll_seconds)
