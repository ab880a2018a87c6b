"""The daily cap on confirmation texts, as every use case that reserves one checks it
(a sign-up, a sign-up's resend, SendConfirmation, an agent's resend)."""

from __future__ import annotations

from optin.domain.contact import Contact
from optin.domain.send_limits import check_daily_cap, confirmation_texts
from optin.usecases.base import UseCase


def check_daily_texts(use_case: UseCase, contact: Contact | None) -> int:
    """Raise DailyCapReached when the contact's number may not get another confirmation
    text now; otherwise return how many it had in the last 24 hours. Run inside the
    transition that reserves the text, so a write that loses a race checks again."""
    if contact is None:
        return 0
    now = use_case.clock()
    # The number's ledger: one Query on its own partition (or SQLite rows by number).
    sent = confirmation_texts(use_case.store.events(contact.phone_number), contact, now=now)
    check_daily_cap(sent, now=now, cap=use_case.settings.max_confirmation_texts_per_day)
    return len(sent)
