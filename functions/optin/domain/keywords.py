"""Classifying an inbound text message.

Matching is on whole normalised words, never a substring: the tutorial's
`includes("yes")` opted in "eyes" and "no, not yes". Normalising trims, case-folds,
drops accents, turns punctuation and emoji into spaces and collapses runs of spaces.

Confirming, HELP and START need the whole message to be the keyword. Opting out needs
only the message to begin with one ("STOP texting me"), as End User Messaging matches a
keyword at the start of a message when it manages opt-outs itself: with self-managed
opt-outs we must honour at least as much, and a wrong opt-out is the safe mistake.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from enum import StrEnum

from optin.domain.settings import DEFAULT_CONFIRM_KEYWORDS

# The opt-out keywords End User Messaging requires every number to honour (User Guide,
# "Required opt-out keywords"), then ours (REVOKE: the FCC's list of revocation words).
AWS_REQUIRED_OPT_OUT_KEYWORDS = (
    "ARRET",
    "CANCEL",
    "END",
    "OPT-OUT",
    "OPTOUT",
    "QUIT",
    "REMOVE",
    "STOP",
    "TD",
    "UNSUBSCRIBE",
)
OPT_OUT_KEYWORDS = (
    *AWS_REQUIRED_OPT_OUT_KEYWORDS,
    "STOPALL",
    "STOP ALL",
    "REVOKE",
    "OPT OUT",
    "CANCEL ALL",
    "UNSUBSCRIBE ALL",
)
HELP_KEYWORDS = ("HELP", "INFO")
OPT_IN_KEYWORDS = ("START", "UNSTOP")


class Intent(StrEnum):
    CONFIRM = "CONFIRM"
    OPT_OUT = "OPT_OUT"
    HELP = "HELP"
    OPT_IN = "OPT_IN"
    OTHER = "OTHER"


def normalise(text: str | None) -> str:
    """' Yes! 👍 ' -> 'yes', 'Arrêt' -> 'arret'. Letters and digits stay (accents
    dropped); everything else becomes a space."""
    if not text:
        return ""
    decomposed = unicodedata.normalize("NFKD", text).casefold()
    kept = [
        char if unicodedata.category(char)[0] in ("L", "N") else " "
        for char in decomposed
        # Combining marks (accents, emoji modifiers) are dropped with the base kept.
        if unicodedata.category(char)[0] != "M"
    ]
    return unicodedata.normalize("NFKC", " ".join("".join(kept).split()))


def _normalised(words: Iterable[str]) -> frozenset[str]:
    return frozenset(n for n in (normalise(w) for w in words) if n)


def _begins_with(message: str, keywords: frozenset[str]) -> bool:
    words = message.split(" ")
    # Keywords have one or two words ("stop all", "opt out").
    return any(" ".join(words[:n]) in keywords for n in (1, 2))


def classify(
    text: str | None, confirm_keywords: Iterable[str] = DEFAULT_CONFIRM_KEYWORDS
) -> Intent:
    """Decide what a reply asks for. Opt-out is checked first: STOP always wins."""
    message = normalise(text)
    if not message:
        return Intent.OTHER
    if _begins_with(message, _normalised(OPT_OUT_KEYWORDS)):
        return Intent.OPT_OUT
    if message in _normalised(HELP_KEYWORDS):
        return Intent.HELP
    if message in _normalised(OPT_IN_KEYWORDS):
        return Intent.OPT_IN
    if message in _normalised(confirm_keywords):
        return Intent.CONFIRM
    return Intent.OTHER
