"""A database written before the store gained columns opens, keeps its executions and is
brought up to date."""

from __future__ import annotations

import pathlib
import sqlite3

from local.stepfunctions.store import ADDED_COLUMNS, Store

# The executions table as the engine wrote it before ADDED_COLUMNS existed.
OLD_EXECUTIONS = """
CREATE TABLE executions (
  arn TEXT PRIMARY KEY, sm_arn TEXT NOT NULL, sm_name TEXT NOT NULL, name TEXT NOT NULL,
  status TEXT NOT NULL, input TEXT NOT NULL, output TEXT, error TEXT, cause TEXT,
  start REAL NOT NULL, stop REAL, definition TEXT NOT NULL, role_arn TEXT NOT NULL,
  next_event INTEGER NOT NULL DEFAULT 1, seqno INTEGER
);
INSERT INTO executions (arn, sm_arn, sm_name, name, status, input, start, definition, role_arn)
VALUES ('arn:x', 'arn:sm', 'sm', 'x', 'SUCCEEDED', '{}', 1.0, '{}', 'role');
"""


def test_old_database_gains_the_new_columns(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "old.db"
    old = sqlite3.connect(path)
    old.executescript(OLD_EXECUTIONS)
    old.close()
    store = Store(path)
    try:
        with store.read() as conn:
            execution = store.load_execution(conn, "arn:x")
            tables = {table for table, _, _ in ADDED_COLUMNS}
            columns = {
                (table, row["name"])
                for table in tables
                for row in conn.execute(f"PRAGMA table_info({table})")
            }
    finally:
        store.close()
    assert execution is not None and execution.status == "SUCCEEDED"
    assert execution.sm_revision is None
    assert {(table, column) for table, column, _ in ADDED_COLUMNS} <= columns
    # Opening again finds nothing to add (ALTER TABLE of a present column would raise).
    Store(path).close()
