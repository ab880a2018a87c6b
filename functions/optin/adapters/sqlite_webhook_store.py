"""SQLite webhook store: endpoints and deliveries in the contacts file (ports/webhooks.py).

The contact store creates these tables too and inserts a save's deliveries in its own
transaction (`insert_deliveries`), so a status change and its delivery commit together.
Claims are one conditional UPDATE; every time is fixed-width ISO text, which sorts in time
order.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from optin.adapters.sqlite_connection import SqliteConnections
from optin.domain.clock import from_iso, to_iso
from optin.domain.webhooks import Attempt, Delivery, DeliveryStatus, Endpoint
from optin.ports.webhooks import MAX_PAGE_SIZE, DeliveryPage, decode_cursor, encode_cursor

SCHEMA = """
CREATE TABLE IF NOT EXISTS webhook_endpoints (
    key_id     TEXT PRIMARY KEY,
    url        TEXT NOT NULL,
    events     TEXT NOT NULL,
    created_at TEXT NOT NULL,
    secret     TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS webhook_deliveries (
    id              TEXT PRIMARY KEY,
    key_id          TEXT NOT NULL,
    event           TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    created_at      TEXT NOT NULL,
    next_attempt_at TEXT,
    give_up_at      TEXT NOT NULL,
    attempts        TEXT NOT NULL,
    lease_token     TEXT,
    lease_until     TEXT
);
-- A key's deliveries, newest first.
CREATE INDEX IF NOT EXISTS webhook_deliveries_by_key
    ON webhook_deliveries (key_id, created_at, id);
-- Due deliveries, soonest first: only pending rows are in it.
CREATE INDEX IF NOT EXISTS webhook_deliveries_due
    ON webhook_deliveries (next_attempt_at, id) WHERE status = 'pending';
"""

_COLUMNS = (
    "id",
    "key_id",
    "event",
    "status",
    "created_at",
    "next_attempt_at",
    "give_up_at",
    "attempts",
    "lease_token",
    "lease_until",
)


def _iso(moment: datetime | None) -> str | None:
    return to_iso(moment) if moment else None


def _values(delivery: Delivery) -> tuple[object, ...]:
    return (
        delivery.id,
        delivery.key_id,
        json.dumps(delivery.event, sort_keys=True),
        str(delivery.status),
        to_iso(delivery.created_at),
        _iso(delivery.next_attempt_at),
        to_iso(delivery.give_up_at),
        json.dumps([attempt.as_dict() for attempt in delivery.attempts]),
        delivery.lease_token,
        _iso(delivery.lease_until),
    )


def attempt_from(data: dict[str, object]) -> Attempt:
    code = data.get("statusCode")
    error = data.get("error")
    duration = data.get("durationMs")
    return Attempt(
        at=from_iso(str(data["at"])),
        status_code=code if isinstance(code, int) else None,
        error=error if isinstance(error, str) else None,
        duration_ms=duration if isinstance(duration, int) else 0,
    )


def _row_delivery(row: sqlite3.Row) -> Delivery:
    return Delivery(
        id=row["id"],
        key_id=row["key_id"],
        event=json.loads(row["event"]),
        status=DeliveryStatus(row["status"]),
        created_at=from_iso(row["created_at"]),
        next_attempt_at=from_iso(row["next_attempt_at"]) if row["next_attempt_at"] else None,
        give_up_at=from_iso(row["give_up_at"]),
        attempts=tuple(attempt_from(a) for a in json.loads(row["attempts"])),
        lease_token=row["lease_token"],
        lease_until=from_iso(row["lease_until"]) if row["lease_until"] else None,
    )


def insert_deliveries(conn: sqlite3.Connection, deliveries: Sequence[Delivery]) -> None:
    """Plain INSERT: an id that exists raises sqlite3.IntegrityError (written once)."""
    placeholders = ", ".join("?" for _ in _COLUMNS)
    conn.executemany(
        f"INSERT INTO webhook_deliveries ({', '.join(_COLUMNS)}) VALUES ({placeholders})",
        [_values(delivery) for delivery in deliveries],
    )


class SqliteWebhookStore:
    def __init__(self, path: str | Path, *, busy_timeout_seconds: float = 30.0) -> None:
        self._db = SqliteConnections(path, busy_timeout_seconds=busy_timeout_seconds)
        self._db.get().executescript(SCHEMA)

    def close(self) -> None:
        self._db.close()

    def get_endpoint(self, key_id: str) -> Endpoint | None:
        row = (
            self._db.get()
            .execute("SELECT * FROM webhook_endpoints WHERE key_id = ?", (key_id,))
            .fetchone()
        )
        if row is None:
            return None
        return Endpoint(
            key_id=row["key_id"],
            url=row["url"],
            events=tuple(json.loads(row["events"])),
            created_at=from_iso(row["created_at"]),
            secret=row["secret"],
        )

    def put_endpoint(self, endpoint: Endpoint) -> None:
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO webhook_endpoints (key_id, url, events, created_at, "
                "secret) VALUES (?, ?, ?, ?, ?)",
                (
                    endpoint.key_id,
                    endpoint.url,
                    json.dumps(list(endpoint.events)),
                    to_iso(endpoint.created_at),
                    endpoint.secret,
                ),
            )

    def delete_endpoint(self, key_id: str, *, now: datetime) -> None:
        with self._db.transaction() as conn:
            conn.execute("DELETE FROM webhook_endpoints WHERE key_id = ?", (key_id,))

    def add_delivery(self, delivery: Delivery) -> None:
        try:
            with self._db.transaction() as conn:
                insert_deliveries(conn, [delivery])
        except sqlite3.IntegrityError as error:
            raise ValueError(f"Delivery {delivery.id} exists already.") from error

    def get_delivery(self, delivery_id: str) -> Delivery | None:
        row = (
            self._db.get()
            .execute("SELECT * FROM webhook_deliveries WHERE id = ?", (delivery_id,))
            .fetchone()
        )
        return _row_delivery(row) if row else None

    def list_deliveries(
        self,
        key_id: str,
        *,
        status: DeliveryStatus | None = None,
        limit: int = 25,
        cursor: str | None = None,
    ) -> DeliveryPage:
        if not 1 <= limit <= MAX_PAGE_SIZE:
            raise ValueError(f"limit must be 1 to {MAX_PAGE_SIZE}.")
        conditions = ["key_id = ?"]
        params: list[object] = [key_id]
        if status is not None:
            conditions.append("status = ?")
            params.append(str(status))
        if cursor:
            position = decode_cursor(cursor, f"deliveries|{status or ''}")
            if len(position) != 2:
                raise ValueError("The cursor is not one this listing returned.")
            created, last_id = position
            conditions.append("(created_at, id) < (?, ?)")
            params.extend([created, last_id])
        params.append(limit + 1)
        rows = (
            self._db.get()
            .execute(
                f"SELECT * FROM webhook_deliveries WHERE {' AND '.join(conditions)} "
                "ORDER BY created_at DESC, id DESC LIMIT ?",
                params,
            )
            .fetchall()
        )
        page = [_row_delivery(row) for row in rows[:limit]]
        next_cursor = None
        if len(rows) > limit:
            last = page[-1]
            next_cursor = encode_cursor(
                f"deliveries|{status or ''}", [to_iso(last.created_at), last.id]
            )
        return DeliveryPage(page, next_cursor)

    def due(self, now: datetime, *, limit: int) -> list[Delivery]:
        rows = (
            self._db.get()
            .execute(
                "SELECT * FROM webhook_deliveries WHERE status = 'pending' "
                "AND next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT ?",
                (to_iso(now), limit),
            )
            .fetchall()
        )
        return [_row_delivery(row) for row in rows]

    def claim(
        self, delivery_id: str, *, token: str, now: datetime, until: datetime
    ) -> Delivery | None:
        with self._db.transaction() as conn:
            claimed = conn.execute(
                "UPDATE webhook_deliveries SET lease_token = ?, lease_until = ? "
                "WHERE id = ? AND status = 'pending' AND next_attempt_at <= ? "
                "AND (lease_until IS NULL OR lease_until <= ?)",
                (token, to_iso(until), delivery_id, to_iso(now), to_iso(now)),
            ).rowcount
        return self.get_delivery(delivery_id) if claimed else None

    def finish(self, delivery: Delivery, *, token: str) -> bool:
        assignments = ", ".join(f"{name} = ?" for name in _COLUMNS[1:])
        with self._db.transaction() as conn:
            changed = conn.execute(
                f"UPDATE webhook_deliveries SET {assignments} WHERE id = ? AND lease_token = ?",
                (*_values(delivery)[1:], delivery.id, token),
            ).rowcount
        return bool(changed)

    def requeue(self, delivery: Delivery) -> None:
        assignments = ", ".join(f"{name} = ?" for name in _COLUMNS[1:])
        values = list(_values(delivery)[1:])
        values[-2:] = [None, None]  # no lease
        with self._db.transaction() as conn:
            conn.execute(
                f"UPDATE webhook_deliveries SET {assignments} WHERE id = ?",
                (*values, delivery.id),
            )
