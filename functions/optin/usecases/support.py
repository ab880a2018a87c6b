"""Reads for support staff: a contact and its consent ledger."""

from __future__ import annotations

from optin.domain.consent import ConsentEvent
from optin.domain.contact import Contact
from optin.domain.errors import ContactNotFound
from optin.usecases.base import UseCase


class Support(UseCase):
    def contact_with_events(self, phone_number: str) -> tuple[Contact, list[ConsentEvent]]:
        contact = self.store.get(phone_number)
        if contact is None:
            raise ContactNotFound("No contact with this phone number.")
        return contact, self.store.events(phone_number)
