"""The durable SQLite store: state machines, executions, runs, history events, task tokens,
timers and mocked test cases. One connection guarded by a lock; every transaction is short
and never spans a Lambda invocation.

All of the engine's SQL is here, as named operations. Each takes the connection of the
transaction it joins (`tx()` or `read()`), so a caller composes several into one commit."""

from __future__ import annotations

import json
import pathlib
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from .clock import Clock, SystemClock
from .records import EXECUTION_COLUMNS, MUTABLE_RUN_COLUMNS, RUN_COLUMNS, Execution, Run

Row = sqlite3.Row

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
-- Added after the first release: CREATE ... IF NOT EXISTS adds them to an existing database.
CREATE TABLE IF NOT EXISTS tags (
  resource_arn TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
  PRIMARY KEY (resource_arn, key)
);
CREATE TABLE IF NOT EXISTS state_machine_versions (
  sm_arn TEXT NOT NULL, version INTEGER NOT NULL, definition TEXT NOT NULL,
  role_arn TEXT NOT NULL, type TEXT NOT NULL, revision TEXT NOT NULL, description TEXT,
  created REAL NOT NULL, PRIMARY KEY (sm_arn, version)
);
CREATE TABLE IF NOT EXISTS state_machine_aliases (
  arn TEXT PRIMARY KEY, sm_arn TEXT NOT NULL, name TEXT NOT NULL, description TEXT,
  routing TEXT NOT NULL, created REAL NOT NULL, updated REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS aliases_by_sm ON state_machine_aliases (sm_arn, name);
CREATE TABLE IF NOT EXISTS mock_executions (
  exec_arn TEXT PRIMARY KEY, test_case TEXT NOT NULL, states TEXT NOT NULL,
  invocations TEXT NOT NULL DEFAULT '{}'
);
"""

# Columns added after databases existed, as (table, column, declaration). CREATE TABLE IF NOT
# EXISTS leaves an existing table as it is, so each is added by ALTER TABLE when missing: a
# database written by an older engine opens with its executions intact (NULL in the new
# columns, which the API reads as "not recorded").
ADDED_COLUMNS = (
    ("executions", "sm_revision", "TEXT"),
    ("executions", "sm_updated", "REAL"),
    ("executions", "version_arn", "TEXT"),
    ("executions", "alias_arn", "TEXT"),
    # The highest version number ever published: numbers are never reused after a delete.
    ("state_machines", "last_version", "INTEGER NOT NULL DEFAULT 0"),
)


# Indexes on added columns, created once the columns exist.
ADDED_INDEXES = """
CREATE INDEX IF NOT EXISTS executions_by_version ON executions (version_arn, start)
  WHERE version_arn IS NOT NULL;
CREATE INDEX IF NOT EXISTS executions_by_alias ON executions (alias_arn, start)
  WHERE alias_arn IS NOT NULL;
"""


class Store:
    def __init__(self, path: pathlib.Path, clock: Clock | None = None) -> None:
        self.clock: Clock = clock or SystemClock()
        self.path = pathlib.Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._depth = 0
        # The last event id of each execution written in the open transaction (add_event):
        # forgotten when a transaction or a savepoint ends, so it never outlives what it read.
        self._last_event_ids: dict[str, int] = {}
        self.conn = sqlite3.connect(
            str(self.path), check_same_thread=False, isolation_level=None, timeout=30
        )
        self.conn.row_factory = sqlite3.Row
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.execute("PRAGMA foreign_keys=OFF")
        self.conn.executescript(SCHEMA)
        self._add_missing_columns()

    def _add_missing_columns(self) -> None:
        for table, column, declaration in ADDED_COLUMNS:
            present = {r["name"] for r in self.conn.execute(f"PRAGMA table_info({table})")}
            if column not in present:
                self.conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {declaration}")
        self.conn.executescript(ADDED_INDEXES)

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
            self._last_event_ids.clear()
            try:
                yield self.conn
            except BaseException:
                self._depth = 0
                self._last_event_ids.clear()
                self.conn.execute("ROLLBACK")
                raise
            self._depth = 0
            self._last_event_ids.clear()
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
        # Callers hold the store's write transaction, so no other event can take this id; within
        # it the last id is remembered, so only an execution's first event of a transaction
        # asks the index (a group commit writes dozens per execution).
        last = self._last_event_ids.get(exec_arn)
        if last is None:
            row = conn.execute(
                "SELECT COALESCE(MAX(id), 0) AS last FROM events WHERE exec_arn=?", (exec_arn,)
            ).fetchone()
            last = int(row["last"])
        event_id = last + 1
        conn.execute(
            "INSERT INTO events (exec_arn, id, type, ts, prev, details) VALUES (?,?,?,?,?,?)",
            (
                exec_arn,
                event_id,
                type_,
                self.clock.now(),
                prev if prev is not None else event_id - 1,
                json.dumps(details) if details is not None else None,
            ),
        )
        self._last_event_ids[exec_arn] = event_id
        return event_id

    def events(
        self, conn: sqlite3.Connection, exec_arn: str, reverse: bool, limit: int, offset: int
    ) -> list[Row]:
        order = "DESC" if reverse else "ASC"
        return conn.execute(
            f"SELECT id, type, ts, prev, details FROM events WHERE exec_arn=? "
            f"ORDER BY id {order} LIMIT ? OFFSET ?",
            (exec_arn, limit, offset),
        ).fetchall()

    # ---- state machines ----

    def state_machine(self, conn: sqlite3.Connection, arn: object) -> Row | None:
        row: Row | None = conn.execute(
            "SELECT * FROM state_machines WHERE arn=?", (arn,)
        ).fetchone()
        return row

    def insert_state_machine(
        self,
        conn: sqlite3.Connection,
        arn: str,
        name: str,
        definition: str,
        role_arn: str,
        type_: str,
        created: float,
        revision: str,
        logging: str | None = None,
        tracing: str | None = None,
    ) -> None:
        conn.execute(
            "INSERT INTO state_machines (arn, name, definition, role_arn, type, created, "
            "revision, logging, tracing) VALUES (?,?,?,?,?,?,?,?,?)",
            (arn, name, definition, role_arn, type_, created, revision, logging, tracing),
        )

    def update_state_machine(
        self,
        conn: sqlite3.Connection,
        arn: str,
        definition: str,
        role_arn: str,
        updated: float,
        revision: str,
    ) -> None:
        conn.execute(
            "UPDATE state_machines SET definition=?, role_arn=?, updated=?, revision=? WHERE arn=?",
            (definition, role_arn, updated, revision, arn),
        )

    def delete_state_machine(self, conn: sqlite3.Connection, arn: object) -> None:
        conn.execute("DELETE FROM state_machines WHERE arn=?", (arn,))
        conn.execute("DELETE FROM tags WHERE resource_arn=?", (arn,))
        conn.execute("DELETE FROM state_machine_versions WHERE sm_arn=?", (arn,))
        conn.execute("DELETE FROM state_machine_aliases WHERE sm_arn=?", (arn,))

    def list_state_machines(self, conn: sqlite3.Connection, limit: int, offset: int) -> list[Row]:
        return conn.execute(
            "SELECT arn, name, type, created FROM state_machines ORDER BY name LIMIT ? OFFSET ?",
            (limit, offset),
        ).fetchall()

    # ---- versions and aliases ----

    def take_version_number(self, conn: sqlite3.Connection, sm_arn: str) -> int:
        conn.execute("UPDATE state_machines SET last_version=last_version+1 WHERE arn=?", (sm_arn,))
        row = conn.execute(
            "SELECT last_version FROM state_machines WHERE arn=?", (sm_arn,)
        ).fetchone()
        return int(row["last_version"])

    def insert_version(
        self,
        conn: sqlite3.Connection,
        sm: Row,
        version: int,
        description: str | None,
        created: float,
    ) -> None:
        """A snapshot of the state machine's current definition, role, type and revision."""
        conn.execute(
            "INSERT INTO state_machine_versions (sm_arn, version, definition, role_arn, type, "
            "revision, description, created) VALUES (?,?,?,?,?,?,?,?)",
            (
                sm["arn"],
                version,
                sm["definition"],
                sm["role_arn"],
                sm["type"],
                sm["revision"],
                description,
                created,
            ),
        )

    def version(self, conn: sqlite3.Connection, sm_arn: str, version: int) -> Row | None:
        row: Row | None = conn.execute(
            "SELECT * FROM state_machine_versions WHERE sm_arn=? AND version=?",
            (sm_arn, version),
        ).fetchone()
        return row

    def latest_version(self, conn: sqlite3.Connection, sm_arn: str) -> Row | None:
        row: Row | None = conn.execute(
            "SELECT * FROM state_machine_versions WHERE sm_arn=? ORDER BY version DESC LIMIT 1",
            (sm_arn,),
        ).fetchone()
        return row

    def count_versions(self, conn: sqlite3.Connection, sm_arn: str) -> int:
        row = conn.execute(
            "SELECT COUNT(*) AS n FROM state_machine_versions WHERE sm_arn=?", (sm_arn,)
        ).fetchone()
        return int(row["n"])

    def list_versions(
        self, conn: sqlite3.Connection, sm_arn: str, limit: int, offset: int
    ) -> list[Row]:
        """Newest first, as AWS lists them."""
        return conn.execute(
            "SELECT version, created FROM state_machine_versions WHERE sm_arn=? "
            "ORDER BY version DESC LIMIT ? OFFSET ?",
            (sm_arn, limit, offset),
        ).fetchall()

    def delete_version(self, conn: sqlite3.Connection, sm_arn: str, version: int) -> None:
        conn.execute(
            "DELETE FROM state_machine_versions WHERE sm_arn=? AND version=?", (sm_arn, version)
        )

    def alias(self, conn: sqlite3.Connection, arn: str) -> Row | None:
        row: Row | None = conn.execute(
            "SELECT * FROM state_machine_aliases WHERE arn=?", (arn,)
        ).fetchone()
        return row

    def aliases(self, conn: sqlite3.Connection, sm_arn: str) -> list[Row]:
        return conn.execute(
            "SELECT * FROM state_machine_aliases WHERE sm_arn=? ORDER BY name", (sm_arn,)
        ).fetchall()

    def insert_alias(
        self,
        conn: sqlite3.Connection,
        arn: str,
        sm_arn: str,
        name: str,
        description: str | None,
        routing: list[dict[str, Any]],
        created: float,
    ) -> None:
        conn.execute(
            "INSERT INTO state_machine_aliases (arn, sm_arn, name, description, routing, "
            "created, updated) VALUES (?,?,?,?,?,?,?)",
            (arn, sm_arn, name, description, json.dumps(routing), created, created),
        )

    def update_alias(
        self,
        conn: sqlite3.Connection,
        arn: str,
        description: str | None,
        routing: list[dict[str, Any]],
        updated: float,
    ) -> None:
        conn.execute(
            "UPDATE state_machine_aliases SET description=?, routing=?, updated=? WHERE arn=?",
            (description, json.dumps(routing), updated, arn),
        )

    def delete_alias(self, conn: sqlite3.Connection, arn: str) -> None:
        conn.execute("DELETE FROM state_machine_aliases WHERE arn=?", (arn,))

    # ---- tags ----

    def tags(self, conn: sqlite3.Connection, resource_arn: str) -> dict[str, str]:
        rows = conn.execute(
            "SELECT key, value FROM tags WHERE resource_arn=? ORDER BY rowid", (resource_arn,)
        ).fetchall()
        return {r["key"]: r["value"] for r in rows}

    def put_tags(self, conn: sqlite3.Connection, resource_arn: str, tags: dict[str, str]) -> None:
        """Adds the tags; a key already there takes the new value."""
        conn.executemany(
            "INSERT INTO tags (resource_arn, key, value) VALUES (?,?,?) "
            "ON CONFLICT (resource_arn, key) DO UPDATE SET value=excluded.value",
            [(resource_arn, k, v) for k, v in tags.items()],
        )

    def remove_tags(self, conn: sqlite3.Connection, resource_arn: str, keys: list[str]) -> None:
        conn.executemany(
            "DELETE FROM tags WHERE resource_arn=? AND key=?", [(resource_arn, k) for k in keys]
        )

    # ---- executions ----

    def execution_row(self, conn: sqlite3.Connection, arn: str) -> Row | None:
        """Every column, for the API's Describe."""
        row: Row | None = conn.execute("SELECT * FROM executions WHERE arn=?", (arn,)).fetchone()
        return row

    def load_execution(self, conn: sqlite3.Connection, arn: str) -> Execution | None:
        row = conn.execute(_LOAD_EXECUTION, (arn,)).fetchone()
        return Execution(**dict(row)) if row else None

    def insert_execution(
        self, conn: sqlite3.Connection, ex: Execution, mocked: tuple[str, Any] | None
    ) -> None:
        """mocked: (test case, its states' responses), stored with the execution as its
        definition is, so a restart (or a changed file) cannot change what a running test
        sees."""
        conn.execute(
            f"INSERT INTO executions ({', '.join(EXECUTION_COLUMNS)}) "
            f"VALUES ({', '.join('?' * len(EXECUTION_COLUMNS))})",
            [getattr(ex, c) for c in EXECUTION_COLUMNS],
        )
        if mocked is not None:
            conn.execute(
                "INSERT INTO mock_executions (exec_arn, test_case, states) VALUES (?,?,?)",
                (ex.arn, mocked[0], json.dumps(mocked[1])),
            )

    def list_executions(
        self,
        conn: sqlite3.Connection,
        sm_arn: object,
        status: str | None,
        limit: int,
        offset: int,
        version_arn: str | None = None,
        alias_arn: str | None = None,
    ) -> list[Row]:
        """Newest first; only those started by version_arn or alias_arn when one is given."""
        sql = (
            "SELECT arn, sm_arn, name, status, start, stop, version_arn, alias_arn "
            "FROM executions WHERE sm_arn=?"
        )
        args: list[Any] = [sm_arn]
        if version_arn is not None:
            sql += " AND version_arn=?"
            args.append(version_arn)
        if alias_arn is not None:
            sql += " AND alias_arn=?"
            args.append(alias_arn)
        if status:
            sql += " AND status=?"
            args.append(status)
        sql += " ORDER BY start DESC, rowid DESC LIMIT ? OFFSET ?"
        return conn.execute(sql, [*args, limit, offset]).fetchall()

    def end_execution(
        self,
        conn: sqlite3.Connection,
        arn: str,
        status: str,
        stop: float,
        output: str | None = None,
        error: str | None = None,
        cause: str | None = None,
    ) -> None:
        """Record how an execution ended, and release everything it still held: its runs,
        timers and the task tokens nobody answered."""
        conn.execute(
            "UPDATE executions SET status=?, output=?, error=?, cause=?, stop=? WHERE arn=?",
            (status, output, error, cause, stop, arn),
        )
        conn.execute(
            "UPDATE runs SET phase='done', status='ABORTED' WHERE exec_arn=? AND phase!='done'",
            (arn,),
        )
        conn.execute("DELETE FROM timers WHERE exec_arn=?", (arn,))
        conn.execute(
            "UPDATE tokens SET status='closed' WHERE exec_arn=? AND status='waiting'", (arn,)
        )

    def execution_stop(self, conn: sqlite3.Connection, arn: str) -> float | None:
        row = conn.execute("SELECT stop FROM executions WHERE arn=?", (arn,)).fetchone()
        return float(row["stop"]) if row and row["stop"] is not None else None

    # ---- runs ----

    def load_run(self, conn: sqlite3.Connection, run_id: int) -> Run | None:
        row = conn.execute(_LOAD_RUN, (run_id,)).fetchone()
        return Run.from_row(row) if row is not None else None

    def insert_run(self, conn: sqlite3.Connection, run: Run) -> int:
        values = run.column_values()
        cur = conn.execute(_INSERT_RUN, list(values.values()))
        run.id = int(cur.lastrowid or 0)
        return run.id

    def save_run(self, conn: sqlite3.Connection, run: Run) -> None:
        conn.execute(_SAVE_RUN, [*run.mutable_column_values(), run.id])

    def run_exec_arn(self, conn: sqlite3.Connection, run_id: int) -> str | None:
        row = conn.execute("SELECT exec_arn FROM runs WHERE id=?", (run_id,)).fetchone()
        return str(row["exec_arn"]) if row else None

    def children(self, conn: sqlite3.Connection, parent_id: int, parent_seq: int) -> list[Row]:
        """The child runs a Parallel or Map attempt started, in branch/item order."""
        return conn.execute(
            "SELECT id, idx, phase, status, result FROM runs WHERE parent_id=? AND parent_seq=? "
            "ORDER BY idx",
            (parent_id, parent_seq),
        ).fetchall()

    def abort_descendants(self, conn: sqlite3.Connection, parent_id: int) -> None:
        frontier = [parent_id]
        while frontier:
            rows = conn.execute(
                f"SELECT id FROM runs WHERE parent_id IN ({','.join('?' * len(frontier))}) "
                "AND phase!='done'",
                frontier,
            ).fetchall()
            frontier = [r["id"] for r in rows]
            for rid in frontier:
                conn.execute("UPDATE runs SET phase='done', status='ABORTED' WHERE id=?", (rid,))
                self.release_waits(conn, rid)

    def release_waits(self, conn: sqlite3.Connection, run_id: int) -> None:
        """A run stopped waiting: drop its timers and close the tokens nobody answered."""
        conn.execute("DELETE FROM timers WHERE run_id=?", (run_id,))
        conn.execute(
            "UPDATE tokens SET status='closed' WHERE run_id=? AND status='waiting'", (run_id,)
        )

    def runs_to_step(self, conn: sqlite3.Connection) -> list[int]:
        rows = conn.execute(
            "SELECT id FROM runs WHERE phase IN ('enter','attempt','outcome') ORDER BY id"
        ).fetchall()
        return [r["id"] for r in rows]

    def runs_to_invoke(self, conn: sqlite3.Connection) -> list[tuple[int, int]]:
        """Runs whose Lambda call was asked for and has not returned: (run id, seq)."""
        rows = conn.execute(
            "SELECT id, seq FROM runs WHERE action_pending=1 AND phase IN ('invoking','waiting')"
        ).fetchall()
        return [(r["id"], r["seq"]) for r in rows]

    # ---- timers ----

    def add_timer(
        self,
        conn: sqlite3.Connection,
        due: float,
        kind: str,
        exec_arn: str,
        run_id: int | None = None,
        seq: int | None = None,
        payload: Any = None,
    ) -> None:
        conn.execute(
            "INSERT INTO timers (due, kind, run_id, seq, exec_arn, payload) VALUES (?,?,?,?,?,?)",
            (due, kind, run_id, seq, exec_arn, None if payload is None else json.dumps(payload)),
        )

    def take_timer(self, conn: sqlite3.Connection, timer_id: int) -> Row | None:
        """The timer, deleted: it fires once."""
        row: Row | None = conn.execute("SELECT * FROM timers WHERE id=?", (timer_id,)).fetchone()
        if row is not None:
            conn.execute("DELETE FROM timers WHERE id=?", (timer_id,))
        return row

    def delete_timer(self, conn: sqlite3.Connection, timer_id: int) -> None:
        conn.execute("DELETE FROM timers WHERE id=?", (timer_id,))

    def delete_run_timers(self, conn: sqlite3.Connection, run_id: int) -> None:
        conn.execute("DELETE FROM timers WHERE run_id=?", (run_id,))

    def due_timers(self, conn: sqlite3.Connection, now: float, limit: int) -> list[int]:
        rows = conn.execute(
            "SELECT id FROM timers WHERE due <= ? ORDER BY due LIMIT ?", (now, limit)
        ).fetchall()
        return [r["id"] for r in rows]

    def next_timer_due(self, conn: sqlite3.Connection) -> float | None:
        row = conn.execute("SELECT MIN(due) AS due FROM timers").fetchone()
        return float(row["due"]) if row is not None and row["due"] is not None else None

    def postpone_heartbeat(
        self, conn: sqlite3.Connection, run_id: int, seq: int, due: float
    ) -> None:
        conn.execute(
            "UPDATE timers SET due=? WHERE run_id=? AND seq=? AND kind='heartbeat'",
            (due, run_id, seq),
        )

    # ---- task tokens ----

    def add_token(
        self,
        conn: sqlite3.Connection,
        token: str,
        run_id: int,
        seq: int,
        exec_arn: str,
        heartbeat: float | None,
        created: float,
    ) -> None:
        conn.execute(
            "INSERT INTO tokens (token, run_id, seq, exec_arn, status, heartbeat, created) "
            "VALUES (?,?,?,?,?,?,?)",
            (token, run_id, seq, exec_arn, "waiting", heartbeat, created),
        )

    def token(self, conn: sqlite3.Connection, token: str) -> Row | None:
        row: Row | None = conn.execute("SELECT * FROM tokens WHERE token=?", (token,)).fetchone()
        return row

    def answer_token(self, conn: sqlite3.Connection, token: str) -> None:
        conn.execute("UPDATE tokens SET status='done' WHERE token=?", (token,))

    def fail_tokens(self, conn: sqlite3.Connection, run_id: int, seq: int) -> None:
        """The call that was to hand the token out failed: nobody can answer it now."""
        conn.execute(
            "UPDATE tokens SET status='failed' WHERE run_id=? AND seq=? AND status='waiting'",
            (run_id, seq),
        )

    def time_out_tokens(self, conn: sqlite3.Connection, run_id: int) -> None:
        conn.execute(
            "UPDATE tokens SET status='timedout' WHERE run_id=? AND status='waiting'", (run_id,)
        )

    # ---- mocked test cases ----

    def mock_execution(self, conn: sqlite3.Connection, exec_arn: str) -> Row | None:
        row: Row | None = conn.execute(
            "SELECT test_case, states, invocations FROM mock_executions WHERE exec_arn=?",
            (exec_arn,),
        ).fetchone()
        return row

    def save_mock_invocations(
        self, conn: sqlite3.Connection, exec_arn: str, invocations: dict[str, int]
    ) -> None:
        conn.execute(
            "UPDATE mock_executions SET invocations=? WHERE exec_arn=?",
            (json.dumps(invocations), exec_arn),
        )

    # ---- group commit (issue 9, speed): several runs' steps in one transaction ----

    def savepoint(self, conn: sqlite3.Connection) -> None:
        """Marks where one run's steps begin inside a shared transaction."""
        conn.execute("SAVEPOINT run_steps")

    def release_savepoint(self, conn: sqlite3.Connection) -> None:
        conn.execute("RELEASE SAVEPOINT run_steps")

    def rollback_to_savepoint(self, conn: sqlite3.Connection) -> None:
        """Undoes one run's steps, keeping the rest of the transaction."""
        conn.execute("ROLLBACK TO SAVEPOINT run_steps")
        conn.execute("RELEASE SAVEPOINT run_steps")
        self._last_event_ids.clear()  # the undone steps' events are gone


_LOAD_EXECUTION = f"SELECT {', '.join(EXECUTION_COLUMNS)} FROM executions WHERE arn=?"
_LOAD_RUN = f"SELECT {', '.join(RUN_COLUMNS)} FROM runs WHERE id=?"
_INSERT_RUN = (
    f"INSERT INTO runs ({', '.join(RUN_COLUMNS[1:])}) "
    f"VALUES ({', '.join('?' * (len(RUN_COLUMNS) - 1))})"
)
_SAVE_RUN = f"UPDATE runs SET {', '.join(f'{c}=?' for c in MUTABLE_RUN_COLUMNS)} WHERE id=?"
