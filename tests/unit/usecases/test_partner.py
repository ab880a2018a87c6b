"""Partners' reads over a ledger with several registrations and several partners: who sees
which sign-up, past registrations' statuses, and another partner's evidence kept out."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from optin.domain import contact as t
from optin.domain.contact import Contact
from optin.domain.errors import ContactNotFound
from optin.usecases.partner import owner
from tests.fakes.api_keys import MemoryApiKeyStore

NUMBER = "+12065550100"


def save(world: Any, change: t.Change) -> Contact:
    assert change.after is not None
    before = change.before.version if change.before else None
    world.store.save(change.after, expected_version=before, events=change.events)
    return change.after


def requested(world: Any, registration_id: str, client: str | None) -> Contact:
    return save(
        world,
        t.request(
            world.store.get(NUMBER),
            phone_number=NUMBER,
            registration_id=registration_id,
            first_name="Ana",
            execution_arn=None,
            evidence={"channel": "api", "apiClient": client, "ip": "203.0.113.9"},
            validation={"e164": NUMBER},
            now=world.clock(),
        ),
    )


@pytest.fixture
def partners(world: Any) -> Any:
    world.deps.api_keys = MemoryApiKeyStore()
    return world.deps.partners


def test_the_creator_is_read_from_the_requested_event(world: Any, partners: Any) -> None:
    requested(world, "reg-1", "key-a")
    assert owner(world.store.events(NUMBER), "reg-1") == "key-a"
    assert owner(world.store.events(NUMBER), "reg-2") is None
    assert partners.view("key-a", "reg-1")["status"] == "PENDING"
    with pytest.raises(ContactNotFound):
        partners.view("key-b", "reg-1")


def test_past_and_current_sign_ups_by_number_newest_first(world: Any, partners: Any) -> None:
    requested(world, "reg-1", "key-a")
    save(world, t.expire(world.store.get(NUMBER), registration_id="reg-1", now=world.clock()))
    world.clock.advance(60)
    requested(world, "reg-2", None)  # the public form, between the two
    save(world, t.expire(world.store.get(NUMBER), registration_id="reg-2", now=world.clock()))
    world.clock.advance(60)
    requested(world, "reg-3", "key-a")
    found = partners.find("key-a", NUMBER)
    assert [(s["id"], s["status"]) for s in found] == [("reg-3", "PENDING"), ("reg-1", "EXPIRED")]
    assert all(e["registrationId"] == s["id"] for s in found for e in s["ledger"])
    assert partners.find("key-b", NUMBER) == []
    assert partners.find("key-a", "not a number") == []


def test_another_partners_evidence_on_the_same_sign_up_is_not_shown(
    world: Any, partners: Any
) -> None:
    contact = requested(world, "reg-1", "key-a")
    change, _ = t.reserve_resend(
        contact,
        now=world.clock() + timedelta(minutes=5),
        cooldown_seconds=0,
        max_sends=5,
        evidence={"channel": "api", "apiClient": "key-b", "ip": "198.51.100.7"},
    )
    save(world, change)
    ledger = partners.view("key-a", "reg-1")["ledger"]
    assert ledger[0]["details"]["evidence"]["apiClient"] == "key-a"
    assert len(ledger) == 2 and "evidence" not in ledger[1]["details"]
    assert "198.51.100.7" not in str(ledger)
