"""SQLite contact store for running on one machine.

WAL journal (readers never block the writer), one short transaction per operation,
`BEGIN IMMEDIATE` for conditional writes (the write lock is taken before the version is
read, so check-and-write cannot interleave), one connection per thread. The consent
ledger is append-only in the schema itself: triggers refuse UPDATE and DELETE.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from optin.domain.clock import from_iso, to_iso
from optin.domain.consent import ConsentEvent, EventType
from optin.domain.contact import Contact, Status
from optin.domain.errors import TransitionConflict

SCHEMA = """
CREATE TABLE IF NOT EXISTS contacts (
    phone_number           TEXT PRIMARY KEY,
    version                INTEGER NOT NULL,
    status                 TEXT NOT NULL,
    opted_in               INTEGER NOT NULL,
    registration_id        TEXT,
    first_name             TEXT,
    execution_arn          TEXT,
    task_token             TEXT,
    send_count             INTEGER NOT NULL DEFAULT 0,
    last_sent_at           TEXT,
    last_send_key          TEXT,
    last_message_id        TEXT,
    welcome_message_id     TEXT,
    clarified_registration TEXT,
    created_at             TEXT NOT NULL,
    updated_at             TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS contacts_by_status ON contacts (status, updated_at);

CREATE TABLE IF NOT EXISTS consent_events (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id        TEXT NOT NULL UNIQUE,
    phone_number    TEXT NOT NULL,
    type            TEXT NOT NULL,
    at              TEXT NOT NULL,
    registration_id TEXT,
    details         TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS consent_events_by_number ON consent_events (phone_number, seq);

CREATE TRIGGER IF NOT EXISTS consent_events_no_update BEFORE UPDATE ON consent_events
BEGIN SELECT RAISE(ABORT, 'the consent ledger is append-only'); END;
CREATE TRIGGER IF NOT EXISTS consent_events_no_delete BEFORE DELETE ON consent_events
BEGIN SELECT RAISE(ABORT, 'the consent ledger is append-only'); END;

CREATE TABLE IF NOT EXISTS inbound_messages (
    message_id   TEXT PRIMARY KEY,
    phone_number TEXT NOT NULL,
    processed_at TEXT NOT NULL
);
"""

_COLUMNS = (
    "phone_number",
    "version",
    "status",
    "opted_in",
    "registration_id",
    "first_name",
    "execution_arn",
    "task_token",
    "send_count",
    "last_sent_at",
    "last_send_key",
    "last_message_id",
    "welcome_message_id",
    "clarified_registration",
    "created_at",
    "updated_at",
)


def _iso(moment: datetime | None) -> str | None:
    return to_iso(moment) if moment else None


def _row_to_contact(row: sqlite3.Row) -> Contact:
    return Contact(
        phone_number=row["phone_number"],
        version=row["version"],
        status=Status(row["status"]),
        opted_in=bool(row["opted_in"]),
        registration_id=row["registration_id"],
        first_name=row["first_name"],
        execution_arn=row["execution_arn"],
        task_token=row["task_token"],
        send_count=row["send_count"],
        last_sent_at=from_iso(row["last_sent_at"]) if row["last_sent_at"] else None,
        last_send_key=row["last_send_key"],
        last_message_id=row["last_message_id"],
        welcome_message_id=row["welcome_message_id"],
        clarified_registration=row["clarified_registration"],
        created_at=from_iso(row["created_at"]),
        updated_at=from_iso(row["updated_at"]),
    )


def _contact_values(contact: Contact) -> tuple[object, ...]:
    return (
        contact.phone_number,
        contact.version,
        str(contact.status),
        int(contact.opted_in),
        contact.registration_id,
        contact.first_name,
        contact.execution_arn,
        contact.task_token,
        contact.send_count,
        _iso(contact.last_sent_at),
        contact.last_send_key,
        contact.last_message_id,
        contact.welcome_message_id,
        contact.clarified_registration,
        to_iso(contact.created_at),
        to_iso(contact.updated_at),
    )


class SqliteContactStore:
    def __init__(self, path: str | Path, *, busy_timeout_seconds: float = 30.0) -> None:
        self._path = str(path)
        self._timeout = busy_timeout_seconds
        self._local = threading.local()
        if self._path != ":memory:":
            Path(self._path).parent.mkdir(parents=True, exist_ok=True)
        # Every statement is IF NOT EXISTS: several processes may open the file at once.
        self._connection().executescript(SCHEMA)

    @property
    def path(self) -> str:
        return self._path

    def _connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            # isolation_level=None: no implicit transactions; we say BEGIN ourselves.
            conn = sqlite3.connect(self._path, timeout=self._timeout, isolation_level=None)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute(f"PRAGMA busy_timeout={int(self._timeout * 1000)}")
            self._local.conn = conn
        return conn

    @contextmanager
    def _transaction(self, mode: str = "IMMEDIATE") -> Iterator[sqlite3.Connection]:
        conn = self._connection()
        conn.execute(f"BEGIN {mode}")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        else:
            conn.execute("COMMIT")

    def close(self) -> None:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def get(self, phone_number: str) -> Contact | None:
        row = (
            self._connection()
            .execute("SELECT * FROM contacts WHERE phone_number = ?", (phone_number,))
            .fetchone()
        )
        return _row_to_contact(row) if row else None

    def save(
        self,
        contact: Contact,
        *,
        expected_version: int | None,
        events: Sequence[ConsentEvent] = (),
    ) -> None:
        with self._transaction("IMMEDIATE") as conn:
            row = conn.execute(
                "SELECT version FROM contacts WHERE phone_number = ?", (contact.phone_number,)
            ).fetchone()
            stored_version = row["version"] if row else None
            if stored_version != expected_version:
                raise TransitionConflict(
                    f"Contact version is {stored_version}, expected {expected_version}."
                )
            placeholders = ", ".join("?" for _ in _COLUMNS)
            conn.execute(
                f"INSERT OR REPLACE INTO contacts ({', '.join(_COLUMNS)}) VALUES ({placeholders})",
                _contact_values(contact),
            )
            conn.executemany(
                "INSERT INTO consent_events "
                "(event_id, phone_number, type, at, registration_id, details) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (
                        event.event_id,
                        contact.phone_number,
                        str(event.type),
                        to_iso(event.at),
                        event.registration_id,
                        json.dumps(event.details, sort_keys=True, default=str),
                    )
                    for event in events
                ],
            )

    def events(self, phone_number: str) -> list[ConsentEvent]:
        rows = (
            self._connection()
            .execute(
                "SELECT * FROM consent_events WHERE phone_number = ? ORDER BY seq",
                (phone_number,),
            )
            .fetchall()
        )
        return [
            ConsentEvent(
                type=EventType(row["type"]),
                at=from_iso(row["at"]),
                registration_id=row["registration_id"],
                details=json.loads(row["details"]),
                event_id=row["event_id"],
            )
            for row in rows
        ]

    def inbound_processed(self, message_id: str) -> bool:
        row = (
            self._connection()
            .execute("SELECT 1 FROM inbound_messages WHERE message_id = ?", (message_id,))
            .fetchone()
        )
        return row is not None

    def mark_inbound_processed(
        self, message_id: str, *, phone_number: str, processed_at: datetime
    ) -> bool:
        with self._transaction("IMMEDIATE") as conn:
            cursor = conn.execute(
                "INSERT OR IGNORE INTO inbound_messages (message_id, phone_number, processed_at) "
                "VALUES (?, ?, ?)",
                (message_id, phone_number, to_iso(processed_at)),
            )
            return cursor.rowcount == 1
