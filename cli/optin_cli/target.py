"""Where a command acts: the local runtime (--local, the default) or a deployed stack
(--stack NAME). Each target gives the same things: the partner API's URL, the contact and
key stores (the functions' own adapters), the console's user pool, and what only one side
has (the SMS sandbox locally; the usage plan on AWS)."""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from optin_cli import REPO_ROOT
from optin_cli.errors import CliError

DEFAULT_DATA_DIR = REPO_ROOT / ".local"
DEFAULT_ENV_VARS = REPO_ROOT / "local" / "env.json"


def local_api_url() -> str:
    return f"http://127.0.0.1:{os.environ.get('PORT') or 8000}"


@dataclass
class Target:
    """The local runtime (stack None) or a stack; built lazily, per command."""

    api_url: str
    stack: str | None = None
    region: str | None = None
    data_dir: Path = DEFAULT_DATA_DIR
    env_vars: Path = DEFAULT_ENV_VARS
    outputs: dict[str, str] = field(default_factory=dict)
    # A local runtime started with --dynamodb-endpoint keeps its stores there.
    dynamodb_endpoint: str | None = None

    @property
    def is_local(self) -> bool:
        return self.stack is None

    @property
    def where(self) -> str:
        return f"stack {self.stack}" if self.stack else f"the local runtime ({self.api_url})"

    # --- stores ----------------------------------------------------------------------------

    def _sqlite_path(self, *, must_exist: bool) -> Path:
        from local.keys import UsageError, store_path

        try:
            path = store_path(argparse.Namespace(data_dir=self.data_dir, env_vars=self.env_vars))
        except UsageError as error:
            raise CliError(str(error), code="no_store") from None
        if must_exist and not path.exists():
            raise CliError(
                f"No local data at {path}: start the runtime once (make run), or give --data-dir.",
                code="no_store",
            )
        return path

    def _output(self, name: str) -> str:
        value = self.outputs.get(name)
        if not value:
            raise CliError(f"Stack {self.stack} has no {name} output.", code="no_output")
        return value

    def _local_dynamodb(self) -> tuple[str, Any]:
        """The template's contacts table at the runtime's DynamoDB endpoint, with the
        runtime's own region and credentials (DynamoDB Local keeps one database per access
        key and region), as `python -m local keys --dynamodb-endpoint` reaches it."""
        import boto3

        from local.runtime.config import RuntimeConfig
        from local.runtime.dynamodb_tables import table_names
        from local.runtime.server import ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY

        def client() -> Any:
            return boto3.client(
                "dynamodb",
                endpoint_url=self.dynamodb_endpoint,
                region_name=REGION,
                aws_access_key_id=ACCESS_KEY_ID,
                aws_secret_access_key=SECRET_ACCESS_KEY,
            )

        return table_names(RuntimeConfig.template)["ContactsTable"], client

    def client(self, service: str) -> Any:
        import boto3

        return (
            boto3.client(service, region_name=self.region) if self.region else boto3.client(service)
        )

    def contact_store(self) -> Any:
        if self.is_local and self.dynamodb_endpoint:
            from optin.adapters.dynamodb_contact_store import DynamoDbContactStore

            return DynamoDbContactStore(*self._local_dynamodb())
        if self.is_local:
            from optin.adapters.sqlite_contact_store import SqliteContactStore

            return SqliteContactStore(self._sqlite_path(must_exist=True))
        from optin.adapters.dynamodb_contact_store import DynamoDbContactStore

        return DynamoDbContactStore(
            self._output("ContactsTableName"), lambda: self.client("dynamodb")
        )

    def key_store(self) -> Any:
        if self.is_local and self.dynamodb_endpoint:
            from optin.adapters.dynamodb_api_key_store import DynamoDbApiKeyStore

            return DynamoDbApiKeyStore(*self._local_dynamodb())
        if self.is_local:
            from optin.adapters.sqlite_api_key_store import SqliteApiKeyStore

            path = self._sqlite_path(must_exist=False)
            path.parent.mkdir(parents=True, exist_ok=True)
            return SqliteApiKeyStore(path)
        from optin.adapters.dynamodb_api_key_store import DynamoDbApiKeyStore

        return DynamoDbApiKeyStore(
            self._output("ContactsTableName"), lambda: self.client("dynamodb")
        )

    def usage_plan(self) -> str | None:
        return None if self.is_local else self._output("PartnerUsagePlanId")

    def user_pool_id(self) -> str | None:
        return None if self.is_local else self._output("ConsoleUserPoolId")


def resolve(
    *,
    stack: str | None,
    region: str | None,
    api_url: str | None,
    data_dir: Path | None,
    dynamodb_endpoint: str | None = None,
) -> Target:
    if stack is None:
        return Target(
            api_url=(api_url or os.environ.get("OPTIN_API_URL") or local_api_url()).rstrip("/"),
            data_dir=(data_dir or DEFAULT_DATA_DIR).resolve(),
            dynamodb_endpoint=dynamodb_endpoint,
        )
    outputs = stack_outputs(stack, region)
    url = api_url or outputs.get("ApiUrl")
    if not url:
        raise CliError(f"Stack {stack} has no ApiUrl output.", code="no_output")
    return Target(api_url=url.rstrip("/"), stack=stack, region=region, outputs=outputs)


def stack_outputs(stack: str, region: str | None, client: Any = None) -> dict[str, str]:
    """The stack's CloudFormation outputs, OutputKey → OutputValue (template.yaml Outputs)."""
    from botocore.exceptions import BotoCoreError, ClientError

    if client is None:
        import boto3

        client = (
            boto3.client("cloudformation", region_name=region)
            if region
            else boto3.client("cloudformation")
        )
    try:
        stacks = client.describe_stacks(StackName=stack)["Stacks"]
    except ClientError as error:
        detail = error.response.get("Error", {})
        raise CliError(f"Stack {stack}: {detail.get('Message')}", code="no_stack") from None
    except BotoCoreError as error:
        raise CliError(f"Cannot read stack {stack}: {error}", code="aws_unavailable") from None
    if not stacks:
        raise CliError(f"No stack named {stack}.", code="no_stack")
    return {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}
