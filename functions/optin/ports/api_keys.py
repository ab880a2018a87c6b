"""API key store port: records of partner keys (optin.domain.api_keys.ApiKey), never keys.

SQLite: the `api_keys` table in the contact store's file. DynamoDB: the contacts table,
partition `APIKEYS`, sort key `KEY#<key id>`, so listing is one Query (no Scan is granted).
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from optin.domain.api_keys import ApiKey


class ApiKeyStore(Protocol):
    def add(self, record: ApiKey) -> None:
        """Keep a new key's record (a key id already taken raises ValueError)."""
        ...

    def get(self, key_id: str) -> ApiKey | None: ...

    def list(self) -> list[ApiKey]:
        """Every key, oldest first."""
        ...

    def revoke(self, key_id: str, *, now: datetime) -> ApiKey:
        """Mark the key revoked (idempotent: a second revoke keeps the first time).
        Raises KeyNotFound."""
        ...
