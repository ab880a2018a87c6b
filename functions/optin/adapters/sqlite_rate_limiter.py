"""SQLite rate limiter: counters, used CAPTCHA challenges and blocked attempts per day, in
the contacts file (SQLITE_PATH), tables of their own. A check-and-count is one IMMEDIATE
transaction: concurrent workers take turns, so two attempts never both take the last slot."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path

from optin.adapters.sqlite_connection import SqliteConnections
from optin.domain.rate_limits import Counter

SCHEMA = """
CREATE TABLE IF NOT EXISTS rate_counters (
    key          TEXT NOT NULL,
    window_start INTEGER NOT NULL,
    hits         INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    PRIMARY KEY (key, window_start)
);
CREATE INDEX IF NOT EXISTS rate_counters_expiry ON rate_counters (expires_at);
CREATE TABLE IF NOT EXISTS used_challenges (
    token      TEXT PRIMARY KEY,
    expires_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS blocked_daily (
    day    TEXT NOT NULL,
    reason TEXT NOT NULL,
    count  INTEGER NOT NULL,
    PRIMARY KEY (day, reason)
);
"""

# Expired rows are deleted now and then (what DynamoDB's TTL does there), not on every hit.
PURGE_EVERY = 500


class SqliteRateLimiter:
    def __init__(self, path: str | Path, *, busy_timeout_seconds: float = 30.0) -> None:
        self._db = SqliteConnections(path, busy_timeout_seconds=busy_timeout_seconds)
        self._db.get().executescript(SCHEMA)
        self._writes = 0

    def close(self) -> None:
        self._db.close()

    def hit(self, counters: Sequence[Counter], now: datetime) -> Counter | None:
        with self._db.transaction() as conn:
            for counter in counters:
                row = conn.execute(
                    "SELECT hits FROM rate_counters WHERE key = ? AND window_start = ?",
                    (counter.key, counter.window_start),
                ).fetchone()
                if row is not None and row["hits"] >= counter.limit.maximum:
                    return counter  # nothing written yet: the transaction commits nothing
            for counter in counters:
                conn.execute(
                    "INSERT INTO rate_counters (key, window_start, hits, expires_at) "
                    "VALUES (?, ?, 1, ?) ON CONFLICT (key, window_start) "
                    "DO UPDATE SET hits = hits + 1",
                    (counter.key, counter.window_start, counter.window_end),
                )
            self._writes += 1
            if self._writes % PURGE_EVERY == 0:
                self._purge(conn, int(now.timestamp()))
        return None

    @staticmethod
    def _purge(conn: sqlite3.Connection, epoch: int) -> None:
        conn.execute("DELETE FROM rate_counters WHERE expires_at <= ?", (epoch,))
        conn.execute("DELETE FROM used_challenges WHERE expires_at <= ?", (epoch,))

    def use_once(self, token: str, expires_at: datetime, now: datetime) -> bool:
        with self._db.transaction() as conn:
            row = conn.execute(
                "SELECT expires_at FROM used_challenges WHERE token = ?", (token,)
            ).fetchone()
            if row is not None and row["expires_at"] > int(now.timestamp()):
                return False
            conn.execute(
                "INSERT INTO used_challenges (token, expires_at) VALUES (?, ?) "
                "ON CONFLICT (token) DO UPDATE SET expires_at = excluded.expires_at",
                (token, int(expires_at.timestamp())),
            )
        return True

    def count_blocked(self, reason: str, day: date) -> None:
        self._db.get().execute(
            "INSERT INTO blocked_daily (day, reason, count) VALUES (?, ?, 1) "
            "ON CONFLICT (day, reason) DO UPDATE SET count = count + 1",
            (day.isoformat(), reason),
        )

    def blocked(self, days: Sequence[date]) -> dict[str, int]:
        if not days:
            return {}
        marks = ",".join("?" for _ in days)
        rows = self._db.get().execute(
            f"SELECT reason, SUM(count) AS total FROM blocked_daily WHERE day IN ({marks}) "
            "GROUP BY reason ORDER BY reason",
            [day.isoformat() for day in days],
        )
        return {row["reason"]: int(row["total"]) for row in rows}
