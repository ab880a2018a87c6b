"""CAPTCHA port: a challenge for the form to solve, and the check of its answer.

The ALTCHA adapter (adapters/altcha_captcha.py) is proof of work, signed with an HMAC key,
with no outside service. A hosted CAPTCHA (Turnstile, hCaptcha) fits the same port: its
`challenge` returns the site key for the widget, its `verify` calls the vendor's siteverify
endpoint with the secret and the token (docs/security.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol


@dataclass(frozen=True)
class Verdict:
    ok: bool
    # What identifies this solution for replay protection (None when not ok).
    token: str | None = None
    expires_at: datetime | None = None
    # Why it failed, for the logs (never shown verbatim to the person).
    problem: str | None = None


class Captcha(Protocol):
    def challenge(self, now: datetime) -> dict[str, Any]:
        """A fresh challenge, as JSON for the widget."""
        ...

    def verify(self, payload: str, now: datetime) -> Verdict:
        """Check a solution the widget sent. Replays are the caller's job (RateLimiter)."""
        ...
