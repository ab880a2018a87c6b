"""Every text we show or send, built from Settings.

The confirmation text follows the CTIA Messaging Principles: program name, message
frequency, "Msg & data rates may apply", HELP and STOP instructions and a terms link.
Each message carries a kind and a version so the consent ledger records exactly what was
shown or sent; the version is DISCLOSURE_VERSION, bumped whenever the wording changes.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from optin.domain.settings import Settings

FIRST_NAME_MAX_LENGTH = 50
# Names go into texts we send to whatever number was typed in: only letters, spaces,
# hyphens and apostrophes, so nobody can use the sign-up form to text a link or a
# message of their choosing to a stranger.
_NAME_PUNCTUATION = frozenset(" -'’")


@dataclass(frozen=True)
class Message:
    kind: str
    text: str
    version: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()

    def as_evidence(self) -> dict[str, str]:
        return {"kind": self.kind, "text": self.text, "version": self.version}


def is_safe_first_name(name: str) -> bool:
    return (
        0 < len(name) <= FIRST_NAME_MAX_LENGTH
        and any(char.isalpha() for char in name)
        and all(char.isalpha() or char in _NAME_PUNCTUATION for char in name)
    )


def _greeting(first_name: str | None) -> str:
    name = (first_name or "").strip()
    return f"Hi {name}! " if name and is_safe_first_name(name) else ""


def _rates(settings: Settings) -> str:
    return f"{settings.message_frequency.rstrip('.')}. Msg & data rates may apply."


def disclosure(settings: Settings) -> Message:
    """The consent text shown next to the sign-up checkbox."""
    text = (
        f"By checking this box, I agree to receive recurring automated text messages from "
        f"{settings.program_name} at the number provided. Consent is not a condition of "
        f"purchase. {_rates(settings)} Reply HELP for help, STOP to cancel. "
        f"Terms: {settings.terms_url}"
    )
    return Message("disclosure", text, settings.disclosure_version)


def confirmation(settings: Settings, first_name: str | None = None) -> Message:
    text = (
        f"{settings.program_name}: {_greeting(first_name)}Reply YES to confirm you want "
        f"recurring texts from us. {_rates(settings)} Reply HELP for help, STOP to cancel. "
        f"Terms: {settings.terms_url}"
    )
    return Message("confirmation", text, settings.disclosure_version)


def welcome(settings: Settings, first_name: str | None = None) -> Message:
    text = (
        f"You're subscribed to {settings.program_name}. {_greeting(first_name)}"
        f"{_rates(settings)} Reply STOP to cancel, HELP for help."
    )
    return Message("welcome", text, settings.disclosure_version)


def help_text(settings: Settings) -> Message:
    text = (
        f"{settings.program_name}: Help at {settings.program_contact}. {_rates(settings)} "
        f"Reply STOP to cancel. Terms: {settings.terms_url}"
    )
    return Message("help", text, settings.disclosure_version)


def opted_out(settings: Settings) -> Message:
    text = (
        f"{settings.program_name}: You're unsubscribed and will get no more messages. "
        "Reply START to resubscribe."
    )
    return Message("opted_out", text, settings.disclosure_version)


def resubscribed(settings: Settings) -> Message:
    text = (
        f"You're subscribed to {settings.program_name} again. {_rates(settings)} "
        "Reply STOP to cancel, HELP for help."
    )
    return Message("resubscribed", text, settings.disclosure_version)


def expired(settings: Settings) -> Message:
    text = f"This request expired. Sign up again at {settings.signup_url}."
    return Message("expired", text, settings.disclosure_version)


def clarify(settings: Settings) -> Message:
    text = (
        f"{settings.program_name}: Sorry, we didn't get that. Reply YES to confirm your "
        "subscription, STOP to cancel or HELP for help."
    )
    return Message("clarify", text, settings.disclosure_version)
