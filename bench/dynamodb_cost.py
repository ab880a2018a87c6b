"""What one confirmed sign-up costs in DynamoDB, call by call (docs/costs.md's table).

The happy path runs through the use cases (`optin.usecases`, wired with
`wiring.Dependencies` as tests/unit wires them) on the real `DynamoDbContactStore`, against
moto's DynamoDB with the table template.yaml declares (its two GSIs included):
POST /signups → ValidateNumber → CreateContact → SendConfirmation → inbound YES → OptIn.
SMS and Step Functions are the in-memory fakes of tests/fakes (they cost no DynamoDB).

A botocore event hook on the store's client records every DynamoDB call. A second,
unhooked client reads each written item just before and just after the call, so a write is
sized by what the item was and became, not only by what the request says (an UpdateItem's
ADD, a Put that replaces). Units by the DynamoDB developer guide's rules:

* item size: attribute names plus values, strings in UTF-8, a number 1 byte per two
  significant digits plus 1, booleans and nulls 1, lists and maps 3 plus 1 per element;
* a standard write 1 WRU per KB (1,024 bytes, rounded up) of the item, a transactional write
  2 WRU per KB of each item; a write that replaces an item is sized by the larger of the
  old and the new item;
* a strongly consistent read 1 RRU per 4 KB, an eventually consistent one half of that; a
  GetItem that finds nothing still costs the minimum; a Query is sized by all it returns;
* a GSI write for each index whose entry appears, disappears, or changes: a put or a delete
  when the entry appears or disappears, a delete and a put when the index key changes, one
  write when only projected attributes change; each 1 WRU per KB of the projected entry.

A real task token is long and opaque; the run uses 700 characters, as docs/costs.md
assumes. Not a test: `python -m bench` runs it, or alone `python -m bench.dynamodb_cost`.
"""

from __future__ import annotations

import logging
import math
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from optin import wiring
from optin.adapters.dynamodb_contact_store import DynamoDbContactStore
from optin.domain.consent import EventType
from optin.domain.contact import Status
from optin.domain.settings import Settings
from optin.usecases.inbound import InboundSms
from optin.usecases.signup import SignupKind, SignupRequest
from tests.fakes.sms_sender import MemorySmsSender
from tests.fakes.workflow import MemoryWorkflow
from tests.support import dynamodb

NUMBER = "+12065550100"
OUR_NUMBER = "+12065550142"
TOKEN_LENGTH = 700
# A current desktop browser's User-Agent: the evidence keeps it whole.
USER_AGENT = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
STATE_MACHINE = (
    "arn:aws:states:us-east-1:123456789012:stateMachine:RegistrationStateMachine-Ab12Cd34Ef56"
)
# US East (N. Virginia) on-demand prices docs/costs.md uses.
PRICE_PER_WRU = 0.625 / 1_000_000
PRICE_PER_RRU = 0.125 / 1_000_000
KB = 1024
READ_UNIT = 4 * KB


# --- sizes by DynamoDB's rules --------------------------------------------------------------


def _number_size(text: str) -> int:
    mantissa = text.lstrip("+-").lower().split("e")[0].replace(".", "")
    digits = mantissa.strip("0")
    return math.ceil(len(digits) / 2) + 1


def value_size(value: dict[str, Any]) -> int:
    ((kind, inner),) = value.items()
    if kind == "S":
        return len(str(inner).encode())
    if kind == "N":
        return _number_size(str(inner))
    if kind == "B":
        return len(inner)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(str(s).encode()) for s in inner)
    if kind == "NS":
        return sum(_number_size(str(n)) for n in inner)
    if kind == "BS":
        return sum(len(b) for b in inner)
    if kind == "L":
        return 3 + sum(1 + value_size(element) for element in inner)
    if kind == "M":
        return 3 + sum(1 + len(name.encode()) + value_size(v) for name, v in inner.items())
    raise ValueError(f"Unknown attribute type {kind}.")


def item_size(item: dict[str, Any]) -> int:
    return sum(len(name.encode()) + value_size(value) for name, value in item.items())


def _kb_units(size: int) -> int:
    return max(1, math.ceil(size / KB))


# --- the table's indexes, as the live (template-made) table describes them ------------------


@dataclass(frozen=True)
class Index:
    name: str
    keys: tuple[str, ...]
    projection: str
    non_key: tuple[str, ...]

    def entry(self, item: dict[str, Any] | None, table_keys: tuple[str, ...]) -> dict[str, Any]:
        """The item's entry in this index; empty when the item is not in it (sparse)."""
        if item is None or not all(key in item for key in self.keys):
            return {}
        if self.projection == "ALL":
            return dict(item)
        kept = set(table_keys) | set(self.keys)
        if self.projection == "INCLUDE":
            kept |= set(self.non_key)
        return {name: value for name, value in item.items() if name in kept}


def _describe(client: Any, table: str) -> tuple[tuple[str, ...], list[Index]]:
    description = client.describe_table(TableName=table)["Table"]
    table_keys = tuple(key["AttributeName"] for key in description["KeySchema"])
    indexes = [
        Index(
            name=gsi["IndexName"],
            keys=tuple(key["AttributeName"] for key in gsi["KeySchema"]),
            projection=gsi["Projection"]["ProjectionType"],
            non_key=tuple(gsi["Projection"].get("NonKeyAttributes", ())),
        )
        for gsi in description.get("GlobalSecondaryIndexes", [])
    ]
    return table_keys, indexes


# --- what was recorded -----------------------------------------------------------------------


def _label(key: dict[str, Any], item: dict[str, Any] | None) -> str:
    pk, sk = str(key["pk"]["S"]), str(key["sk"]["S"])
    if sk == "CONTACT":
        return "contact"
    if sk.startswith("EVENT#"):
        kind = item["type"]["S"] if item and "type" in item else "?"
        return f"`{kind}` event"
    if pk.startswith("STATS#"):
        return "day counters"
    return {
        "REGISTRATION": "registration",
        "SEND": "send claim",
        "INBOUND": "inbound marker",
        "LOOKUP": "lookup cache",
    }.get(sk, sk)


@dataclass
class Write:
    label: str
    action: str  # Put | Update | Delete
    old: int  # bytes, 0 when the item did not exist
    new: int  # bytes, 0 when the write removed it
    wru: int
    index_wru: dict[str, int]


@dataclass
class Call:
    step: str
    operation: str
    wru: int = 0
    rru: float = 0.0
    writes: list[Write] = field(default_factory=list)
    read: str = ""  # what a read found
    error: str | None = None

    def describe(self) -> str:
        if self.writes and self.operation == "TransactWriteItems":
            parts = ", ".join(
                f"{w.label} ({_kb(max(w.old, w.new))}{' replaced' if w.old and w.new else ''})"
                for w in self.writes
            )
            text = f"TransactWriteItems: {parts}"
        elif self.writes:
            w = self.writes[0]
            text = f"{self.operation} {w.label} ({_kb(max(w.old, w.new))})"
        else:
            text = f"{self.operation} {self.read}"
        return text + (f" [failed: {self.error}]" if self.error else "")


def _kb(size: int) -> str:
    return f"{size / KB:.1f} KB" if size >= KB / 10 else f"{size} B"


class Recorder:
    """Hooks a DynamoDB client: every call it makes is priced into `calls`."""

    def __init__(self, table: str) -> None:
        self.table = table
        # Unhooked: its reads of items before and after a write are not the store's calls.
        self._observer = dynamodb.client()
        self.table_keys, self.indexes = _describe(self._observer, table)
        self.step = ""
        self.calls: list[Call] = []
        # What is kept once the calls are done: bytes per item label and key, and per index.
        self.stored: dict[tuple[str, str, str], int] = {}

    def attach(self, client: Any) -> Any:
        client.meta.events.register("provide-client-params.dynamodb.*", self._before)
        client.meta.events.register("after-call.dynamodb.*", self._after)
        return client

    def _current(self, key: dict[str, Any]) -> dict[str, Any] | None:
        response = self._observer.get_item(TableName=self.table, Key=key, ConsistentRead=True)
        item: dict[str, Any] | None = response.get("Item")
        return item

    def _key(self, item: dict[str, Any]) -> dict[str, Any]:
        return {name: item[name] for name in self.table_keys}

    def _targets(self, operation: str, params: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
        """(action, key) of every item the call writes."""
        if operation == "PutItem":
            return [("Put", self._key(params["Item"]))]
        if operation in ("UpdateItem", "DeleteItem"):
            return [(operation.removesuffix("Item"), params["Key"])]
        if operation == "TransactWriteItems":
            targets = []
            for action in params["TransactItems"]:
                ((kind, body),) = action.items()
                if kind == "ConditionCheck":
                    continue
                targets.append((kind, self._key(body["Item"]) if kind == "Put" else body["Key"]))
            return targets
        if operation in ("BatchWriteItem", "TransactGetItems", "BatchGetItem", "Scan"):
            raise NotImplementedError(f"The store is not expected to call {operation}.")
        return []

    def _before(
        self, params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any
    ) -> None:
        targets = self._targets(model.name, params)
        context["bench"] = {
            "params": params,
            "targets": [(action, key, self._current(key)) for action, key in targets],
        }

    def _after(self, parsed: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        operation = model.name
        recorded = context.get("bench", {})
        params: dict[str, Any] = recorded.get("params", {})
        call = Call(self.step, operation)
        error = parsed.get("Error")
        if error:
            call.error = str(error.get("Code"))
        consistent = bool(params.get("ConsistentRead")) and "IndexName" not in params
        factor = 1.0 if consistent else 0.5
        if operation == "GetItem":
            item = parsed.get("Item")
            call.read = _label(params["Key"], item) + (
                f" ({_kb(item_size(item))})" if item else " (not found)"
            )
            call.rru = factor * math.ceil(max(1, item_size(item) if item else 1) / READ_UNIT)
        elif operation == "Query":
            items = parsed.get("Items", [])
            total = sum(item_size(item) for item in items)
            where = f"{params['IndexName']} " if "IndexName" in params else ""
            call.read = f"{where}({len(items)} items, {_kb(total)})"
            call.rru = factor * math.ceil(max(1, total) / READ_UNIT)
        transactional = operation == "TransactWriteItems"
        for action, key, old in recorded.get("targets", []):
            # A failed condition writes nothing, but the write is still charged (sized as
            # the item is); a cancelled transaction's charge is not modelled here.
            new = self._current(key)
            old_size = item_size(old) if old else 0
            new_size = item_size(new) if new else 0
            wru = _kb_units(max(old_size, new_size)) * (2 if transactional else 1)
            index_wru = {} if call.error else self._index_writes(old, new)
            label = _label(key, new or old)
            call.writes.append(Write(label, action, old_size, new_size, wru, index_wru))
            self._keep(label, key, new)
            call.wru += wru
        self.calls.append(call)

    def _keep(self, label: str, key: dict[str, Any], item: dict[str, Any] | None) -> None:
        where = (str(key["pk"]["S"]), str(key["sk"]["S"]))
        for holder in (label, *(index.name for index in self.indexes)):
            self.stored.pop((holder, *where), None)
        if item is None:
            return
        self.stored[(label, *where)] = item_size(item)
        for index in self.indexes:
            entry = index.entry(item, self.table_keys)
            if entry:
                self.stored[(index.name, *where)] = item_size(entry)

    def _index_writes(
        self, old: dict[str, Any] | None, new: dict[str, Any] | None
    ) -> dict[str, int]:
        units: dict[str, int] = {}
        for index in self.indexes:
            before = index.entry(old, self.table_keys)
            after = index.entry(new, self.table_keys)
            if not before and not after:
                continue
            if before and after:
                if any(before[k] != after[k] for k in index.keys):
                    cost = _kb_units(item_size(before)) + _kb_units(item_size(after))
                elif before != after:
                    cost = _kb_units(max(item_size(before), item_size(after)))
                else:
                    cost = 0
            else:
                cost = _kb_units(item_size(before or after))
            if cost:
                units[index.name] = cost
        return units


# --- the happy path --------------------------------------------------------------------------


class _Clock:
    """Fixed start, so runs agree; each reading is a millisecond later, as real time moves
    on between a step's saves (each save then moves the contact's ByStatus sort key)."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(milliseconds=1)
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def _token() -> str:
    # Opaque base64-ish text, as Step Functions' tokens are.
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    return "".join(alphabet[i % len(alphabet)] for i in range(TOKEN_LENGTH))


def run_happy_path() -> tuple[Recorder, list[str]]:
    """One sign-up from POST /signups to the welcome text; returns the recorder and the
    ledger's event types."""
    table = dynamodb.CONTACTS_TABLE
    recorder = Recorder(table)
    store_client = recorder.attach(dynamodb.client())
    store = DynamoDbContactStore(table, lambda: store_client)
    clock = _Clock()
    workflow = MemoryWorkflow(state_machine_arn=STATE_MACHINE)
    settings = Settings(
        contact_store="dynamodb",
        contacts_table=table,
        origination_identity=OUR_NUMBER,
        state_machine_arn=STATE_MACHINE,
    )
    deps = wiring.Dependencies(
        settings=settings, store=store, sms=MemorySmsSender(), workflow=workflow, clock=clock
    )

    recorder.step = "POST /signups"
    signups = deps.signups
    outcome = signups.signup(
        SignupRequest(
            phone_number=NUMBER,
            first_name="Ana",
            disclosure_version=signups.disclosure().version,
            ip="203.0.113.7",
            user_agent=USER_AGENT,
            page="https://example.com/sms",
            api_client=None,
            forwarded_for="203.0.113.7",
        )
    )
    assert outcome.kind == SignupKind.STARTED and outcome.registration_id, outcome
    registration_id = outcome.registration_id
    clock.advance(1)

    recorder.step = "ValidateNumber"
    check = deps.steps.check_number(NUMBER, registration_id=registration_id)
    assert check.acceptable and check.e164 == NUMBER, check
    clock.advance(1)

    recorder.step = "CreateContact"
    status = deps.steps.create_contact(
        registration_id=registration_id,
        phone_number=NUMBER,
        first_name="Ana",
        evidence=None,
        validation=check.as_payload(),
        execution_arn=workflow.execution_arn(registration_id),
    )
    assert status == Status.PENDING, status
    clock.advance(1)

    recorder.step = "SendConfirmation"
    deps.steps.send_confirmation(
        task_token=_token(),
        registration_id=registration_id,
        phone_number=NUMBER,
        first_name="Ana",
        window_seconds=86_400,  # the template's ConfirmationWindowSeconds default
    )
    clock.advance(40)

    recorder.step = "InboundSms (YES)"
    action = deps.inbound.handle(
        InboundSms(
            origination_number=NUMBER,
            destination_number=OUR_NUMBER,
            body="YES",
            inbound_message_id=str(uuid.uuid4()),
            keyword="YES",
            received_at=clock(),
        )
    )
    assert action == "confirmed", action
    clock.advance(1)

    recorder.step = "OptIn"
    callback = workflow.callbacks[-1]
    assert callback.outcome == "success" and callback.output is not None
    status = deps.steps.opt_in(
        registration_id=registration_id,
        phone_number=NUMBER,
        first_name="Ana",
        reply=callback.output,
    )
    assert status == Status.CONFIRMED, status

    recorder.step = "(check, not counted)"
    ledger = [str(event.type) for event in store.events(NUMBER)]
    recorder.calls = [call for call in recorder.calls if call.step != recorder.step]
    assert ledger[-1] == EventType.WELCOME_SENT, ledger
    return recorder, ledger


def _fmt(units: float) -> str:
    return f"{units:g}"


def report(recorder: Recorder, ledger: list[str]) -> None:
    steps: dict[str, list[Call]] = defaultdict(list)
    for call in recorder.calls:
        steps[call.step].append(call)
    print("\n## DynamoDB per confirmed sign-up (DynamoDbContactStore on moto)\n")
    print(f"task token: {TOKEN_LENGTH} characters; ledger: {', '.join(ledger)}\n")
    print("| step | calls | table WRU | index WRU | RRU |")
    print("| --- | --- | ---: | ---: | ---: |")
    index_totals: dict[str, int] = defaultdict(int)
    table_wru, rru = 0, 0.0
    for step in (
        "POST /signups",
        "ValidateNumber",
        "CreateContact",
        "SendConfirmation",
        "InboundSms (YES)",
        "OptIn",
    ):
        calls = steps.get(step, [])
        step_index: dict[str, int] = defaultdict(int)
        for call in calls:
            for write in call.writes:
                for name, units in write.index_wru.items():
                    step_index[name] += units
        wru = sum(call.wru for call in calls)
        reads = sum(call.rru for call in calls)
        table_wru += wru
        rru += reads
        for name, units in step_index.items():
            index_totals[name] += units
        described = "; ".join(call.describe() for call in calls) or "none"
        per_write = " + ".join(str(w.wru) for call in calls for w in call.writes) or "0"
        indexes = ", ".join(f"{name} {units}" for name, units in sorted(step_index.items()))
        print(
            f"| {step} | {described} | {per_write} = {wru} | "
            f"{sum(step_index.values())}{f' ({indexes})' if indexes else ''} | {_fmt(reads)} |"
        )
    index_wru = sum(index_totals.values())
    total_wru = table_wru + index_wru
    indexes = ", ".join(f"{name} {units}" for name, units in sorted(index_totals.items()))
    print(f"| **total** | | **{table_wru}** | **{index_wru}** ({indexes}) | **{_fmt(rru)}** |")
    cost = total_wru * PRICE_PER_WRU + rru * PRICE_PER_RRU
    print(
        f"\nWRU {total_wru} ({table_wru} table + {index_wru} index), RRU {_fmt(rru)}: "
        f"${cost:.7f} per sign-up at $0.625 per 1M WRU and $0.125 per 1M RRU"
    )
    print(_storage(recorder))
    print("\nEvery write, bytes before → after (table WRU; index WRU):")
    for call in recorder.calls:
        for w in call.writes:
            extra = ", ".join(f"{n} {u}" for n, u in w.index_wru.items()) or "-"
            print(
                f"  {call.step:18} {call.operation:18} {w.action:6} {w.label:28} "
                f"{w.old:5} → {w.new:5}  {w.wru}; {extra}"
            )


def _storage(recorder: Recorder) -> str:
    """Bytes kept per sign-up: its items and index entries, each with the 100 bytes of
    per-item overhead DynamoDB bills storage for. The day's counter item is shared by every
    sign-up of the day, so it is left out."""
    indexes = {index.name for index in recorder.indexes}
    items = [(label, size) for (label, _, _), size in recorder.stored.items()]
    own = [(label, size) for label, size in items if label != "day counters"]
    table = [size for label, size in own if label not in indexes]
    entries = [(label, size) for label, size in own if label in indexes]
    total = sum(table) + 100 * len(table) + sum(size + 100 for _, size in entries)
    return (
        f"\nkept after the sign-up: {len(table)} items, {sum(table)} bytes; index entries: "
        + (", ".join(f"{label} {size} bytes" for label, size in entries) or "none")
        + f"; with 100 bytes of overhead each, {total} bytes ({total / KB:.1f} KB)"
    )


def main(quick: bool = False) -> None:
    """`quick` is accepted for `python -m bench --quick`; the run is one sign-up either way."""
    # The use cases' INFO lines (masked numbers, message ids) are not this report.
    logging.getLogger("sms-optin").setLevel(logging.WARNING)
    with dynamodb.moto_dynamodb():
        recorder, ledger = run_happy_path()
    report(recorder, ledger)


if __name__ == "__main__":
    main()
