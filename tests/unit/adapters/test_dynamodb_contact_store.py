"""DynamoDbContactStore against botocore's Stubber: every request it makes is checked against
the DynamoDB service model, and each failure is mapped as the domain expects (the error
bodies have the shape botocore parses from DynamoDB's JSON protocol)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.exceptions import (
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ReadTimeoutError,
)
from botocore.stub import ANY, Stubber

from optin.adapters import dynamodb_contact_store as module
from optin.adapters.dynamodb_contact_store import DynamoDbContactStore
from optin.domain import contact as transitions
from optin.domain.contact import Status
from optin.domain.errors import ConfigError, StoreUnavailable, TransitionConflict

TABLE = "Contacts"
NUMBER = "+12065550100"
NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
KEY = {"pk": {"S": f"CONTACT#{NUMBER}"}, "sk": {"S": "CONTACT"}}


@pytest.fixture
def stubbed() -> Iterator[tuple[DynamoDbContactStore, Stubber]]:
    client = boto3.session.Session().client(
        "dynamodb",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    with Stubber(client) as stubber:
        yield DynamoDbContactStore(TABLE, lambda: client), stubber
        stubber.assert_no_pending_responses()


def pending() -> transitions.Change:
    return transitions.request(
        None,
        phone_number=NUMBER,
        registration_id="reg-1",
        first_name=None,
        execution_arn=None,
        evidence={},
        validation={},
        now=NOW,
    )


def client_error(stubber: Stubber, method: str, code: str, **extra: Any) -> None:
    stubber.add_client_error(
        method, service_error_code=code, service_message=f"{code} happened", **extra
    )


def test_reads_are_strongly_consistent(stubbed) -> None:
    store, stubber = stubbed
    stubber.add_response("get_item", {}, {"TableName": TABLE, "Key": KEY, "ConsistentRead": True})
    assert store.get(NUMBER) is None
    stubber.add_response(
        "query",
        {"Items": []},
        {
            "TableName": TABLE,
            "KeyConditionExpression": ANY,
            "ExpressionAttributeValues": ANY,
            "ConsistentRead": True,
        },
    )
    assert store.events(NUMBER) == []


def test_a_new_contact_is_one_conditional_transaction(stubbed) -> None:
    store, stubber = stubbed
    change = pending()
    captured: dict[str, Any] = {}

    def check(params: dict[str, Any], **_: Any) -> None:
        captured.update(params)

    stubber.add_response("transact_write_items", {}, {"TransactItems": ANY})
    store._client().meta.events.register("provide-client-params.dynamodb.*", check)
    store.save(change.after, expected_version=None, events=change.events)
    *puts, counters = captured["TransactItems"]
    contact, event, registration = (action["Put"] for action in puts)
    # The funnel's day counters, last: the conditional items keep their reason positions.
    assert counters["Update"]["Key"]["pk"] == {"S": "STATS#DAILY"}
    assert "ConditionExpression" not in counters["Update"]
    assert contact["ConditionExpression"] == "attribute_not_exists(pk)"
    assert contact["Item"]["status"] == {"S": "PENDING"}
    assert "firstName" not in contact["Item"]  # None fields are left out
    assert event["Item"]["sk"] == {"S": "EVENT#0000000001#000"}
    assert event["ConditionExpression"] == "attribute_not_exists(pk)"
    assert registration["Item"]["pk"] == {"S": "REGISTRATION#reg-1"}
    assert registration["ConditionExpression"] == "attribute_not_exists(pk)"


@pytest.mark.parametrize(
    "code",
    [
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
    ],
)
def test_throttling_and_service_errors_are_store_unavailable(stubbed, code: str) -> None:
    store, stubber = stubbed
    client_error(stubber, "get_item", code)
    with pytest.raises(StoreUnavailable, match=code):
        store.get(NUMBER)
    client_error(stubber, "transact_write_items", code)
    with pytest.raises(StoreUnavailable):
        store.save(pending().after, expected_version=None)
    client_error(stubber, "query", code)
    with pytest.raises(StoreUnavailable):
        store.list_by_status(Status.PENDING)
    client_error(stubber, "put_item", code)
    with pytest.raises(StoreUnavailable):
        store.claim_send("k", phone_number=NUMBER, now=NOW)
    client_error(stubber, "update_item", code)
    with pytest.raises(StoreUnavailable):
        store.complete_send("k", message_id="m", now=NOW)


def test_a_missing_table_is_a_config_error_naming_it(stubbed) -> None:
    store, stubber = stubbed
    client_error(stubber, "get_item", "ResourceNotFoundException")
    with pytest.raises(ConfigError, match=TABLE):
        store.get(NUMBER)


def test_other_client_errors_propagate_unchanged(stubbed) -> None:
    store, stubber = stubbed
    client_error(stubber, "get_item", "AccessDeniedException")
    with pytest.raises(ClientError, match="AccessDenied"):
        store.get(NUMBER)
    client_error(stubber, "put_item", "ValidationException")
    with pytest.raises(ClientError, match="ValidationException"):
        store.mark_inbound_processed("in-1", phone_number=NUMBER, processed_at=NOW)


def cancelled(stubber: Stubber, *reasons: str) -> None:
    client_error(
        stubber,
        "transact_write_items",
        "TransactionCanceledException",
        modeled_fields={"CancellationReasons": [{"Code": reason} for reason in reasons]},
    )


def test_a_lost_condition_is_a_transition_conflict(stubbed) -> None:
    store, stubber = stubbed
    cancelled(stubber, "ConditionalCheckFailed", "None", "None")
    with pytest.raises(TransitionConflict, match="version"):
        store.save(pending().after, expected_version=None, events=pending().events)
    cancelled(stubber, "None", "ConditionalCheckFailed", "None")
    with pytest.raises(TransitionConflict, match="exist already"):
        store.save(pending().after, expected_version=None, events=pending().events)
    cancelled(stubber, "TransactionConflict", "None", "None")
    with pytest.raises(TransitionConflict):
        store.save(pending().after, expected_version=None, events=pending().events)
    client_error(stubber, "transact_write_items", "TransactionConflictException")
    with pytest.raises(TransitionConflict):
        store.save(pending().after, expected_version=None)


def test_a_throttled_transaction_is_store_unavailable(stubbed) -> None:
    store, stubber = stubbed
    cancelled(stubber, "ThrottlingError", "None")
    with pytest.raises(StoreUnavailable, match="ThrottlingError"):
        store.save(pending().after, expected_version=None, events=pending().events[:0])


def test_a_transaction_refused_for_another_reason_propagates(stubbed) -> None:
    store, stubber = stubbed
    cancelled(stubber, "ValidationError")
    with pytest.raises(ClientError, match="TransactionCanceled"):
        store.save(pending().after, expected_version=None)


def test_reasons_are_read_from_the_message_when_the_member_is_absent() -> None:
    error = ClientError(
        {
            "Error": {
                "Code": "TransactionCanceledException",
                "Message": "Transaction cancelled, please refer cancellation reasons for "
                "specific reasons [None, ConditionalCheckFailed]",
            }
        },
        "TransactWriteItems",
    )
    assert module._cancellation_reasons(error) == ["None", "ConditionalCheckFailed"]


def test_a_taken_claim_is_read_back_consistently(stubbed) -> None:
    store, stubber = stubbed
    client_error(stubber, "put_item", "ConditionalCheckFailedException")
    stubber.add_response(
        "get_item",
        {"Item": {"claimState": {"S": "sent"}, "messageId": {"S": "m-1"}}},
        {"TableName": TABLE, "Key": ANY, "ConsistentRead": True},
    )
    claim = store.claim_send("k", phone_number=NUMBER, now=NOW)
    assert not claim.claimed and claim.message_id == "m-1"


def test_a_claim_released_between_put_and_read_is_tried_again(stubbed) -> None:
    store, stubber = stubbed
    client_error(stubber, "put_item", "ConditionalCheckFailedException")
    stubber.add_response("get_item", {"Item": {"claimState": {"S": "released"}}})
    stubber.add_response("put_item", {})
    assert store.claim_send("k", phone_number=NUMBER, now=NOW).claimed


def test_a_claim_flapping_forever_is_not_taken(stubbed) -> None:
    store, stubber = stubbed
    for _ in range(2):
        client_error(stubber, "put_item", "ConditionalCheckFailedException")
        stubber.add_response("get_item", {"Item": {"claimState": {"S": "released"}}})
    assert not store.claim_send("k", phone_number=NUMBER, now=NOW).claimed


def test_a_garbled_page_key_from_dynamodb_never_reaches_the_query(stubbed) -> None:
    store, _ = stubbed
    with pytest.raises(ValueError, match="cursor"):
        store.list_by_status(Status.PENDING, cursor="eyJwayI6MX0")  # {"pk":1}


class _Failing:
    def __init__(self, error: Exception) -> None:
        self.error = error

    def get_item(self, **_: Any) -> Any:
        raise self.error


@pytest.mark.parametrize(
    "error",
    [
        EndpointConnectionError(endpoint_url="http://127.0.0.1:1"),
        ConnectTimeoutError(endpoint_url="http://127.0.0.1:1"),
        ReadTimeoutError(endpoint_url="http://127.0.0.1:1"),
    ],
)
def test_network_errors_are_store_unavailable(error: Exception) -> None:
    store = DynamoDbContactStore(TABLE, lambda: _Failing(error))
    with pytest.raises(StoreUnavailable, match=type(error).__name__):
        store.get(NUMBER)


def test_missing_credentials_are_a_config_error() -> None:
    store = DynamoDbContactStore(TABLE, lambda: _Failing(NoCredentialsError()))
    with pytest.raises(ConfigError, match="credentials"):
        store.get(NUMBER)


def test_an_empty_table_name_is_refused() -> None:
    with pytest.raises(ConfigError, match="CONTACTS_TABLE"):
        DynamoDbContactStore("")


def test_the_adapter_never_scans_or_deletes() -> None:
    """The stack's policies grant neither; the source must not ask for them."""
    import inspect

    source = inspect.getsource(module)
    for forbidden in ("scan(", "delete_item(", "batch_write_item(", "Delete"):
        assert forbidden not in source.replace("DeleteItem and no Scan", "")


def contact_item(index: int) -> dict[str, Any]:
    number = f"+1206555010{index}"
    return {
        "pk": {"S": f"CONTACT#{number}"},
        "sk": {"S": "CONTACT"},
        "phoneNumber": {"S": number},
        "version": {"N": "1"},
        "status": {"S": "PENDING"},
        "optedIn": {"BOOL": False},
        "sendCount": {"N": "0"},
        "createdAt": {"S": "2026-11-01T12:00:00.000000Z"},
        "updatedAt": {"S": f"2026-11-01T12:0{9 - index}:00.000000Z"},
    }


def test_listing_asks_for_one_more_to_know_whether_a_page_follows(stubbed) -> None:
    """DynamoDB returns a LastEvaluatedKey whenever Limit is reached, even when nothing
    follows; asking for limit + 1 spares the caller an empty last page."""
    store, stubber = stubbed
    expected = {
        "TableName": TABLE,
        "IndexName": "ByStatus",
        "KeyConditionExpression": "#status = :status",
        "ExpressionAttributeNames": {"#status": "status"},
        "ExpressionAttributeValues": {":status": {"S": "PENDING"}},
        "ScanIndexForward": False,
        "Limit": 3,
    }
    items = [contact_item(i) for i in range(3)]
    stubber.add_response(
        "query", {"Items": items, "LastEvaluatedKey": {"pk": items[2]["pk"]}}, expected
    )
    page = store.list_by_status(Status.PENDING, limit=2)
    assert [c.phone_number for c in page.contacts] == ["+12065550100", "+12065550101"]
    # The cursor starts after the last contact shown, not after the extra one.
    following = {**expected, "ExclusiveStartKey": {k: items[1][k] for k in module._CURSOR_KEYS}}
    stubber.add_response("query", {"Items": items[2:]}, following)
    last = store.list_by_status(Status.PENDING, limit=2, cursor=page.cursor)
    assert [c.phone_number for c in last.contacts] == ["+12065550102"]
    assert last.cursor is None


def test_a_page_cut_short_by_the_size_limit_keeps_its_cursor(stubbed) -> None:
    store, stubber = stubbed
    items = [contact_item(0)]
    stubber.add_response(
        "query",
        {"Items": items, "LastEvaluatedKey": {k: items[0][k] for k in module._CURSOR_KEYS}},
    )
    page = store.list_by_status(Status.PENDING, limit=2)
    assert len(page.contacts) == 1 and page.cursor is not None
