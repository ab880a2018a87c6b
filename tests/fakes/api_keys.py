"""In-memory ApiKeyStore."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import datetime

from optin.domain.api_keys import ApiKey, KeyNotFound


class MemoryApiKeyStore:
    def __init__(self) -> None:
        self._keys: dict[str, ApiKey] = {}
        self._lock = threading.Lock()

    def add(self, record: ApiKey) -> None:
        with self._lock:
            if record.key_id in self._keys:
                raise ValueError(f"The key id {record.key_id} is taken.")
            self._keys[record.key_id] = record

    def get(self, key_id: str) -> ApiKey | None:
        return self._keys.get(key_id)

    def list(self) -> list[ApiKey]:
        return sorted(self._keys.values(), key=lambda record: (record.created_at, record.key_id))

    def revoke(self, key_id: str, *, now: datetime) -> ApiKey:
        with self._lock:
            record = self._keys.get(key_id)
            if record is None:
                raise KeyNotFound(f"No API key with the id {key_id}.")
            if record.revoked_at is None:
                record = replace(record, revoked_at=now)
                self._keys[key_id] = record
            return record
