"""Every text we show or send, built from Settings.

The confirmation text follows the CTIA Messaging Principles: program name, what and how
often (recurring texts, MESSAGE_FREQUENCY), "Msg & data rates may apply", HELP and STOP
instructions and a terms link.

Each message carries a kind and a version so the consent ledger records exactly what was
shown or sent. The version is DISCLOSURE_VERSION (the operator bumps it when the settings
that fill the texts change) followed by "+r<n>" once the wording in this module has been
revised n times (a text never revised keeps the bare DISCLOSURE_VERSION).

Every text we send fits one SMS segment with the default settings (domain.segments):
a first name is spelled in GSM-7 or left out, since one character outside GSM-7 makes the
whole text UCS-2 (70 characters a part instead of 160), and it is left out too when it
would make the text need another part.
"""

from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import dataclass

from optin.domain.segments import SegmentCount, count, segments, to_gsm7
from optin.domain.settings import Settings

FIRST_NAME_MAX_LENGTH = 50
# Names go into texts we send to whatever number was typed in: only letters (with their
# accents), spaces, hyphens, apostrophes and the periods of initials ("J.R.", "St. John"),
# so nobody can use the sign-up form to text a link or a message of their choosing to a
# stranger. A period followed by two letters would spell a domain ("evil.com"), so it is
# refused; no top-level domain has a single letter.
_NAME_PUNCTUATION = frozenset(" -'’")
FIRST_NAME_RULE = (
    "Your first name can have letters, spaces, hyphens, apostrophes and the periods of "
    f"initials (like J.R.), up to {FIRST_NAME_MAX_LENGTH} characters."
)


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


def normalise_first_name(name: str) -> str:
    """The name with its accents composed (NFC): "Nguyễn" typed on a keyboard that sends
    "e" + two combining marks is the same name, and only the composed form can be spelled
    in GSM-7 for a text."""
    return unicodedata.normalize("NFC", name.strip())


def is_safe_first_name(name: str) -> bool:
    name = normalise_first_name(name)
    if not 0 < len(name) <= FIRST_NAME_MAX_LENGTH or not any(c.isalpha() for c in name):
        return False
    for index, char in enumerate(name):
        before = name[index - 1] if index else ""
        if char.isalpha() or char in _NAME_PUNCTUATION:
            continue
        # Combining marks (the vowel signs of Devanagari, say) belong to the letter before.
        if (
            unicodedata.category(char).startswith("M")
            and before
            and (before.isalpha() or unicodedata.category(before).startswith("M"))
        ):
            continue
        after = name[index + 1 : index + 3]
        if char == "." and before.isalpha() and not (len(after) == 2 and after.isalpha()):
            continue
        return False
    return True


def _version(settings: Settings, revision: int) -> str:
    return (
        settings.disclosure_version
        if revision <= 1
        else f"{settings.disclosure_version}+r{revision}"
    )


def _greeting(first_name: str | None) -> str:
    name = normalise_first_name(first_name or "")
    if not name or not is_safe_first_name(name):
        return ""
    spelled = to_gsm7(name)
    return f"Hi {spelled}! " if spelled else ""


def _personal(template: str, first_name: str | None) -> str:
    """`template` with its {greeting} filled, or emptied when the name costs another part."""
    plain = template.format(greeting="")
    named = template.format(greeting=_greeting(first_name))
    return named if segments(named) <= segments(plain) else plain


def _braces(value: str) -> str:
    """A configured value made safe to put in a str.format template."""
    return value.replace("{", "{{").replace("}", "}}")


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


# Revision 2: 189 characters (two parts) cut to 156 (one part) with the default settings.
CONFIRMATION_REVISION = 2


def confirmation(settings: Settings, first_name: str | None = None) -> Message:
    template = (
        f"{_braces(settings.program_name)}: {{greeting}}Reply YES to confirm texts. "
        f"{_braces(_rates(settings))} HELP for help, STOP to cancel. "
        f"Terms: {_braces(settings.terms_url)}"
    )
    text = _personal(template, first_name)
    return Message("confirmation", text, _version(settings, CONFIRMATION_REVISION))


# Revision 2 of the replies below: each carries the program name and the sign-up page
# (SIGNUP_URL), so a person who finds the text later knows who sent it and where to look.
# The confirmation and the HELP answer are left as they were: with the default settings
# their CTIA parts and the terms link fill 156 and 148 of the 160 characters, and the
# sign-up address (24 more) would make each of them two parts (docs/texts.md).
REPLY_REVISION = 2


def _reply_version(settings: Settings) -> str:
    return _version(settings, REPLY_REVISION)


def welcome(settings: Settings, first_name: str | None = None) -> Message:
    template = (
        f"You're subscribed to {_braces(settings.program_name)}. {{greeting}}"
        f"{_braces(_rates(settings))} Reply STOP to cancel, HELP for help. "
        f"{_braces(settings.signup_url)}"
    )
    return Message("welcome", _personal(template, first_name), _reply_version(settings))


def help_text(settings: Settings) -> Message:
    text = (
        f"{settings.program_name}: Help at {settings.program_contact}. {_rates(settings)} "
        f"Reply STOP to cancel. Terms: {settings.terms_url}"
    )
    return Message("help", text, settings.disclosure_version)


def opted_out(settings: Settings) -> Message:
    text = (
        f"{settings.program_name}: You're unsubscribed and will get no more messages. "
        f"Reply START to resubscribe. {settings.signup_url}"
    )
    return Message("opted_out", text, _reply_version(settings))


def resubscribed(settings: Settings) -> Message:
    text = (
        f"You're subscribed to {settings.program_name} again. {_rates(settings)} "
        f"Reply STOP to cancel, HELP for help. {settings.signup_url}"
    )
    return Message("resubscribed", text, _reply_version(settings))


def expired(settings: Settings) -> Message:
    # No full stop after the address: some phones would make it part of the link.
    text = f"{settings.program_name}: This request expired. Sign up again at {settings.signup_url}"
    return Message("expired", text, _reply_version(settings))


def registration_closed(settings: Settings) -> Message:
    """The answer to a reply whose sign-up can no longer be confirmed because its workflow
    ended without it (stopped, failed): it is not the person's fault, so it says how to
    start over rather than that they were too late."""
    text = (
        f"{settings.program_name}: This sign-up is no longer open, so your reply could not "
        f"confirm it. Sign up again at {settings.signup_url}"
    )
    return Message("registration_closed", text, settings.disclosure_version)


def clarify(settings: Settings) -> Message:
    text = (
        f"{settings.program_name}: Sorry, we didn't get that. Reply YES to confirm your "
        f"subscription, STOP to cancel or HELP for help. {settings.signup_url}"
    )
    return Message("clarify", text, _reply_version(settings))


def sent_texts(settings: Settings, first_name: str | None = None) -> list[Message]:
    """Every text we send (the disclosure is shown on the form, not sent)."""
    return [
        confirmation(settings, first_name),
        welcome(settings, first_name),
        help_text(settings),
        opted_out(settings),
        resubscribed(settings),
        expired(settings),
        registration_closed(settings),
        clarify(settings),
    ]


def segment_counts(settings: Settings) -> dict[str, SegmentCount]:
    """What each text costs with these settings: a check for the operator who configures a
    longer program name, frequency or URL (anything over one part is billed per part)."""
    return {message.kind: count(message.text) for message in sent_texts(settings)}
