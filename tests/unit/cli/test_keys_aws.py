"""`optin keys` on a stack: the key goes into the API Gateway usage plan AND the key table;
revoke takes it out of both (botocore's Stubber: moto's apigateway needs packages the pins
leave out)."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from optin.domain.api_keys import matches
from optin_cli.keys import KeyAdmin, UsagePlan, gateway_name
from tests.fakes.api_keys import MemoryApiKeyStore

PLAN = "plan123"


@pytest.fixture
def apigateway() -> Any:
    return boto3.client(
        "apigateway",
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def test_create_puts_the_key_in_the_usage_plan_and_the_table(apigateway: Any) -> None:
    store = MemoryApiKeyStore()
    with Stubber(apigateway) as stub:
        stub.add_response(
            "create_api_key",
            {"id": "gw1", "name": "optin-x", "enabled": True},
            {"name": ANY, "description": "Acme", "enabled": True, "value": ANY},
        )
        stub.add_response(
            "create_usage_plan_key",
            {"id": "gw1", "type": "API_KEY"},
            {"usagePlanId": PLAN, "keyId": "gw1", "keyType": "API_KEY"},
        )
        made = KeyAdmin(store, UsagePlan(apigateway, PLAN)).create("Acme")
        stub.assert_no_pending_responses()
    record = store.get(made.record.key_id)
    assert record is not None and matches(record, made.key)
    assert record.secret_hash != made.key  # only the hash is kept


def test_create_sent_the_key_value_and_its_id_as_the_gateway_name(apigateway: Any) -> None:
    sent: dict[str, Any] = {}

    def capture(params: dict[str, Any], **_: Any) -> None:
        sent.update(params)

    apigateway.meta.events.register("provide-client-params.apigateway.CreateApiKey", capture)
    with Stubber(apigateway) as stub:
        stub.add_response("create_api_key", {"id": "gw1"})
        stub.add_response("create_usage_plan_key", {"id": "gw1"})
        made = KeyAdmin(MemoryApiKeyStore(), UsagePlan(apigateway, PLAN)).create("Acme")
    assert sent["value"] == made.key
    assert sent["name"] == gateway_name(made.record.key_id)


def test_a_usage_plan_failure_leaves_no_key_anywhere(apigateway: Any) -> None:
    store = MemoryApiKeyStore()
    with Stubber(apigateway) as stub:
        stub.add_response("create_api_key", {"id": "gw1"})
        stub.add_client_error("create_usage_plan_key", "NotFoundException", "Invalid Usage Plan")
        stub.add_response("delete_api_key", {}, {"apiKey": "gw1"})
        with pytest.raises(Exception, match="Invalid Usage Plan"):
            KeyAdmin(store, UsagePlan(apigateway, PLAN)).create("Acme")
        stub.assert_no_pending_responses()
    assert store.list() == []


def test_a_table_failure_takes_the_key_out_of_the_gateway_again(apigateway: Any) -> None:
    class Broken(MemoryApiKeyStore):
        def add(self, record: Any) -> None:
            raise RuntimeError("table unavailable")

    with Stubber(apigateway) as stub:
        stub.add_response("create_api_key", {"id": "gw1"})
        stub.add_response("create_usage_plan_key", {"id": "gw1"})
        stub.add_response("delete_api_key", {}, {"apiKey": "gw1"})
        with pytest.raises(RuntimeError):
            KeyAdmin(Broken(), UsagePlan(apigateway, PLAN)).create("Acme")
        stub.assert_no_pending_responses()


def test_revoke_marks_the_table_and_deletes_the_gateway_key(apigateway: Any) -> None:
    store = MemoryApiKeyStore()
    admin = KeyAdmin(store)
    made = admin.create("Acme")  # locally made: no gateway
    name = gateway_name(made.record.key_id)
    with Stubber(apigateway) as stub:
        stub.add_response(
            "get_api_keys",
            {"items": [{"id": "gw1", "name": name}, {"id": "gw2", "name": name + "0"}]},
            {"nameQuery": name, "includeValues": False},
        )
        stub.add_response("delete_api_key", {}, {"apiKey": "gw1"})
        manual = f"partner-{made.record.key_id}"  # docs/deploy.md's hand-made name, once
        stub.add_response(
            "get_api_keys",
            {"items": [{"id": "gw3", "name": manual}]},
            {"nameQuery": manual, "includeValues": False},
        )
        stub.add_response("delete_api_key", {}, {"apiKey": "gw3"})
        record = KeyAdmin(store, UsagePlan(apigateway, PLAN)).revoke(made.record.key_id)
        stub.assert_no_pending_responses()
    assert record.revoked_at is not None
    stored = store.get(made.record.key_id)
    assert stored is not None and not stored.active
