"""Pinpoint endpoints as contacts (usecases/importing.py) over the in-memory store."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from optin.domain.consent import EventType
from optin.domain.contact import Contact, Status
from optin.usecases.importing import Endpoint, PinpointImport, Result, registration_id
from tests.fakes.contact_store import MemoryContactStore

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def endpoint(**changes: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "Id": "ep-1",
        "ChannelType": "SMS",
        "Address": "+12065550100",
        "EndpointStatus": "ACTIVE",
        "OptOut": "NONE",
        "CreationDate": "2019-01-28T19:52:31.044Z",
        "EffectiveDate": "2019-01-28T19:53:57.291Z",
        "Attributes": {"OptInTimestamp": ["2019-01-28T19:53:57.291Z"], "Source": ["Form"]},
        "User": {"UserAttributes": {"FirstName": ["Carlos"]}},
    }
    raw.update(changes)
    return raw


def importer(store: MemoryContactStore) -> PinpointImport:
    return PinpointImport(store, clock=lambda: NOW)


def test_an_opted_in_endpoint_becomes_a_confirmed_contact_with_pinpoint_evidence() -> None:
    store = MemoryContactStore()
    outcome = importer(store).run(Endpoint.from_json(endpoint()))
    assert outcome.result == Result.CONFIRMED and outcome.phone_number == "+12065550100"
    contact = store.get("+12065550100")
    assert contact is not None
    assert contact.status == Status.CONFIRMED and contact.opted_in
    assert contact.first_name == "Carlos"
    assert contact.registration_id == registration_id("ep-1")
    [event] = store.events("+12065550100")
    assert event.type == EventType.IMPORTED
    assert event.details["evidence"]["optInTimestamp"] == "2019-01-28T19:53:57.291Z"
    assert event.details["evidence"]["source"] == "Form"
    assert event.details["evidence"]["endpointId"] == "ep-1"


def test_opt_out_all_becomes_opted_out_and_importing_twice_changes_nothing() -> None:
    store = MemoryContactStore()
    raw = endpoint(OptOut="ALL")
    assert importer(store).run(Endpoint.from_json(raw)).result == Result.OPTED_OUT
    contact = store.get("+12065550100")
    assert contact is not None and contact.status == Status.OPTED_OUT and not contact.opted_in
    assert importer(store).run(Endpoint.from_json(raw)).result == Result.UNCHANGED
    assert len(store.events("+12065550100")) == 1
    # The project's record changed since (OptOut NONE now): the import follows it, once.
    assert importer(store).run(Endpoint.from_json(endpoint())).result == Result.CONFIRMED
    assert [e.details["status"] for e in store.events("+12065550100")] == [
        "OPTED_OUT",
        "CONFIRMED",
    ]


def test_a_number_signed_up_here_is_left_alone() -> None:
    store = MemoryContactStore()
    ours = Contact("+12065550100", Status.PENDING, False, "reg-here", NOW, NOW, version=1)
    store.save(ours, expected_version=None)
    outcome = importer(store).run(Endpoint.from_json(endpoint()))
    assert outcome.result == Result.EXISTS and outcome.code == "already_a_contact"
    assert store.get("+12065550100") == ours


def test_invalid_endpoints_are_reported_not_written() -> None:
    store = MemoryContactStore()
    cases = {
        "not_sms": endpoint(ChannelType="EMAIL", Address="a@example.com"),
        "missing_id": endpoint(Id=""),
        "invalid_opt_out": endpoint(OptOut="MAYBE"),
        "inactive": endpoint(EndpointStatus="INACTIVE"),
        "invalid_opt_in_timestamp": endpoint(Attributes={"OptInTimestamp": ["last spring"]}),
    }
    for code, raw in cases.items():
        outcome = importer(store).run(Endpoint.from_json(raw))
        assert (outcome.result, outcome.code) == (Result.INVALID, code), raw
    bad_number = importer(store).run(Endpoint.from_json(endpoint(Address="+1206555")))
    assert bad_number.result == Result.INVALID and bad_number.reason
    assert store.get("+12065550100") is None
