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
-- Recovery's Lambda calls not yet answered (runs_to_invoke): partial, so a restart reads the
-- few pending calls and not every run waiting on a task token (350 ms at 100,000).
CREATE INDEX IF NOT EXISTS runs_invoking ON runs (id) WHERE action_pending=1;
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
-- Distributed Map: a map run per Map state attempt (exec_arn is the parent execution, run_id
-- and run_seq the Map state's run and the wait it resolves), and its child executions, one
-- row each from the start (input kept until the child execution is started).
CREATE TABLE IF NOT EXISTS map_runs (
  arn TEXT PRIMARY KEY, exec_arn TEXT NOT NULL, sm_arn TEXT NOT NULL, run_id INTEGER NOT NULL,
  run_seq INTEGER NOT NULL, status TEXT NOT NULL, start REAL NOT NULL, stop REAL,
  max_concurrency INTEGER NOT NULL, tolerated_count INTEGER NOT NULL,
  tolerated_percentage REAL NOT NULL, definition TEXT NOT NULL, error TEXT, cause TEXT
);
CREATE INDEX IF NOT EXISTS map_runs_by_exec ON map_runs (exec_arn, start);
CREATE TABLE IF NOT EXISTS map_run_children (
  map_run_arn TEXT NOT NULL, idx INTEGER NOT NULL, exec_arn TEXT NOT NULL,
  items INTEGER NOT NULL, input TEXT, status TEXT NOT NULL, result TEXT,
  PRIMARY KEY (map_run_arn, idx)
);
CREATE INDEX IF NOT EXISTS map_run_children_by_exec ON map_run_children (exec_arn);
CREATE INDEX IF NOT EXISTS map_run_children_by_status ON map_run_children (map_run_arn, status);
-- Activities: the activities, and the tasks scheduled on them that no worker has
-- taken yet (a taken task lives on as its token, its timers and its run).
CREATE TABLE IF NOT EXISTS activities (
  arn TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, created REAL NOT NULL, encryption TEXT
);
CREATE TABLE IF NOT EXISTS activity_tasks (
  id INTEGER PRIMARY KEY AUTOINCREMENT, token TEXT NOT NULL UNIQUE,
  activity_arn TEXT NOT NULL, input TEXT NOT NULL, scheduled REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS activity_tasks_by_activity ON activity_tasks (activity_arn, id);
-- RedriveExecution's clientTokens: a token used again answers its first redrive's date.
CREATE TABLE IF NOT EXISTS redrive_tokens (
  exec_arn TEXT NOT NULL, token TEXT NOT NULL, redrive_date REAL NOT NULL, used REAL NOT NULL,
  PRIMARY KEY (exec_arn, token)
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
    ("executions", "redrive_count", "INTEGER NOT NULL DEFAULT 0"),
    ("executions", "redrive_date", "REAL"),
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
                # AWS's history timestamps are to the millisecond
                round(self.clock.now(), 3),
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
        redriven: bool | None = None,
    ) -> list[Row]:
        """Newest first; only those started by version_arn or alias_arn when one is given, and
        only those redriven (or never redriven) when redriven is True (False)."""
        sql = (
            "SELECT arn, sm_arn, name, status, start, stop, version_arn, alias_arn, "
            "redrive_count, redrive_date FROM executions WHERE sm_arn=?"
        )
        args: list[Any] = [sm_arn]
        if redriven is not None:
            sql += " AND redrive_count > 0" if redriven else " AND redrive_count = 0"
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
        # INDEXED BY: without statistics SQLite picks runs_by_phase, which walks every run
        # waiting on a task token to find the few calls pending
        rows = conn.execute(
            "SELECT id, seq FROM runs INDEXED BY runs_invoking "
            "WHERE action_pending=1 AND phase IN ('invoking','waiting')"
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

    # ---- map runs (Distributed Map; map_runs.py) ----

    def insert_map_run(self, conn: sqlite3.Connection, values: dict[str, Any]) -> None:
        conn.execute(
            f"INSERT INTO map_runs ({', '.join(values)}) VALUES ({', '.join('?' * len(values))})",
            list(values.values()),
        )

    def map_run(self, conn: sqlite3.Connection, arn: str) -> Row | None:
        row: Row | None = conn.execute("SELECT * FROM map_runs WHERE arn=?", (arn,)).fetchone()
        return row

    def map_runs_of_execution(
        self, conn: sqlite3.Connection, exec_arn: str, limit: int, offset: int
    ) -> list[Row]:
        """Oldest first: the order the execution started them."""
        return conn.execute(
            "SELECT arn, exec_arn, sm_arn, start, stop FROM map_runs WHERE exec_arn=? "
            "ORDER BY start, rowid LIMIT ? OFFSET ?",
            (exec_arn, limit, offset),
        ).fetchall()

    def running_map_runs(self, conn: sqlite3.Connection, exec_arn: str) -> list[Row]:
        return conn.execute(
            "SELECT * FROM map_runs WHERE exec_arn=? AND status='RUNNING'", (exec_arn,)
        ).fetchall()

    def configure_map_run(
        self,
        conn: sqlite3.Connection,
        arn: str,
        max_concurrency: int,
        tolerated_count: int,
        tolerated_percentage: float,
    ) -> None:
        conn.execute(
            "UPDATE map_runs SET max_concurrency=?, tolerated_count=?, tolerated_percentage=? "
            "WHERE arn=?",
            (max_concurrency, tolerated_count, tolerated_percentage, arn),
        )

    def end_map_run(
        self,
        conn: sqlite3.Connection,
        arn: str,
        status: str,
        stop: float,
        error: str | None = None,
        cause: str | None = None,
    ) -> None:
        conn.execute(
            "UPDATE map_runs SET status=?, stop=?, error=?, cause=? WHERE arn=?",
            (status, stop, error, cause, arn),
        )

    def insert_map_run_children(
        self, conn: sqlite3.Connection, map_run_arn: str, children: list[tuple[str, int, Any]]
    ) -> None:
        """children: (execution ARN, number of items, input) in item order, all PENDING."""
        conn.executemany(
            "INSERT INTO map_run_children (map_run_arn, idx, exec_arn, items, input, status) "
            "VALUES (?,?,?,?,?,'PENDING')",
            [
                (map_run_arn, i, arn, items, json.dumps(value))
                for i, (arn, items, value) in enumerate(children)
            ],
        )

    def pending_map_run_children(
        self, conn: sqlite3.Connection, map_run_arn: str, limit: int
    ) -> list[Row]:
        return conn.execute(
            "SELECT idx, exec_arn, input FROM map_run_children WHERE map_run_arn=? "
            "AND status='PENDING' ORDER BY idx LIMIT ?",
            (map_run_arn, limit),
        ).fetchall()

    def map_run_child_of(self, conn: sqlite3.Connection, exec_arn: str) -> Row | None:
        """The map run row of a child execution: None for any other execution."""
        row: Row | None = conn.execute(
            "SELECT map_run_arn, idx, items, status FROM map_run_children WHERE exec_arn=?",
            (exec_arn,),
        ).fetchone()
        return row

    def set_map_run_child(
        self, conn: sqlite3.Connection, map_run_arn: str, idx: int, status: str, result: Any = None
    ) -> None:
        """A child started (its input now lives in its execution) or ended (its result)."""
        conn.execute(
            "UPDATE map_run_children SET status=?, input=NULL, result=? "
            "WHERE map_run_arn=? AND idx=?",
            (status, None if result is None else json.dumps(result), map_run_arn, idx),
        )

    def abort_pending_map_run_children(self, conn: sqlite3.Connection, map_run_arn: str) -> None:
        conn.execute(
            "UPDATE map_run_children SET status='ABORTED', input=NULL "
            "WHERE map_run_arn=? AND status='PENDING'",
            (map_run_arn,),
        )

    def map_run_counts(
        self, conn: sqlite3.Connection, map_run_arn: str
    ) -> dict[str, tuple[int, int]]:
        """Status -> (child executions, items)."""
        rows = conn.execute(
            "SELECT status, COUNT(*) AS n, SUM(items) AS items FROM map_run_children "
            "WHERE map_run_arn=? GROUP BY status",
            (map_run_arn,),
        ).fetchall()
        return {r["status"]: (int(r["n"]), int(r["items"] or 0)) for r in rows}

    def running_map_run_children(self, conn: sqlite3.Connection, map_run_arn: str) -> list[str]:
        rows = conn.execute(
            "SELECT exec_arn FROM map_run_children WHERE map_run_arn=? AND status='RUNNING'",
            (map_run_arn,),
        ).fetchall()
        return [r["exec_arn"] for r in rows]

    def map_run_results(self, conn: sqlite3.Connection, map_run_arn: str) -> list[Row]:
        return conn.execute(
            "SELECT status, result FROM map_run_children WHERE map_run_arn=? ORDER BY idx",
            (map_run_arn,),
        ).fetchall()

    def map_run_executions(
        self,
        conn: sqlite3.Connection,
        map_run_arn: str,
        status: str | None,
        limit: int,
        offset: int,
    ) -> list[Row]:
        """The child executions started so far, newest first (as ListExecutions lists)."""
        sql = (
            "SELECT e.arn, e.sm_arn, e.name, e.status, e.start, e.stop, c.items "
            "FROM map_run_children c JOIN executions e ON e.arn = c.exec_arn "
            "WHERE c.map_run_arn=?"
        )
        args: list[Any] = [map_run_arn]
        if status:
            sql += " AND e.status=?"
            args.append(status)
        sql += " ORDER BY e.start DESC, c.idx DESC LIMIT ? OFFSET ?"
        return conn.execute(sql, [*args, limit, offset]).fetchall()

    # ---- activities (activities.py, states/activity_task.py) ----

    def activity(self, conn: sqlite3.Connection, arn: object) -> Row | None:
        row: Row | None = conn.execute("SELECT * FROM activities WHERE arn=?", (arn,)).fetchone()
        return row

    def insert_activity(
        self,
        conn: sqlite3.Connection,
        arn: str,
        name: str,
        created: float,
        encryption: str | None,
    ) -> None:
        conn.execute(
            "INSERT INTO activities (arn, name, created, encryption) VALUES (?,?,?,?)",
            (arn, name, created, encryption),
        )

    def count_activities(self, conn: sqlite3.Connection) -> int:
        return int(conn.execute("SELECT COUNT(*) AS n FROM activities").fetchone()["n"])

    def delete_activity(self, conn: sqlite3.Connection, arn: str) -> None:
        """The activity and its tags. Tasks scheduled on it stay, unreachable by workers (its
        ARN is unknown to GetActivityTask now), until their timeouts or executions end."""
        conn.execute("DELETE FROM activities WHERE arn=?", (arn,))
        conn.execute("DELETE FROM tags WHERE resource_arn=?", (arn,))

    def list_activities(self, conn: sqlite3.Connection, limit: int, offset: int) -> list[Row]:
        return conn.execute(
            "SELECT arn, name, created FROM activities ORDER BY name LIMIT ? OFFSET ?",
            (limit, offset),
        ).fetchall()

    def add_activity_task(
        self,
        conn: sqlite3.Connection,
        token: str,
        activity_arn: str,
        input_text: str,
        scheduled: float,
    ) -> None:
        conn.execute(
            "INSERT INTO activity_tasks (token, activity_arn, input, scheduled) VALUES (?,?,?,?)",
            (token, activity_arn, input_text, scheduled),
        )

    def next_activity_task(self, conn: sqlite3.Connection, activity_arn: str) -> Row | None:
        """The oldest task of the activity that nobody has taken and that still waits, with
        its token's run, seq and heartbeat. Tasks whose wait ended untaken (a timeout, the
        execution stopped) are dropped here rather than by every path that ends a wait."""
        conn.execute(
            "DELETE FROM activity_tasks WHERE activity_arn=? AND NOT EXISTS (SELECT 1 FROM "
            "tokens t WHERE t.token=activity_tasks.token AND t.status='waiting')",
            (activity_arn,),
        )
        row: Row | None = conn.execute(
            "SELECT a.token, a.input, t.run_id, t.seq, t.heartbeat FROM activity_tasks a "
            "JOIN tokens t ON t.token=a.token WHERE a.activity_arn=? ORDER BY a.id LIMIT 1",
            (activity_arn,),
        ).fetchone()
        return row

    def take_activity_task(self, conn: sqlite3.Connection, token: str) -> None:
        conn.execute("DELETE FROM activity_tasks WHERE token=?", (token,))

    # ---- redrive (RedriveExecution, redrive.py) ----

    def root_run(self, conn: sqlite3.Connection, exec_arn: str) -> Run | None:
        """The execution's own run (not a branch or an iteration)."""
        row = conn.execute(
            "SELECT id FROM runs WHERE exec_arn=? AND parent_id IS NULL ORDER BY id LIMIT 1",
            (exec_arn,),
        ).fetchone()
        return self.load_run(conn, int(row["id"])) if row is not None else None

    def last_children(self, conn: sqlite3.Connection, parent_id: int) -> list[Run]:
        """The child runs of a run's last Parallel/Map attempt, in branch/item order."""
        rows = conn.execute(
            f"SELECT {', '.join(RUN_COLUMNS)} FROM runs WHERE parent_id=? AND parent_seq="
            "(SELECT MAX(parent_seq) FROM runs WHERE parent_id=?) ORDER BY idx",
            (parent_id, parent_id),
        ).fetchall()
        return [Run.from_row(r) for r in rows]

    def move_children(
        self, conn: sqlite3.Connection, parent_id: int, old_seq: int, new_seq: int
    ) -> None:
        """Children of one attempt become children of the parent's current wait (new_seq), so
        the join (states/children.py) counts the kept results beside the re-run ones."""
        conn.execute(
            "UPDATE runs SET parent_seq=? WHERE parent_id=? AND parent_seq=?",
            (new_seq, parent_id, old_seq),
        )

    def last_event_id(self, conn: sqlite3.Connection, exec_arn: str) -> int:
        row = conn.execute(
            "SELECT COALESCE(MAX(id), 0) AS last FROM events WHERE exec_arn=?", (exec_arn,)
        ).fetchone()
        return int(row["last"])

    def reopen_execution(
        self, conn: sqlite3.Connection, arn: str, redrive_count: int, redrive_date: float
    ) -> None:
        """RUNNING again, with no end, output or error, one redrive more."""
        conn.execute(
            "UPDATE executions SET status='RUNNING', output=NULL, error=NULL, cause=NULL, "
            "stop=NULL, redrive_count=?, redrive_date=? WHERE arn=?",
            (redrive_count, redrive_date, arn),
        )

    def redrive_token(
        self, conn: sqlite3.Connection, exec_arn: str, token: str, since: float
    ) -> float | None:
        """The redrive date a clientToken first answered, if it was used after `since`."""
        row = conn.execute(
            "SELECT redrive_date FROM redrive_tokens WHERE exec_arn=? AND token=? AND used>=?",
            (exec_arn, token, since),
        ).fetchone()
        return float(row["redrive_date"]) if row is not None else None

    def add_redrive_token(
        self,
        conn: sqlite3.Connection,
        exec_arn: str,
        token: str,
        redrive_date: float,
        keep: int,
    ) -> None:
        """Remember a clientToken; only the execution's last `keep` tokens are kept."""
        conn.execute(
            "INSERT OR REPLACE INTO redrive_tokens (exec_arn, token, redrive_date, used) "
            "VALUES (?,?,?,?)",
            (exec_arn, token, redrive_date, redrive_date),
        )
        conn.execute(
            "DELETE FROM redrive_tokens WHERE exec_arn=? AND token NOT IN (SELECT token FROM "
            "redrive_tokens WHERE exec_arn=? ORDER BY used DESC, rowid DESC LIMIT ?)",
            (exec_arn, exec_arn, keep),
        )

    # ---- Express executions (express.py): kept only while they run ----

    def ended_executions(self, conn: sqlite3.Connection) -> list[str]:
        rows = conn.execute("SELECT arn FROM executions WHERE status != 'RUNNING'").fetchall()
        return [str(r["arn"]) for r in rows]

    def forget_execution(self, conn: sqlite3.Connection, arn: str) -> None:
        """Every row of an execution: its runs, history, tokens, timers and test case."""
        conn.execute("DELETE FROM executions WHERE arn=?", (arn,))
        for table in ("runs", "events", "tokens", "timers", "mock_executions"):
            conn.execute(f"DELETE FROM {table} WHERE exec_arn=?", (arn,))

    # ---- timers fired in batches (scheduler.py) ----

    def take_due_timers(self, conn: sqlite3.Connection, now: float, limit: int) -> list[Row]:
        """Up to `limit` timers due by `now`, earliest first, deleted: each fires once, and
        the caller fires them all in this transaction."""
        rows = conn.execute(
            "SELECT * FROM timers WHERE due <= ? ORDER BY due LIMIT ?", (now, limit)
        ).fetchall()
        conn.executemany("DELETE FROM timers WHERE id=?", [(r["id"],) for r in rows])
        return rows

    # ---- savepoints: several runs' steps in one transaction, each undone alone ----

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

    @contextmanager
    def undone_alone(self, conn: sqlite3.Connection) -> Iterator[None]:
        """A part of the caller's transaction that is undone alone when it raises (the
        exception goes on): one woken run's step inside a batch of timers."""
        self.savepoint(conn)
        try:
            yield
        except BaseException:
            self.rollback_to_savepoint(conn)
            raise
        self.release_savepoint(conn)


_LOAD_EXECUTION = f"SELECT {', '.join(EXECUTION_COLUMNS)} FROM executions WHERE arn=?"
_LOAD_RUN = f"SELECT {', '.join(RUN_COLUMNS)} FROM runs WHERE id=?"
_INSERT_RUN = (
    f"INSERT INTO runs ({', '.join(RUN_COLUMNS[1:])}) "
    f"VALUES ({', '.join('?' * (len(RUN_COLUMNS) - 1))})"
)
_SAVE_RUN = f"UPDATE runs SET {', '.join(f'{c}=?' for c in MUTABLE_RUN_COLUMNS)} WHERE id=?"


# ---- readers beside the engine (the local runtime's console, on a connection of its own) ----


def open_read_only(path: pathlib.Path) -> sqlite3.Connection:
    """A connection that cannot write: a reader never shares the engine's connection or lock."""
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1)


def executions_ended_since(
    conn: sqlite3.Connection, since: float, limit: int = 500
) -> list[tuple[str, str, str, str | None, float]]:
    """(machine name, execution name, status, error, stop) of executions that ended after
    `since`, oldest first."""
    rows = conn.execute(
        "SELECT sm_name, name, status, error, stop FROM executions"
        " WHERE stop > ? ORDER BY stop LIMIT ?",
        (since, limit),
    ).fetchall()
    return [(str(m), str(n), str(s), e, float(t)) for m, n, s, e, t in rows]
