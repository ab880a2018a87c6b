"""SQLite connections for the runtime's own tables: WAL, one connection per thread."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path


class Database:
    def __init__(self, path: Path, schema: str) -> None:
        self.path = path
        self._local = threading.local()
        path.parent.mkdir(parents=True, exist_ok=True)
        with self.connect() as conn:
            conn.executescript(schema)

    def connect(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            # NORMAL, as the engine's and the contact store's databases: in WAL mode a commit
            # survives the process being killed (docs/local-runtime.md, "Durability").
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
        return conn
