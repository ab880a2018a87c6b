"""DynamoDB for tests: moto in process, tables made from template.yaml by the CreateTable requests
the runtime's ensure_tables sends."""

from __future__ import annotations

import copy
import functools
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from unittest import mock

import boto3
from moto import mock_aws

from local.runtime.dynamodb_tables import create_table_requests, table_names

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
REGION = "us-east-1"
CONTACTS_TABLE = table_names(TEMPLATE)["ContactsTable"]


@functools.cache
def _table_requests() -> list[dict[str, Any]]:
    """Parsed once per session: reading template.yaml (PyYAML in pure Python) was 0.5 s of
    the 0.66 s each moto_dynamodb took, and every contract test on DynamoDB starts one."""
    return create_table_requests(TEMPLATE)


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
            # What ensure_tables does on an endpoint without the tables (moto's start out
            # ACTIVE); ensure_tables itself is tested in tests/unit/local_runtime and on every
            # runtime start with TEST_DYNAMODB=moto.
            for request in _table_requests():
                dynamodb.create_table(**copy.deepcopy(request))
            yield dynamodb
