"""Partner API keys: how a key is made, recognised and checked (pure; stores keep records).

A key reads `optin_<key id>_<secret>`: the prefix makes a leaked key recognisable (secret
scanners, logs), the key id names the partner without the secret (it is the partner's
identity in the consent ledger), and the secret is 256 random bits.

Only SHA-256 of the whole key is stored. A slow, salted hash (bcrypt, scrypt) exists to
make guessing a *low-entropy* password expensive; nobody can enumerate 2**256 secrets, so a
fast hash loses nothing here and keeps the check cheap on every request.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from optin.domain.errors import DomainError

PREFIX = "optin"
MAX_NAME = 100
_KEY = re.compile(rf"{PREFIX}_([0-9a-f]{{16}})_([A-Za-z0-9_-]{{43}})")
KEY_ID = re.compile(r"[0-9a-f]{16}")


class KeyNotFound(DomainError):
    code = "key_not_found"


class InvalidKeyName(DomainError):
    code = "invalid_name"


@dataclass(frozen=True)
class ApiKey:
    """What is kept about a key: never the key itself."""

    key_id: str
    name: str
    secret_hash: str
    created_at: datetime
    revoked_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True)
class NewKey:
    """A key just made: `key` is shown once, then only `record` is kept."""

    key: str
    record: ApiKey


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def check_name(raw: object) -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise InvalidKeyName("Give the key a name (who it is for).")
    name = raw.strip()
    if len(name) > MAX_NAME or not name.isprintable():
        raise InvalidKeyName(f"A key's name is printable text of at most {MAX_NAME} characters.")
    return name


def new_key(name: str, now: datetime) -> NewKey:
    key_id = secrets.token_hex(8)
    key = f"{PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"
    return NewKey(key, ApiKey(key_id, check_name(name), digest(key), now))


def key_id_of(presented: str) -> str | None:
    """The key id a presented key claims, or None when it is not shaped like a key."""
    found = _KEY.fullmatch(presented)
    return found.group(1) if found else None


def matches(record: ApiKey, presented: str) -> bool:
    # Constant-time: the comparison must not tell how much of a guess was right.
    return record.active and hmac.compare_digest(record.secret_hash, digest(presented))
