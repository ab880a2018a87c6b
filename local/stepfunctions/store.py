"""The durable SQLite store: state machines, executions, runs, history events, task tokens
and timers. One connection guarded by a lock; every transaction is short and never spans a
Lambda invocation."""

from __future__ import annotations

import json
import pathlib
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS state_machines (
  arn TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, definition TEXT NOT NULL,
  role_arn TEXT NOT NULL, type TEXT NOT NULL, created REAL NOT NULL, updated REAL,
  revision TEXT NOT NULL, logging TEXT, tracing TEXT
);
CREATE TABLE IF NOT EXISTS executions (
  arn TEXT PRIMARY KEY, sm_arn TEXT NOT NULL, sm_name TEXT NOT NULL, name TEXT NOT NULL,
  status TEXT NOT NULL, input TEXT NOT NULL, output TEXT, error TEXT, cause TEXT,
  start REAL NOT NULL, stop REAL, definition TEXT NOT NULL, role_arn TEXT NOT NULL,
  next_event INTEGER NOT NULL DEFAULT 1, seqno INTEGER  -- unused: ids come from events
);
CREATE INDEX IF NOT EXISTS executions_by_sm ON executions (sm_arn, start);
-- The runtime's terminal asks once a second which executions ended since it last looked.
CREATE INDEX IF NOT EXISTS executions_by_stop ON executions (stop);
CREATE TABLE IF NOT EXISTS runs (
  id INTEGER PRIMARY KEY AUTOINCREMENT, exec_arn TEXT NOT NULL, parent_id INTEGER,
  parent_seq INTEGER, idx INTEGER, branch TEXT NOT NULL, state TEXT NOT NULL,
  phase TEXT NOT NULL, seq INTEGER NOT NULL DEFAULT 0, input TEXT, variables TEXT,
  retriers TEXT, retry_count INTEGER NOT NULL DEFAULT 0, entered_event INTEGER,
  entered_time REAL, pending TEXT, action TEXT, action_pending INTEGER NOT NULL DEFAULT 0,
  status TEXT NOT NULL DEFAULT 'RUNNING', result TEXT, ctx TEXT, last_event INTEGER,
  extra TEXT
);
CREATE INDEX IF NOT EXISTS runs_by_phase ON runs (phase);
CREATE INDEX IF NOT EXISTS runs_by_parent ON runs (parent_id, parent_seq);
CREATE INDEX IF NOT EXISTS runs_by_exec ON runs (exec_arn);
CREATE TABLE IF NOT EXISTS events (
  exec_arn TEXT NOT NULL, id INTEGER NOT NULL, type TEXT NOT NULL, ts REAL NOT NULL,
  prev INTEGER, details TEXT, PRIMARY KEY (exec_arn, id)
);
CREATE TABLE IF NOT EXISTS tokens (
  token TEXT PRIMARY KEY, run_id INTEGER NOT NULL, seq INTEGER NOT NULL,
  exec_arn TEXT NOT NULL, status TEXT NOT NULL, heartbeat REAL, created REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS tokens_by_run ON tokens (run_id);
CREATE TABLE IF NOT EXISTS timers (
  id INTEGER PRIMARY KEY AUTOINCREMENT, due REAL NOT NULL, kind TEXT NOT NULL,
  run_id INTEGER, seq INTEGER, exec_arn TEXT, payload TEXT
);
CREATE INDEX IF NOT EXISTS timers_by_due ON timers (due);
CREATE INDEX IF NOT EXISTS timers_by_run ON timers (run_id);
CREATE TABLE IF NOT EXISTS mock_executions (
  exec_arn TEXT PRIMARY KEY, test_case TEXT NOT NULL, states TEXT NOT NULL,
  invocations TEXT NOT NULL DEFAULT '{}'
);
"""


class Store:
    def __init__(self, path: pathlib.Path) -> None:
        self.path = pathlib.Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._depth = 0
        self.conn = sqlite3.connect(
            str(self.path), check_same_thread=False, isolation_level=None, timeout=30
        )
        self.conn.row_factory = sqlite3.Row
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.execute("PRAGMA foreign_keys=OFF")
        self.conn.executescript(SCHEMA)

    def close(self) -> None:
        with self._lock:
            self.conn.close()

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """A write transaction; nested uses join the outer one."""
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield self.conn
                finally:
                    self._depth -= 1
                return
            self.conn.execute("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield self.conn
            except BaseException:
                self._depth = 0
                self.conn.execute("ROLLBACK")
                raise
            self._depth = 0
            self.conn.execute("COMMIT")

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            yield self.conn

    # ---- history ----

    def add_event(
        self,
        conn: sqlite3.Connection,
        exec_arn: str,
        type_: str,
        details: dict[str, Any] | None = None,
        prev: int | None = None,
    ) -> int:
        # The next id comes from the events' own primary key, not from a counter in the
        # executions row: updating that row rewrote it whole (definition and input, several
        # overflow pages) into the WAL for every event, most of a sign-up's disk writes.
        # Callers hold the store's write transaction, so no other event can take this id.
        row = conn.execute(
            "SELECT COALESCE(MAX(id), 0) AS last FROM events WHERE exec_arn=?", (exec_arn,)
        ).fetchone()
        event_id = int(row["last"]) + 1
        conn.execute(
            "INSERT INTO events (exec_arn, id, type, ts, prev, details) VALUES (?,?,?,?,?,?)",
            (
                exec_arn,
                event_id,
                type_,
                time.time(),
                prev if prev is not None else event_id - 1,
                json.dumps(details) if details is not None else None,
            ),
        )
        return event_id
