"""SQLite contact store for running on one machine.

WAL journal (readers never block the writer), one short transaction per operation,
`BEGIN IMMEDIATE` for conditional writes (the write lock is taken before the version is
read, so check-and-write cannot interleave), one connection per thread. The consent
ledger is append-only in the schema itself: triggers refuse UPDATE and DELETE.
"""

from __future__ import annotations

import base64
import binascii
import json
import sqlite3
from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import date, datetime
from pathlib import Path

from optin.adapters import sqlite_webhook_store
from optin.adapters.sqlite_connection import SqliteConnections
from optin.domain.clock import from_iso, to_iso
from optin.domain.consent import ConsentEvent, EventType
from optin.domain.contact import Contact, Status
from optin.domain.errors import TransitionConflict
from optin.domain.funnel import increments
from optin.domain.webhooks import Delivery
from optin.ports.contact_store import (
    ContactPage,
    Order,
    SendClaim,
    SignupQuery,
    decode_cursor,
    encode_cursor,
)
from optin.ports.number_lookup import LineInfo, LineType

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
    updated_at             TEXT NOT NULL,
    -- The contact's expires_at, written only while PENDING (NULL otherwise); a file made
    -- before this column gets it from _add_expiry_column, NULL in every existing row.
    expires_at             TEXT
);
-- Listing by status, newest change first, with the number as the tie-breaker that makes
-- the keyset cursor exact. It replaces contacts_by_status (status, updated_at).
DROP INDEX IF EXISTS contacts_by_status;
CREATE INDEX IF NOT EXISTS contacts_by_status_time
    ON contacts (status, updated_at, phone_number);
CREATE INDEX IF NOT EXISTS contacts_by_registration ON contacts (registration_id);
-- The console's listing across every status, newest change first (list_signups); one
-- status uses contacts_by_status_time.
CREATE INDEX IF NOT EXISTS contacts_by_time ON contacts (updated_at, phone_number);

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

CREATE TABLE IF NOT EXISTS line_lookups (
    phone_number TEXT PRIMARY KEY,
    line_type    TEXT NOT NULL,
    carrier      TEXT,
    country      TEXT,
    looked_up_at TEXT NOT NULL,
    expires_at   TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS inbound_messages (
    message_id   TEXT PRIMARY KEY,
    phone_number TEXT NOT NULL,
    processed_at TEXT NOT NULL
);

-- The funnel's counters per UTC day (optin.domain.funnel), added to in the transaction of
-- the save whose ledger events move them.
CREATE TABLE IF NOT EXISTS daily_counts (
    day   TEXT NOT NULL,
    name  TEXT NOT NULL,
    n     INTEGER NOT NULL,
    PRIMARY KEY (day, name)
) WITHOUT ROWID;

-- A claim taken before a text is sent: claimed, then sent (with its message id) or released.
CREATE TABLE IF NOT EXISTS send_claims (
    dedup_key      TEXT PRIMARY KEY,
    phone_number   TEXT NOT NULL,
    claim_state    TEXT NOT NULL CHECK (claim_state IN ('claimed', 'sent', 'released')),
    claimed_at     TEXT NOT NULL,
    message_id     TEXT,
    completed_at   TEXT,
    released_at    TEXT,
    release_reason TEXT
);
"""

# The expiry order (list_signups, Order.EXPIRY): a partial index, so only PENDING rows are in
# it, on the expiry key (ports.contact_store.expiry_key: NULL, unknown, sorts last as '~'),
# then the number. Queries must spell the expression and the WHERE exactly like this for
# SQLite to use it.
_EXPIRY_KEY_SQL = "coalesce(expires_at, '~')"
EXPIRY_INDEX = f"""
CREATE INDEX IF NOT EXISTS contacts_pending_by_expiry
    ON contacts ({_EXPIRY_KEY_SQL}, phone_number) WHERE status = 'PENDING';
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
    "expires_at",
    "api_client",
)


def _iso(moment: datetime | None) -> str | None:
    return to_iso(moment) if moment else None


def _encode_cursor(status: str, updated_at: str, phone_number: str) -> str:
    raw = json.dumps([status, updated_at, phone_number], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str, status: Status) -> tuple[str, str]:
    """(updated_at, phone_number) of the last contact of the previous page."""
    try:
        decoded = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError) as error:
        raise ValueError("The cursor is not one this listing returned.") from error
    if (
        not isinstance(decoded, list)
        or len(decoded) != 3
        or not all(isinstance(part, str) for part in decoded)
    ):
        raise ValueError("The cursor is not one this listing returned.")
    if decoded[0] != str(status):
        raise ValueError(f"The cursor belongs to the {decoded[0]} listing, not {status}.")
    return decoded[1], decoded[2]


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
        expires_at=from_iso(row["expires_at"]) if row["expires_at"] else None,
        api_client=row["api_client"],
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
        # Only a PENDING row belongs in the expiry index's order.
        _iso(contact.expires_at) if contact.status == Status.PENDING else None,
        contact.api_client,
    )


def _list_signups_sql(query: SignupQuery) -> tuple[str, list[object]]:
    if query.order == Order.EXPIRY:
        return _by_expiry_sql(query)
    statuses = query.status_set
    conditions: list[str] = []
    params: list[object] = []
    # Every status: no status condition at all, so the planner walks contacts_by_time.
    if len(statuses) < len(Status):
        conditions.append(f"status IN ({', '.join('?' for _ in statuses)})")
        params.extend(str(status) for status in statuses)
    if query.updated_from:
        conditions.append("updated_at >= ?")
        params.append(to_iso(query.updated_from))
    if query.updated_to:
        conditions.append("updated_at <= ?")
        params.append(to_iso(query.updated_to))
    if query.cursor:
        after = decode_cursor(query.cursor, query).get("after")
        if not (
            isinstance(after, list) and len(after) == 2 and all(isinstance(p, str) for p in after)
        ):
            raise ValueError("The cursor is not one this listing returned.")
        conditions.append("(updated_at, phone_number) < (?, ?)")
        params.extend(after)
    where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    # One more than asked: tells whether a next page exists without an empty last page.
    params.append(query.limit + 1)
    return (
        f"SELECT * FROM contacts{where} ORDER BY updated_at DESC, phone_number DESC LIMIT ?",
        params,
    )


def _by_expiry_sql(query: SignupQuery) -> tuple[str, list[object]]:
    # 'PENDING' as a literal: a bound parameter would not let SQLite use the partial index.
    where = "status = 'PENDING'"
    params: list[object] = []
    if query.cursor:
        after = decode_cursor(query.cursor, query).get("after")
        if not (
            isinstance(after, list) and len(after) == 2 and all(isinstance(p, str) for p in after)
        ):
            raise ValueError("The cursor is not one this listing returned.")
        # Spelt out rather than a row value: SQLite seeks an expression index on `>=` but
        # not on a row-value comparison, which would walk the index from its start.
        where += f" AND {_EXPIRY_KEY_SQL} >= ? AND ({_EXPIRY_KEY_SQL} > ? OR phone_number > ?)"
        params.extend([after[0], after[0], after[1]])
    params.append(query.limit + 1)
    return (
        # INDEXED BY: with no statistics the planner may pick contacts_by_status_time and
        # sort every PENDING row; this makes it the index walk or an error, never a sort.
        f"SELECT *, {_EXPIRY_KEY_SQL} AS expiry_key "
        f"FROM contacts INDEXED BY contacts_pending_by_expiry WHERE {where} "
        f"ORDER BY {_EXPIRY_KEY_SQL}, phone_number LIMIT ?",
        params,
    )


def _add_expiry_column(conn: sqlite3.Connection) -> None:
    """A contacts table made before `expires_at` existed gets the column (NULL in every
    row: those PENDING rows sort last in the expiry order), then the expiry index."""
    columns = {row["name"] for row in conn.execute("PRAGMA table_info(contacts)")}
    if "expires_at" not in columns:
        try:
            conn.execute("ALTER TABLE contacts ADD COLUMN expires_at TEXT")
        except sqlite3.OperationalError as error:
            # Another process opening the same file added it first.
            if "duplicate column" not in str(error):
                raise
    conn.executescript(EXPIRY_INDEX)
    _add_column(conn, "api_client")


def _add_column(conn: sqlite3.Connection, name: str) -> None:
    """A contacts table made before column `name` existed gets it (NULL in every row)."""
    columns = {row["name"] for row in conn.execute("PRAGMA table_info(contacts)")}
    if name not in columns:
        try:
            conn.execute(f"ALTER TABLE contacts ADD COLUMN {name} TEXT")
        except sqlite3.OperationalError as error:
            if "duplicate column" not in str(error):
                raise


class SqliteContactStore:
    def __init__(self, path: str | Path, *, busy_timeout_seconds: float = 30.0) -> None:
        self._db = SqliteConnections(path, busy_timeout_seconds=busy_timeout_seconds)
        # Every statement is IF NOT EXISTS: several processes may open the file at once.
        self._connection().executescript(SCHEMA)
        _add_expiry_column(self._connection())
        # The webhook outbox: a save writes its deliveries in its own transaction.
        self._connection().executescript(sqlite_webhook_store.SCHEMA)

    @property
    def path(self) -> str:
        return self._db.path

    def _connection(self) -> sqlite3.Connection:
        return self._db.get()

    def _transaction(self, mode: str = "IMMEDIATE") -> AbstractContextManager[sqlite3.Connection]:
        return self._db.transaction(mode)

    def close(self) -> None:
        self._db.close()

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
        deliveries: Sequence[Delivery] = (),
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
            conn.executemany(
                "INSERT INTO daily_counts (day, name, n) VALUES (?, ?, ?) "
                "ON CONFLICT (day, name) DO UPDATE SET n = n + excluded.n",
                [
                    (day.isoformat(), name, n)
                    for day, counts in increments(contact, events).items()
                    for name, n in counts.items()
                ],
            )
            try:
                sqlite_webhook_store.insert_deliveries(conn, deliveries)
            except sqlite3.IntegrityError as error:
                raise TransitionConflict("A delivery of this save exists already.") from error

    def daily_counts(self, first: date, last: date) -> dict[date, dict[str, int]]:
        rows = (
            self._connection()
            .execute(
                "SELECT day, name, n FROM daily_counts WHERE day BETWEEN ? AND ?",
                (first.isoformat(), last.isoformat()),
            )
            .fetchall()
        )
        days: dict[date, dict[str, int]] = {}
        for row in rows:
            days.setdefault(date.fromisoformat(row["day"]), {})[row["name"]] = int(row["n"])
        return days

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

    def find_by_registration(self, registration_id: str) -> Contact | None:
        row = (
            self._connection()
            .execute("SELECT * FROM contacts WHERE registration_id = ?", (registration_id,))
            .fetchone()
        )
        return _row_to_contact(row) if row else None

    def list_by_status(
        self, status: Status, *, limit: int = 50, cursor: str | None = None
    ) -> ContactPage:
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}.")
        status = Status(status)
        # Keyset paging on the index: rows strictly after the previous page's last one.
        query = "SELECT * FROM contacts WHERE status = ?"
        params: list[object] = [str(status)]
        if cursor:
            query += " AND (updated_at, phone_number) < (?, ?)"
            params.extend(_decode_cursor(cursor, status))
        query += " ORDER BY updated_at DESC, phone_number DESC LIMIT ?"
        params.append(limit + 1)  # one more than asked tells whether a next page exists
        rows = self._connection().execute(query, params).fetchall()
        page = rows[:limit]
        next_cursor = None
        if len(rows) > limit:
            last = page[-1]
            next_cursor = _encode_cursor(str(status), last["updated_at"], last["phone_number"])
        return ContactPage([_row_to_contact(row) for row in page], next_cursor)

    def list_signups(self, query: SignupQuery) -> ContactPage:
        sql, params = _list_signups_sql(query)
        rows = self._connection().execute(sql, params).fetchall()
        page = rows[: query.limit]
        next_cursor = None
        if len(rows) > query.limit:
            last = page[-1]
            at = last["expiry_key"] if query.order == Order.EXPIRY else last["updated_at"]
            next_cursor = encode_cursor(
                {"q": query.fingerprint(), "after": [at, last["phone_number"]]}
            )
        return ContactPage([_row_to_contact(row) for row in page], next_cursor)

    def explain_list_signups(self, query: SignupQuery) -> list[str]:
        """SQLite's plan for `list_signups` (tests check it walks an index, never a scan)."""
        sql, params = _list_signups_sql(query)
        rows = self._connection().execute(f"EXPLAIN QUERY PLAN {sql}", params).fetchall()
        return [str(row["detail"]) for row in rows]

    def claim_send(self, dedup_key: str, *, phone_number: str, now: datetime) -> SendClaim:
        with self._transaction("IMMEDIATE") as conn:
            row = conn.execute(
                "SELECT claim_state, message_id FROM send_claims WHERE dedup_key = ?",
                (dedup_key,),
            ).fetchone()
            if row is not None and row["claim_state"] != "released":
                return SendClaim(dedup_key, claimed=False, message_id=row["message_id"])
            conn.execute(
                "INSERT OR REPLACE INTO send_claims "
                "(dedup_key, phone_number, claim_state, claimed_at) VALUES (?, ?, 'claimed', ?)",
                (dedup_key, phone_number, to_iso(now)),
            )
            return SendClaim(dedup_key, claimed=True)

    def complete_send(self, dedup_key: str, *, message_id: str, now: datetime) -> None:
        with self._transaction("IMMEDIATE") as conn:
            conn.execute(
                "UPDATE send_claims SET claim_state = 'sent', message_id = ?, completed_at = ? "
                "WHERE dedup_key = ? AND claim_state != 'released'",
                (message_id, to_iso(now), dedup_key),
            )

    def release_send(self, dedup_key: str, *, reason: str, now: datetime) -> None:
        # Only a claim in flight: a completed one (the text went out) stays completed.
        with self._transaction("IMMEDIATE") as conn:
            conn.execute(
                "UPDATE send_claims SET claim_state = 'released', released_at = ?, "
                "release_reason = ? WHERE dedup_key = ? AND claim_state = 'claimed'",
                (to_iso(now), reason, dedup_key),
            )

    # --- carrier lookups ---------------------------------------------------------------

    def cached_line_info(self, phone_number: str, *, now: datetime) -> LineInfo | None:
        row = (
            self._connection()
            .execute(
                "SELECT * FROM line_lookups WHERE phone_number = ? AND expires_at > ?",
                (phone_number, to_iso(now)),
            )
            .fetchone()
        )
        if row is None:
            return None
        return LineInfo(
            row["phone_number"], LineType(row["line_type"]), row["carrier"], row["country"]
        )

    def cache_line_info(self, info: LineInfo, *, now: datetime, expires_at: datetime) -> None:
        with self._transaction("IMMEDIATE") as conn:
            conn.execute(
                "INSERT OR REPLACE INTO line_lookups "
                "(phone_number, line_type, carrier, country, looked_up_at, expires_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (
                    info.phone_number,
                    info.line_type.value,
                    info.carrier,
                    info.country,
                    to_iso(now),
                    to_iso(expires_at),
                ),
            )
