"""Webhook signatures (Stripe's scheme): `Optin-Signature: t=<unix seconds>,v1=<hex>` where the
hex is HMAC-SHA256 keyed with the endpoint's secret over "<t>.<raw body>".

The timestamp is inside the signed text, so a receiver that refuses old timestamps refuses a
captured request replayed later; the MAC is compared in constant time. Pure: no clock, no I/O.
"""

from __future__ import annotations

import hashlib
import hmac

HEADER = "Optin-Signature"
EVENT_ID_HEADER = "Optin-Event-Id"
TOLERANCE_SECONDS = 300


class SignatureError(ValueError):
    """The signature header is missing, malformed, wrong, or too old."""


def _mac(secret: str, timestamp: int, body: bytes) -> str:
    signed = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The header value for `body` sent at `timestamp` (unix seconds)."""
    return f"t={timestamp},v1={_mac(secret, timestamp, body)}"


def verify(
    secret: str,
    header: str | None,
    body: bytes,
    *,
    now: int,
    tolerance: int = TOLERANCE_SECONDS,
) -> int:
    """Check a received header against the raw body; return its timestamp or raise
    SignatureError. Any v1 entry may match (a sender may sign with two secrets while one is
    being rotated)."""
    if not header:
        raise SignatureError("No signature header.")
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t" and value.isdigit():
            timestamp = int(value)
        elif name == "v1" and value:
            candidates.append(value)
    if timestamp is None or not candidates:
        raise SignatureError("The signature header has no t= or no v1= entry.")
    expected = _mac(secret, timestamp, body)
    if not any(hmac.compare_digest(expected, candidate) for candidate in candidates):
        raise SignatureError("The signature does not match the body.")
    if abs(now - timestamp) > tolerance:
        raise SignatureError("The signature's timestamp is outside the tolerance.")
    return timestamp
