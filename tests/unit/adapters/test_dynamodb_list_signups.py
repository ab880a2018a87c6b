"""list_signups' merge of the per-status queries when DynamoDB cuts a query short (its 1 MB
response limit: fewer items than asked, with a LastEvaluatedKey). Moto never cuts, so a
scripted client answers here."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from optin.adapters.dynamodb_contact_store import DynamoDbContactStore
from optin.domain.contact import Status
from optin.ports.contact_store import Order, SignupQuery


def item(status: str, minute: int) -> dict[str, Any]:
    number = f"+1206555{1000 + minute}"
    return {
        "pk": {"S": f"CONTACT#{number}"},
        "sk": {"S": "CONTACT"},
        "phoneNumber": {"S": number},
        "status": {"S": status},
        "version": {"N": "1"},
        "optedIn": {"BOOL": False},
        "sendCount": {"N": "0"},
        "createdAt": {"S": "2026-11-01T12:00:00.000000Z"},
        "updatedAt": {"S": f"2026-11-01T12:{minute:02d}:00.000000Z"},
    }


class Scripted:
    """Answers each Query from a list per status, in order; notes the requests."""

    def __init__(self, answers: dict[str, list[dict[str, Any]]]) -> None:
        self.answers = answers
        self.requests: list[dict[str, Any]] = []

    def query(self, **request: Any) -> dict[str, Any]:
        self.requests.append(request)
        return self.answers[request["ExpressionAttributeValues"][":status"]["S"]].pop(0)


def minutes(page: Any) -> list[int]:
    return [c.updated_at.minute for c in page.contacts]


def test_a_status_cut_short_stops_the_page_where_its_next_contact_could_come() -> None:
    cut = {"Items": [item("PENDING", 50)], "LastEvaluatedKey": {"pk": {"S": "x"}}}
    client = Scripted(
        {
            "PENDING": [cut, {"Items": [item("PENDING", 5)]}],
            "CONFIRMED": [
                {"Items": [item("CONFIRMED", m) for m in (40, 30, 20, 10)]},
                {"Items": [item("CONFIRMED", m) for m in (40, 30, 20, 10)]},
            ],
        }
    )
    store = DynamoDbContactStore("t", lambda: client)
    query = SignupQuery(statuses=(Status.PENDING, Status.CONFIRMED), limit=3)
    first = store.list_signups(query)
    # PENDING's next contact may be newer than CONFIRMED's 40: nothing past 50 is taken.
    assert minutes(first) == [50]
    assert first.cursor
    second = store.list_signups(SignupQuery(statuses=query.statuses, limit=3, cursor=first.cursor))
    assert minutes(second) == [40, 30, 20]
    pending_again = [
        r for r in client.requests if r["ExpressionAttributeValues"][":status"]["S"] == "PENDING"
    ][1]
    assert pending_again["ExclusiveStartKey"]["updatedAt"] == {"S": "2026-11-01T12:50:00.000000Z"}
    assert pending_again["ExclusiveStartKey"]["pk"] == {"S": "CONTACT#+12065551050"}
    confirmed_again = [
        r for r in client.requests if r["ExpressionAttributeValues"][":status"]["S"] == "CONFIRMED"
    ][1]
    assert "ExclusiveStartKey" not in confirmed_again  # nothing was taken from it yet
    assert second.cursor  # CONFIRMED's 10 and PENDING's 5 are left


def test_each_query_asks_one_more_than_a_page_and_a_range_is_a_key_condition() -> None:
    client = Scripted({"EXPIRED": [{"Items": []}]})
    store = DynamoDbContactStore("t", lambda: client)
    page = store.list_signups(
        SignupQuery(
            statuses=(Status.EXPIRED,),
            updated_from=datetime(2026, 11, 1, tzinfo=UTC),
            updated_to=datetime(2026, 11, 2, tzinfo=UTC),
            limit=10,
        )
    )
    assert page.contacts == [] and page.cursor is None
    [request] = client.requests
    assert request["Limit"] == 11 and request["IndexName"] == "ByStatus"
    assert request["ScanIndexForward"] is False
    assert request["KeyConditionExpression"] == (
        "#status = :status AND #updated BETWEEN :low AND :high"
    )


def pending_item(minute: int, expires: str | None) -> dict[str, Any]:
    found = item("PENDING", minute)
    if expires is not None:
        found["pendingExpiresAt"] = {"S": expires}
    return found


def test_the_expiry_order_resumes_after_a_cut_from_the_last_contact_it_returned() -> None:
    soon = "2026-11-02T12:00:00.000000Z"
    cut = {"Items": [pending_item(1, soon)], "LastEvaluatedKey": {"pk": {"S": "x"}}}
    client = Scripted({"PENDING": [cut, {"Items": [pending_item(2, "~")]}]})
    store = DynamoDbContactStore("t", lambda: client)
    query = SignupQuery(statuses=(Status.PENDING,), order=Order.EXPIRY, limit=5)
    first = store.list_signups(query)
    # Fewer than asked but cut short: a cursor, never a false end.
    assert minutes(first) == [1] and first.cursor
    assert first.contacts[0].expires_at == datetime(2026, 11, 2, 12, tzinfo=UTC)
    second = store.list_signups(replace(query, cursor=first.cursor))
    assert minutes(second) == [2] and second.cursor is None
    assert second.contacts[0].expires_at is None  # "~": unknown
    one, two = client.requests
    assert one["IndexName"] == two["IndexName"] == "PendingByExpiry"
    assert one["ScanIndexForward"] is True and one["Limit"] == 6
    assert "ExclusiveStartKey" not in one
    assert two["ExclusiveStartKey"] == {
        "pk": {"S": "CONTACT#+12065551001"},
        "sk": {"S": "CONTACT"},
        "status": {"S": "PENDING"},
        "pendingExpiresAt": {"S": soon},
    }
