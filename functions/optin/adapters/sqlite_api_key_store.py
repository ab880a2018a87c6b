"""SQLite API key store: the `api_keys` table, in the contact store's file (SQLITE_PATH), so
the local runtime keeps one database of everything a partner can change."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from pathlib import Path

from optin.adapters.sqlite_connection import SqliteConnections
from optin.domain.api_keys import ApiKey, KeyNotFound
from optin.domain.clock import from_iso, to_iso

SCHEMA = """
CREATE TABLE IF NOT EXISTS api_keys (
    key_id      TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    secret_hash TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    revoked_at  TEXT
);
"""


def _record(row: sqlite3.Row) -> ApiKey:
    return ApiKey(
        key_id=row["key_id"],
        name=row["name"],
        secret_hash=row["secret_hash"],
        created_at=from_iso(row["created_at"]),
        revoked_at=from_iso(row["revoked_at"]) if row["revoked_at"] else None,
    )


class SqliteApiKeyStore:
    def __init__(self, path: str | Path, *, busy_timeout_seconds: float = 30.0) -> None:
        # Autocommit: every method is one statement, atomic on its own.
        self._db = SqliteConnections(path, busy_timeout_seconds=busy_timeout_seconds)
        self._connection().executescript(SCHEMA)

    def _connection(self) -> sqlite3.Connection:
        return self._db.get()

    def close(self) -> None:
        self._db.close()

    def add(self, record: ApiKey) -> None:
        try:
            self._connection().execute(
                "INSERT INTO api_keys (key_id, name, secret_hash, created_at, revoked_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (
                    record.key_id,
                    record.name,
                    record.secret_hash,
                    to_iso(record.created_at),
                    to_iso(record.revoked_at) if record.revoked_at else None,
                ),
            )
        except sqlite3.IntegrityError as error:
            raise ValueError(f"The key id {record.key_id} is taken.") from error

    def get(self, key_id: str) -> ApiKey | None:
        row = (
            self._connection()
            .execute("SELECT * FROM api_keys WHERE key_id = ?", (key_id,))
            .fetchone()
        )
        return _record(row) if row else None

    def list(self) -> list[ApiKey]:
        rows = self._connection().execute("SELECT * FROM api_keys ORDER BY created_at, key_id")
        return [_record(row) for row in rows]

    def revoke(self, key_id: str, *, now: datetime) -> ApiKey:
        self._connection().execute(
            "UPDATE api_keys SET revoked_at = coalesce(revoked_at, ?) WHERE key_id = ?",
            (to_iso(now), key_id),
        )
        record = self.get(key_id)
        if record is None:
            raise KeyNotFound(f"No API key with the id {key_id}.")
        return record
