"""DynamoDB contact store: the single-table layout of `optin.ports.contact_store`.

Items (string attributes unless said otherwise):

* contact       pk CONTACT#<e164>, sk CONTACT: every Contact field (camelCase, datetimes as
                fixed-width ISO strings, None fields omitted), `version` (N), `status` and
                `updatedAt`, which put it in the ByStatus index. Only contact items carry
                `status`, so nothing else reaches that index. While PENDING (and only then)
                also `pendingExpiresAt`: `expiry_key` of the contact (its expires_at, or
                "~" when unknown), which puts it in the sparse PendingByExpiry index (status,
                pendingExpiresAt). A PENDING item written before that attribute existed is
                not in that index until its next save (docs/architecture.md).
* ledger event  pk CONTACT#<e164>, sk EVENT#<contact version, 10 digits>#<index, 3 digits>:
                written once, in the transaction of the contact change it records, with
                `attribute_not_exists(pk)`; never updated or deleted. The sort key orders a
                number's ledger by save, so `events` is one Query.
* registration  pk REGISTRATION#<id>, sk REGISTRATION: the number a registration belongs to,
                written with the `requested` event that starts it, or with the `imported`
                event of an imported contact's first save; immutable.
* inbound       pk INBOUND#<message id>, sk INBOUND: the processed-reply marker.
* send claim    pk SEND#<dedup key>, sk SEND: `claimState` claimed | sent | released.
* daily counters pk STATS#DAILY, sk DAY#<yyyy-mm-dd>: the funnel's counters of one UTC day
                (N attributes named as `optin.domain.funnel` names them), added to with ADD
                by an Update in the transaction of every save whose events move them. One
                partition for every day: a range of days is one Query (BatchGetItem is
                never granted). No `status`, so never in the ByStatus index.
* lookup        pk LOOKUP#<e164>, sk LOOKUP: a carrier lookup's answer, `expiresAt` (N, epoch
                seconds: the table's TTL attribute, so DynamoDB removes it; read as absent
                once past, since TTL deletes lag).

Every write that decides something is conditional; every base-table read is strongly
consistent (a read right after a write must see it). There is no DeleteItem and no Scan:
the stack's IAM policies grant neither.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from botocore.exceptions import (
    ClientError,
    ConnectionError,
    HTTPClientError,
    NoCredentialsError,
    NoRegionError,
)

from optin.adapters.dynamodb_webhook_store import delivery_item
from optin.adapters.lazy_client import LazyClient, session_client
from optin.domain.clock import from_iso, to_iso
from optin.domain.consent import ConsentEvent, EventType
from optin.domain.contact import Contact, Status
from optin.domain.errors import ConfigError, StoreUnavailable, TransitionConflict
from optin.domain.funnel import increments
from optin.domain.webhooks import Delivery
from optin.ports.contact_store import (
    UNKNOWN_EXPIRY,
    ContactPage,
    Order,
    SendClaim,
    SignupQuery,
    decode_cursor,
    encode_cursor,
    expiry_key,
)
from optin.ports.number_lookup import LineInfo, LineType

default_client_factory = session_client("dynamodb")

BY_STATUS_INDEX = "ByStatus"
PENDING_BY_EXPIRY_INDEX = "PendingByExpiry"
EXPIRY_ATTRIBUTE = "pendingExpiresAt"
CONTACT_SK = "CONTACT"
EVENT_PREFIX = "EVENT#"
# TransactWriteItems takes at most 100 actions: the contact, its events, their registrations,
# and one counter update per UTC day the events fall on.
MAX_TRANSACTION_ITEMS = 100
STATS_PK = "STATS#DAILY"
DAY_PREFIX = "DAY#"

# Transient: the request may succeed if tried again later (botocore has already retried).
_TRANSIENT = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
        "TransactionConflictException",
    }
)
# TransactionCanceledException reasons, per item (the DynamoDB API reference's list).
_LOST_RACE_REASONS = frozenset({"ConditionalCheckFailed", "TransactionConflict"})
_TRANSIENT_REASONS = frozenset({"ThrottlingError", "ProvisionedThroughputExceeded"})

_CLAIMED, _SENT, _RELEASED = "claimed", "sent", "released"


def contact_pk(phone_number: str) -> str:
    return f"CONTACT#{phone_number}"


def event_sk(version: int, index: int) -> str:
    return f"{EVENT_PREFIX}{version:010d}#{index:03d}"


def day_sk(day: date) -> str:
    return f"{DAY_PREFIX}{day.isoformat()}"


def _counter_update(table: str, day: date, counts: dict[str, int]) -> dict[str, Any]:
    """ADD to one day's counters (ADD creates the item and the attributes at zero)."""
    names = {f"#c{i}": name for i, name in enumerate(sorted(counts))}
    return {
        "Update": {
            "TableName": table,
            "Key": {"pk": _s(STATS_PK), "sk": _s(day_sk(day))},
            "UpdateExpression": "ADD " + ", ".join(f"{ref} :{ref[1:]}" for ref in names),
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": {
                f":{ref[1:]}": _n(counts[name]) for ref, name in names.items()
            },
        }
    }


def registration_pk(registration_id: str) -> str:
    return f"REGISTRATION#{registration_id}"


def _error_code(error: ClientError) -> str:
    code = str(error.response.get("Error", {}).get("Code", ""))
    # Some endpoints answer with the JSON protocol's "namespace#Code" form.
    return code.rsplit("#", 1)[-1]


def _cancellation_reasons(error: ClientError) -> list[str]:
    reasons = error.response.get("CancellationReasons")
    if isinstance(reasons, list):
        return [str((reason or {}).get("Code") or "None") for reason in reasons]
    # Endpoints that leave the member out still list the reasons in the message:
    # "Transaction cancelled, please refer cancellation reasons for specific reasons [None, X]"
    message = str(error.response.get("Error", {}).get("Message", ""))
    inside = message[message.rfind("[") + 1 : message.rfind("]")] if "[" in message else ""
    return [part.strip() for part in inside.split(",") if part.strip()]


# --- attribute values ----------------------------------------------------------------------


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _n(value: int) -> dict[str, str]:
    return {"N": str(value)}


def _text(item: dict[str, Any], name: str) -> str | None:
    value = item.get(name)
    return str(value["S"]) if value is not None else None


def _int(item: dict[str, Any], name: str, default: int = 0) -> int:
    value = item.get(name)
    return int(value["N"]) if value is not None else default


def _moment(item: dict[str, Any], name: str) -> datetime | None:
    text = _text(item, name)
    return from_iso(text) if text is not None else None


def _contact_item(contact: Contact) -> dict[str, Any]:
    item: dict[str, Any] = {
        "pk": _s(contact_pk(contact.phone_number)),
        "sk": _s(CONTACT_SK),
        "phoneNumber": _s(contact.phone_number),
        "version": _n(contact.version),
        "status": _s(str(contact.status)),
        "optedIn": {"BOOL": contact.opted_in},
        "sendCount": _n(contact.send_count),
        "createdAt": _s(to_iso(contact.created_at)),
        "updatedAt": _s(to_iso(contact.updated_at)),
    }
    optional = {
        "registrationId": contact.registration_id,
        "firstName": contact.first_name,
        "executionArn": contact.execution_arn,
        "taskToken": contact.task_token,
        "lastSentAt": to_iso(contact.last_sent_at) if contact.last_sent_at else None,
        "lastSendKey": contact.last_send_key,
        "lastMessageId": contact.last_message_id,
        "welcomeMessageId": contact.welcome_message_id,
        "clarifiedRegistration": contact.clarified_registration,
        "apiClient": contact.api_client,
    }
    item.update({name: _s(value) for name, value in optional.items() if value is not None})
    if contact.status == Status.PENDING:
        # The Put replaces the whole item: leaving PENDING drops it from the expiry index.
        item[EXPIRY_ATTRIBUTE] = _s(expiry_key(contact))
    return item


def _item_contact(item: dict[str, Any]) -> Contact:
    created_at = _moment(item, "createdAt")
    updated_at = _moment(item, "updatedAt")
    phone_number = _text(item, "phoneNumber")
    status = _text(item, "status")
    if created_at is None or updated_at is None or phone_number is None or status is None:
        raise ValueError(f"Contact item {_text(item, 'pk')} lacks a required attribute.")
    return Contact(
        phone_number=phone_number,
        version=_int(item, "version"),
        status=Status(status),
        opted_in=bool(item.get("optedIn", {}).get("BOOL", False)),
        registration_id=_text(item, "registrationId"),
        first_name=_text(item, "firstName"),
        execution_arn=_text(item, "executionArn"),
        task_token=_text(item, "taskToken"),
        send_count=_int(item, "sendCount"),
        last_sent_at=_moment(item, "lastSentAt"),
        last_send_key=_text(item, "lastSendKey"),
        last_message_id=_text(item, "lastMessageId"),
        welcome_message_id=_text(item, "welcomeMessageId"),
        clarified_registration=_text(item, "clarifiedRegistration"),
        created_at=created_at,
        updated_at=updated_at,
        expires_at=_expires_at(item),
        api_client=_text(item, "apiClient"),
    )


def _expires_at(item: dict[str, Any]) -> datetime | None:
    text = _text(item, EXPIRY_ATTRIBUTE)
    return from_iso(text) if text is not None and text != UNKNOWN_EXPIRY else None


def _event_item(phone_number: str, version: int, index: int, event: ConsentEvent) -> dict[str, Any]:
    item: dict[str, Any] = {
        "pk": _s(contact_pk(phone_number)),
        "sk": _s(event_sk(version, index)),
        "phoneNumber": _s(phone_number),
        "eventId": _s(event.event_id),
        "type": _s(str(event.type)),
        "at": _s(to_iso(event.at)),
        # JSON text: an exact round trip of any JSON value (DynamoDB refuses floats).
        "details": _s(json.dumps(event.details, sort_keys=True, default=str)),
    }
    if event.registration_id is not None:
        item["registrationId"] = _s(event.registration_id)
    return item


def _item_event(item: dict[str, Any]) -> ConsentEvent:
    event_type, at, event_id = _text(item, "type"), _moment(item, "at"), _text(item, "eventId")
    if event_type is None or at is None or event_id is None:
        raise ValueError(f"Ledger item {_text(item, 'sk')} lacks a required attribute.")
    return ConsentEvent(
        type=EventType(event_type),
        at=at,
        registration_id=_text(item, "registrationId"),
        details=json.loads(_text(item, "details") or "{}"),
        event_id=event_id,
    )


# --- listing cursors -----------------------------------------------------------------------

_CURSOR_KEYS = ("pk", "sk", "status", "updatedAt")


def _encode_cursor(key: dict[str, Any]) -> str:
    plain = {name: key[name]["S"] for name in _CURSOR_KEYS}
    raw = json.dumps(plain, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str, status: Status) -> dict[str, Any]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        plain = json.loads(raw)
    except (binascii.Error, ValueError) as error:
        raise ValueError("The cursor is not one this listing returned.") from error
    if (
        not isinstance(plain, dict)
        or sorted(plain) != sorted(_CURSOR_KEYS)
        or not all(isinstance(value, str) for value in plain.values())
    ):
        raise ValueError("The cursor is not one this listing returned.")
    if plain["status"] != str(status):
        raise ValueError(f"The cursor belongs to the {plain['status']} listing, not {status}.")
    return {name: _s(value) for name, value in plain.items()}


_DONE = "done"


@dataclass
class _Run:
    """One status's query result being merged: what is left, and whether that is all."""

    items: list[dict[str, Any]]
    exhausted: bool
    last: dict[str, Any] | None = None


def _order_key(item: dict[str, Any]) -> tuple[str, str]:
    return (_text(item, "updatedAt") or "", _text(item, "phoneNumber") or "")


def _valid_position(value: Any) -> bool:
    return value == _DONE or (
        isinstance(value, list) and len(value) == 2 and all(isinstance(v, str) for v in value)
    )


class DynamoDbContactStore:
    def __init__(
        self,
        table_name: str,
        client_factory: Callable[[], Any] = default_client_factory,
    ) -> None:
        if not table_name:
            raise ConfigError("The DynamoDB contact store needs a table name (CONTACTS_TABLE).")
        self._table = table_name
        self._client = LazyClient(client_factory)

    @property
    def table_name(self) -> str:
        return self._table

    @contextmanager
    def _call(
        self, operation: str, first: Callable[[ClientError], None] | None = None
    ) -> Iterator[None]:
        """Domain errors for the failures the callers act on; everything else propagates.
        `first` sees a ClientError before the common mapping and may raise its own error."""
        try:
            yield
        except ClientError as error:
            if first is not None:
                first(error)
            code = _error_code(error)
            if code in _TRANSIENT:
                raise StoreUnavailable(f"DynamoDB {operation} failed: {code}.") from error
            if code == "ResourceNotFoundException":
                raise ConfigError(
                    f"DynamoDB table {self._table} does not exist (CONTACTS_TABLE), "
                    f"or this function may not see it."
                ) from error
            raise
        except (ConnectionError, HTTPClientError) as error:
            # Connect/read timeouts, refused or dropped connections, after botocore's retries.
            raise StoreUnavailable(
                f"DynamoDB {operation} failed: {type(error).__name__}."
            ) from error
        except (NoCredentialsError, NoRegionError) as error:
            raise ConfigError(f"DynamoDB {operation}: {error}") from error

    def _get_item(self, pk: str, sk: str) -> dict[str, Any] | None:
        with self._call("GetItem"):
            response = self._client().get_item(
                TableName=self._table,
                Key={"pk": _s(pk), "sk": _s(sk)},
                ConsistentRead=True,
            )
        item: dict[str, Any] | None = response.get("Item")
        return item

    # --- contacts and ledger -----------------------------------------------------------------

    def get(self, phone_number: str) -> Contact | None:
        item = self._get_item(contact_pk(phone_number), CONTACT_SK)
        return _item_contact(item) if item else None

    def save(
        self,
        contact: Contact,
        *,
        expected_version: int | None,
        events: Sequence[ConsentEvent] = (),
        deliveries: Sequence[Delivery] = (),
    ) -> None:
        # The ledger's sort keys carry the version: a version that did not move on would
        # reuse an earlier change's keys.
        if contact.version != (expected_version or 0) + 1:
            raise ValueError(
                f"Contact version {contact.version} does not follow {expected_version}."
            )
        contact_put: dict[str, Any] = {"TableName": self._table, "Item": _contact_item(contact)}
        if expected_version is None:
            contact_put["ConditionExpression"] = "attribute_not_exists(pk)"
        else:
            contact_put["ConditionExpression"] = "version = :expected"
            contact_put["ExpressionAttributeValues"] = {":expected": _n(expected_version)}
        actions: list[dict[str, Any]] = [{"Put": contact_put}]
        for index, event in enumerate(events):
            actions.append(
                {
                    "Put": {
                        "TableName": self._table,
                        "Item": _event_item(contact.phone_number, contact.version, index, event),
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                }
            )
            # An import starts its registration on the contact's first save (a re-import
            # only changes the status of that registration, whose item is written already).
            starts = event.type == EventType.REQUESTED or (
                event.type == EventType.IMPORTED and expected_version is None
            )
            if starts and event.registration_id:
                actions.append(
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": {
                                "pk": _s(registration_pk(event.registration_id)),
                                "sk": _s("REGISTRATION"),
                                "phoneNumber": _s(contact.phone_number),
                                "createdAt": _s(to_iso(event.at)),
                            },
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    }
                )
        # Webhook deliveries (ports/webhooks.py), keyed by the ledger event id: written once.
        for delivery in deliveries:
            actions.append(
                {
                    "Put": {
                        "TableName": self._table,
                        "Item": delivery_item(delivery),
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                }
            )
        # After every conditional item, so a cancellation's reasons keep their positions;
        # one Update per day, since a transaction may not touch one item twice.
        for day, counts in sorted(increments(contact, events).items()):
            actions.append(_counter_update(self._table, day, counts))
        if len(actions) > MAX_TRANSACTION_ITEMS:
            raise ValueError(
                f"One save may write at most {MAX_TRANSACTION_ITEMS} items; this one has "
                f"{len(actions)}."
            )
        with self._call("TransactWriteItems", self._raise_lost_race):
            self._client().transact_write_items(TransactItems=actions)

    def _raise_lost_race(self, error: ClientError) -> None:
        code = _error_code(error)
        if code == "TransactionConflictException":
            # Another request was changing one of these items: recompute from fresh data.
            raise TransitionConflict(
                "Another request was changing this contact at the same time."
            ) from error
        if code != "TransactionCanceledException":
            return
        reasons = _cancellation_reasons(error)
        if any(reason in _LOST_RACE_REASONS for reason in reasons):
            if reasons[0] in _LOST_RACE_REASONS:
                message = "The contact changed since it was read (its version moved on)."
            else:
                # The contact's condition held: an append-only item is there already, or a
                # day's counters were being changed by another transaction.
                failed = [i for i, r in enumerate(reasons) if r in _LOST_RACE_REASONS]
                message = f"Item(s) {failed} of this save exist already or were being changed."
            raise TransitionConflict(message) from error
        if any(reason in _TRANSIENT_REASONS for reason in reasons):
            raise StoreUnavailable(
                f"DynamoDB TransactWriteItems was cancelled: {', '.join(reasons)}."
            ) from error

    def events(self, phone_number: str) -> list[ConsentEvent]:
        request: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :events)",
            "ExpressionAttributeValues": {
                ":pk": _s(contact_pk(phone_number)),
                ":events": _s(EVENT_PREFIX),
            },
            "ConsistentRead": True,
        }
        events: list[ConsentEvent] = []
        while True:
            with self._call("Query"):
                response = self._client().query(**request)
            events.extend(_item_event(item) for item in response.get("Items", []))
            last = response.get("LastEvaluatedKey")
            if not last:
                return events
            request["ExclusiveStartKey"] = last

    def daily_counts(self, first: date, last: date) -> dict[date, dict[str, int]]:
        request: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk AND sk BETWEEN :first AND :last",
            "ExpressionAttributeValues": {
                ":pk": _s(STATS_PK),
                ":first": _s(day_sk(first)),
                ":last": _s(day_sk(last)),
            },
            "ConsistentRead": True,
        }
        days: dict[date, dict[str, int]] = {}
        while True:
            with self._call("Query"):
                response = self._client().query(**request)
            for item in response.get("Items", []):
                day = date.fromisoformat(str(item["sk"]["S"])[len(DAY_PREFIX) :])
                days[day] = {
                    name: int(value["N"])
                    for name, value in item.items()
                    if name not in ("pk", "sk") and "N" in value
                }
            last_key = response.get("LastEvaluatedKey")
            if not last_key:
                return days
            request["ExclusiveStartKey"] = last_key

    def find_by_registration(self, registration_id: str) -> Contact | None:
        registration = self._get_item(registration_pk(registration_id), "REGISTRATION")
        phone_number = _text(registration, "phoneNumber") if registration else None
        if phone_number is None:
            return None
        contact = self.get(phone_number)
        if contact is None or contact.registration_id != registration_id:
            return None  # the number has started another registration since
        return contact

    def list_by_status(
        self, status: Status, *, limit: int = 50, cursor: str | None = None
    ) -> ContactPage:
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}.")
        request: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": BY_STATUS_INDEX,
            "KeyConditionExpression": "#status = :status",
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": {":status": _s(str(status))},
            "ScanIndexForward": False,
            # One more than asked: tells "there is a next page" without an empty last page.
            "Limit": limit + 1,
        }
        if cursor:
            request["ExclusiveStartKey"] = _decode_cursor(cursor, Status(status))
        with self._call("Query"):
            response = self._client().query(**request)
        items: list[dict[str, Any]] = response.get("Items", [])
        if len(items) > limit:
            items = items[:limit]
            next_key: dict[str, Any] | None = {name: items[-1][name] for name in _CURSOR_KEYS}
        else:
            # Fewer than asked and a LastEvaluatedKey: the 1 MB page limit cut the query.
            next_key = response.get("LastEvaluatedKey")
        return ContactPage(
            contacts=[_item_contact(item) for item in items],
            cursor=_encode_cursor(next_key) if next_key else None,
        )

    def list_signups(self, query: SignupQuery) -> ContactPage:
        """One ByStatus query per status, merged newest first. The cursor keeps, per
        status, the (updatedAt, number) of the last contact taken from it, or "done".
        Order EXPIRY: one PendingByExpiry query."""
        if query.order == Order.EXPIRY:
            return self._by_expiry(query)
        positions: dict[str, Any] = {}
        if query.cursor:
            positions = decode_cursor(query.cursor, query).get("at") or {}
            if not isinstance(positions, dict) or not all(
                _valid_position(value) for value in positions.values()
            ):
                raise ValueError("The cursor is not one this listing returned.")
        runs: dict[Status, _Run] = {}
        for status in query.status_set:
            position = positions.get(str(status))
            if position == _DONE:
                continue
            runs[status] = self._status_run(status, query, position)
        taken: list[tuple[Status, dict[str, Any]]] = []
        while len(taken) < query.limit:
            # A status whose buffer ran out before its end (a 1 MB cut) may hold contacts
            # newer than every other buffer's head: stop there, the cursor resumes it.
            if any(not run.items and not run.exhausted for run in runs.values()):
                break
            heads = [(status, run.items[0]) for status, run in runs.items() if run.items]
            if not heads:
                break
            status, item = max(heads, key=lambda head: _order_key(head[1]))
            runs[status].items.pop(0)
            runs[status].last = item
            taken.append((status, item))
        next_positions: dict[str, Any] = {}
        for status in query.status_set:
            run = runs.get(status)
            if run is None or (run.exhausted and not run.items):
                next_positions[str(status)] = _DONE
            elif run.last is not None:
                next_positions[str(status)] = list(_order_key(run.last))
            elif str(status) in positions:
                next_positions[str(status)] = positions[str(status)]
        more = any(value != _DONE for value in next_positions.values()) or len(
            next_positions
        ) < len(query.status_set)
        cursor = encode_cursor({"q": query.fingerprint(), "at": next_positions}) if more else None
        return ContactPage([_item_contact(item) for _, item in taken], cursor)

    def _by_expiry(self, query: SignupQuery) -> ContactPage:
        """PENDING contacts soonest to expire first: one Query of the sparse index. The
        cursor keeps the (pendingExpiresAt, number) of the last contact of the page."""
        request: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": PENDING_BY_EXPIRY_INDEX,
            "KeyConditionExpression": "#status = :status",
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": {":status": _s(str(Status.PENDING))},
            "ScanIndexForward": True,
            # One more than asked: tells whether a next page exists without an empty one.
            "Limit": query.limit + 1,
        }
        if query.cursor:
            after = decode_cursor(query.cursor, query).get("after")
            if not (
                isinstance(after, list)
                and len(after) == 2
                and all(isinstance(part, str) for part in after)
            ):
                raise ValueError("The cursor is not one this listing returned.")
            request["ExclusiveStartKey"] = {
                "pk": _s(contact_pk(after[1])),
                "sk": _s(CONTACT_SK),
                "status": _s(str(Status.PENDING)),
                EXPIRY_ATTRIBUTE: _s(after[0]),
            }
        with self._call("Query"):
            response = self._client().query(**request)
        items: list[dict[str, Any]] = response.get("Items", [])
        last: dict[str, Any] | None = None
        if len(items) > query.limit:
            items = items[: query.limit]
            last = items[-1]
        elif response.get("LastEvaluatedKey") and items:
            # Fewer than asked and a LastEvaluatedKey: the 1 MB page limit cut the query.
            last = items[-1]
        cursor = None
        if last is not None:
            position = [_text(last, EXPIRY_ATTRIBUTE) or "", _text(last, "phoneNumber") or ""]
            cursor = encode_cursor({"q": query.fingerprint(), "after": position})
        return ContactPage([_item_contact(item) for item in items], cursor)

    def _status_run(self, status: Status, query: SignupQuery, position: Any) -> _Run:
        names = {"#status": "status"}
        values: dict[str, Any] = {":status": _s(str(status))}
        condition = "#status = :status"
        low = to_iso(query.updated_from) if query.updated_from else None
        high = to_iso(query.updated_to) if query.updated_to else None
        if low and high:
            condition += " AND #updated BETWEEN :low AND :high"
            values.update({":low": _s(low), ":high": _s(high)})
        elif low:
            condition += " AND #updated >= :low"
            values[":low"] = _s(low)
        elif high:
            condition += " AND #updated <= :high"
            values[":high"] = _s(high)
        if low or high:
            # DynamoDB refuses a name the expression does not use.
            names["#updated"] = "updatedAt"
        request: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": BY_STATUS_INDEX,
            "KeyConditionExpression": condition,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
            "ScanIndexForward": False,
            # One more than a page can take: tells whether this status has more.
            "Limit": query.limit + 1,
        }
        if isinstance(position, list):
            updated_at, phone_number = position
            request["ExclusiveStartKey"] = {
                "pk": _s(contact_pk(phone_number)),
                "sk": _s(CONTACT_SK),
                "status": _s(str(status)),
                "updatedAt": _s(updated_at),
            }
        with self._call("Query"):
            response = self._client().query(**request)
        items: list[dict[str, Any]] = response.get("Items", [])
        exhausted = len(items) <= query.limit and not response.get("LastEvaluatedKey")
        return _Run(items=items, exhausted=exhausted)

    # --- processed inbound messages -----------------------------------------------------------

    def inbound_processed(self, message_id: str) -> bool:
        return self._get_item(f"INBOUND#{message_id}", "INBOUND") is not None

    def mark_inbound_processed(
        self, message_id: str, *, phone_number: str, processed_at: datetime
    ) -> bool:
        try:
            with self._call("PutItem"):
                self._client().put_item(
                    TableName=self._table,
                    Item={
                        "pk": _s(f"INBOUND#{message_id}"),
                        "sk": _s("INBOUND"),
                        "phoneNumber": _s(phone_number),
                        "processedAt": _s(to_iso(processed_at)),
                    },
                    ConditionExpression="attribute_not_exists(pk)",
                )
        except ClientError as error:
            if _error_code(error) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    # --- send claims ---------------------------------------------------------------------------

    def claim_send(self, dedup_key: str, *, phone_number: str, now: datetime) -> SendClaim:
        # Two rounds: a claim released between our failed put and our read may be taken.
        for _ in range(2):
            try:
                with self._call("PutItem"):
                    self._client().put_item(
                        TableName=self._table,
                        Item={
                            "pk": _s(f"SEND#{dedup_key}"),
                            "sk": _s("SEND"),
                            "phoneNumber": _s(phone_number),
                            "claimState": _s(_CLAIMED),
                            "claimedAt": _s(to_iso(now)),
                        },
                        ConditionExpression="attribute_not_exists(pk) OR claimState = :released",
                        ExpressionAttributeValues={":released": _s(_RELEASED)},
                    )
            except ClientError as error:
                if _error_code(error) != "ConditionalCheckFailedException":
                    raise
            else:
                return SendClaim(dedup_key, claimed=True)
            existing = self._get_item(f"SEND#{dedup_key}", "SEND")
            if existing is not None and _text(existing, "claimState") != _RELEASED:
                return SendClaim(dedup_key, claimed=False, message_id=_text(existing, "messageId"))
        # Released again at each look: someone else is cycling it; do not send.
        return SendClaim(dedup_key, claimed=False)

    def complete_send(self, dedup_key: str, *, message_id: str, now: datetime) -> None:
        self._update_claim(
            dedup_key,
            "SET claimState = :sent, messageId = :message, completedAt = :now",
            "attribute_exists(pk) AND claimState <> :released",
            {
                ":sent": _s(_SENT),
                ":message": _s(message_id),
                ":now": _s(to_iso(now)),
                ":released": _s(_RELEASED),
            },
        )

    def release_send(self, dedup_key: str, *, reason: str, now: datetime) -> None:
        # Only a claim still in flight: a completed one (the text went out) stays completed.
        self._update_claim(
            dedup_key,
            "SET claimState = :released, releasedAt = :now, releaseReason = :reason",
            "claimState = :claimed",
            {
                ":released": _s(_RELEASED),
                ":claimed": _s(_CLAIMED),
                ":now": _s(to_iso(now)),
                ":reason": _s(reason),
            },
        )

    def _update_claim(
        self, dedup_key: str, update: str, condition: str, values: dict[str, Any]
    ) -> None:
        try:
            with self._call("UpdateItem"):
                self._client().update_item(
                    TableName=self._table,
                    Key={"pk": _s(f"SEND#{dedup_key}"), "sk": _s("SEND")},
                    UpdateExpression=update,
                    ConditionExpression=condition,
                    ExpressionAttributeValues=values,
                )
        except ClientError as error:
            # The claim is not in the state this change applies to (absent, released, or
            # completed): by the port's contract that is "nothing to do", not a failure.
            if _error_code(error) != "ConditionalCheckFailedException":
                raise

    # --- carrier lookups -----------------------------------------------------------------------

    def cached_line_info(self, phone_number: str, *, now: datetime) -> LineInfo | None:
        item = self._get_item(f"LOOKUP#{phone_number}", "LOOKUP")
        if item is None or int(item["expiresAt"]["N"]) <= int(now.timestamp()):
            return None
        return LineInfo(
            phone_number=item["phoneNumber"]["S"],
            line_type=LineType(item["lineType"]["S"]),
            carrier=item["carrier"]["S"] if "carrier" in item else None,
            country=item["country"]["S"] if "country" in item else None,
        )

    def cache_line_info(self, info: LineInfo, *, now: datetime, expires_at: datetime) -> None:
        item: dict[str, Any] = {
            "pk": _s(f"LOOKUP#{info.phone_number}"),
            "sk": _s("LOOKUP"),
            "phoneNumber": _s(info.phone_number),
            "lineType": _s(info.line_type.value),
            "lookedUpAt": _s(to_iso(now)),
            "expiresAt": {"N": str(int(expires_at.timestamp()))},
        }
        if info.carrier:
            item["carrier"] = _s(info.carrier)
        if info.country:
            item["country"] = _s(info.country)
        # A plain overwrite: the newest answer about a number is the one to keep.
        with self._call("PutItem"):
            self._client().put_item(TableName=self._table, Item=item)
