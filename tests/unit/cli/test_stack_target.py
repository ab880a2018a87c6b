"""`--stack NAME`: the stack's outputs from CloudFormation (Stubber), and the operator's
commands on its DynamoDB table (moto) through the same adapters the functions use."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from unittest import mock

import boto3
import pytest
from botocore.stub import Stubber
from click.testing import CliRunner

from optin_cli.errors import CliError
from optin_cli.main import cli
from optin_cli.target import stack_outputs
from tests.support.dynamodb import CONTACTS_TABLE, moto_dynamodb
from tests.support.runtime import REPO_ROOT

OUTPUTS = {
    "ApiUrl": "https://abc.execute-api.us-east-1.amazonaws.com/Prod",
    "ContactsTableName": CONTACTS_TABLE,
    "PartnerUsagePlanId": "plan1",
    "ConsoleUserPoolId": "us-east-1_pool",
}


def cloudformation() -> Any:
    return boto3.client(
        "cloudformation",
        region_name="us-east-1",
        aws_access_key_id="t",
        aws_secret_access_key="t",
    )


def test_outputs_are_read_from_describe_stacks() -> None:
    client = cloudformation()
    with Stubber(client) as stub:
        stub.add_response(
            "describe_stacks",
            {
                "Stacks": [
                    {
                        "StackName": "sms-optin",
                        "CreationTime": "2026-11-01T00:00:00Z",
                        "StackStatus": "CREATE_COMPLETE",
                        "Outputs": [{"OutputKey": k, "OutputValue": v} for k, v in OUTPUTS.items()],
                    }
                ]
            },
            {"StackName": "sms-optin"},
        )
        assert stack_outputs("sms-optin", None, client) == OUTPUTS


def test_an_unknown_stack_is_one_clear_error() -> None:
    client = cloudformation()
    with Stubber(client) as stub:
        stub.add_client_error(
            "describe_stacks", "ValidationError", "Stack with id nope does not exist"
        )
        with pytest.raises(CliError) as raised:
            stack_outputs("nope", None, client)
    assert raised.value.code == "no_stack" and "does not exist" in raised.value.message


@pytest.fixture
def stack() -> Iterator[None]:
    with (
        moto_dynamodb(),
        mock.patch("optin_cli.target.stack_outputs", return_value=OUTPUTS),
    ):
        yield


def run(*argv: str) -> Any:
    return CliRunner().invoke(cli, ["--stack", "sms-optin", "--region", "us-east-1", *argv])


def test_pinpoint_import_and_lists_on_the_stacks_table(stack: None) -> None:
    sample = REPO_ROOT / "tests/fixtures/cli/pinpoint-endpoints.json"
    done = run("import-pinpoint", str(sample), "--json")
    assert done.exit_code == 3, done.output
    assert json.loads(done.output)["counts"]["confirmed"] == 2
    exported = run("export", "--status", "CONFIRMED")
    assert exported.exit_code == 0, exported.output
    lines = exported.output.strip().splitlines()
    assert len(lines) == 3  # header and the two imported contacts
    assert "+12064860901" not in exported.output  # masked unless --unmasked
    unmasked = run("export", "--status", "CONFIRMED", "--unmasked")
    assert "'+12064860901" in unmasked.output
    assert run("pending").output.strip() == "No pending sign-ups."


def test_reply_refuses_a_stack_before_touching_aws() -> None:
    done = CliRunner().invoke(cli, ["--stack", "sms-optin", "reply", "+12065550100", "YES"])
    assert done.exit_code == 1
    assert "sandbox_only" in done.output
