"""Classifying an inbound text message.

Matching is on the whole normalised message, never a substring: the tutorial's
`includes("yes")` opted in "eyes" and "no, not yes". Normalising trims, case-folds,
turns punctuation and emoji into spaces and collapses runs of spaces.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from enum import StrEnum

from optin.domain.settings import DEFAULT_CONFIRM_KEYWORDS

OPT_OUT_KEYWORDS = (
    "STOP",
    "STOPALL",
    "STOP ALL",
    "UNSUBSCRIBE",
    "CANCEL",
    "END",
    "QUIT",
    "REVOKE",
    "OPTOUT",
    "OPT OUT",
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
    """' Yes! 👍 ' -> 'yes'. Letters and digits stay; everything else becomes a space."""
    if not text:
        return ""
    folded = unicodedata.normalize("NFKC", text).casefold()
    kept = [
        char if unicodedata.category(char)[0] in ("L", "N") else " "
        for char in folded
        # Combining marks (accents, emoji modifiers) join the previous character.
        if unicodedata.category(char)[0] != "M"
    ]
    return " ".join("".join(kept).split())


def _normalised(words: Iterable[str]) -> frozenset[str]:
    return frozenset(n for n in (normalise(w) for w in words) if n)


def classify(
    text: str | None, confirm_keywords: Iterable[str] = DEFAULT_CONFIRM_KEYWORDS
) -> Intent:
    """Decide what a reply asks for. Opt-out is checked first: STOP always wins."""
    message = normalise(text)
    if not message:
        return Intent.OTHER
    if message in _normalised(OPT_OUT_KEYWORDS):
        return Intent.OPT_OUT
    if message in _normalised(HELP_KEYWORDS):
        return Intent.HELP
    if message in _normalised(OPT_IN_KEYWORDS):
        return Intent.OPT_IN
    if message in _normalised(confirm_keywords):
        return Intent.CONFIRM
    return Intent.OTHER
