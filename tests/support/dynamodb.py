"""DynamoDB for tests: moto in process, tables made from template.yaml by ensure_tables."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from unittest import mock

import boto3
from moto import mock_aws

from local.runtime.dynamodb_tables import ensure_tables, table_names

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
REGION = "us-east-1"
CONTACTS_TABLE = table_names(TEMPLATE)["ContactsTable"]


def client() -> Any:
    """A low-level client in moto's region (call inside `moto_dynamodb`)."""
    return boto3.session.Session().client("dynamodb", region_name=REGION)


@contextmanager
def moto_dynamodb() -> Iterator[Any]:
    """moto's DynamoDB with the template's tables; yields a client.

    Endpoint variables are cleared: moto only intercepts requests to AWS's own endpoints,
    and a developer's AWS_ENDPOINT_URL_DYNAMODB must not send test writes elsewhere.
    """
    fake = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
    # patch.dict restores the whole environment on exit, the deleted names included.
    with mock.patch.dict(os.environ, fake):
        for name in [n for n in os.environ if n.startswith("AWS_ENDPOINT_URL")]:
            del os.environ[name]
        os.environ.pop("AWS_PROFILE", None)
        with mock_aws():
            dynamodb = client()
            ensure_tables(dynamodb, TEMPLATE)
            yield dynamodb
