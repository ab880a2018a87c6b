"""Powertools idempotency records in SQLite: the `idempotency` table in the contact store's
file, for the local runtime (on AWS: Powertools' DynamoDBPersistenceLayer on the template's
IdempotencyTable).

It keeps the DynamoDB layer's semantics (persistence/dynamodb.py): a record is put only if
there is none, or the one there has expired, or it is INPROGRESS past its in-progress expiry;
otherwise the stored record's payload hash is checked (IdempotencyValidationError for another
body) and IdempotencyItemAlreadyExistsError carries the stored record. BEGIN IMMEDIATE makes
the check and the write one step, as DynamoDB's condition does.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from contextlib import AbstractContextManager
from pathlib import Path

from aws_lambda_powertools.utilities.idempotency import BasePersistenceLayer
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyItemAlreadyExistsError,
    IdempotencyItemNotFoundError,
)
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import (
    STATUS_CONSTANTS,
    DataRecord,
)

from optin.adapters.sqlite_connection import SqliteConnections

SCHEMA = """
CREATE TABLE IF NOT EXISTS idempotency (
    id                  TEXT PRIMARY KEY,
    status              TEXT NOT NULL,
    expiration          INTEGER,
    in_progress_expiry  INTEGER,
    data                TEXT,
    validation          TEXT
);
"""


def _record(row: sqlite3.Row) -> DataRecord:
    return DataRecord(
        idempotency_key=row["id"],
        status=row["status"],
        expiry_timestamp=row["expiration"],
        in_progress_expiry_timestamp=row["in_progress_expiry"],
        response_data=row["data"] or "",
        payload_hash=row["validation"] or "",
    )


class SqlitePersistenceLayer(BasePersistenceLayer):
    def __init__(self, path: str | Path, *, busy_timeout_seconds: float = 30.0) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # Powertools leaves it unannotated
        self._db = SqliteConnections(path, busy_timeout_seconds=busy_timeout_seconds)
        self._connection().executescript(SCHEMA)

    def _connection(self) -> sqlite3.Connection:
        return self._db.get()

    def _transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        return self._db.transaction()

    def close(self) -> None:
        self._db.close()

    def _get_record(self, idempotency_key: str) -> DataRecord:
        row = (
            self._connection()
            .execute("SELECT * FROM idempotency WHERE id = ?", (idempotency_key,))
            .fetchone()
        )
        if row is None:
            raise IdempotencyItemNotFoundError
        return _record(row)

    def _put_record(self, data_record: DataRecord) -> None:
        now = dt.datetime.now()
        with self._transaction() as conn:
            row = conn.execute(
                "SELECT * FROM idempotency WHERE id = ?", (data_record.idempotency_key,)
            ).fetchone()
            if row is not None:
                old = _record(row)
                expired = old.expiry_timestamp is not None and old.expiry_timestamp < int(
                    now.timestamp()
                )
                stale = (
                    row["status"] == STATUS_CONSTANTS["INPROGRESS"]
                    and old.in_progress_expiry_timestamp is not None
                    and old.in_progress_expiry_timestamp < int(now.timestamp() * 1000)
                )
                if not (expired or stale):
                    # Raised inside the transaction: it rolls back, nothing was written.
                    self._validate_payload(data_payload=data_record, stored_data_record=old)
                    raise IdempotencyItemAlreadyExistsError(old_data_record=old)
            conn.execute(
                "INSERT OR REPLACE INTO idempotency "
                "(id, status, expiration, in_progress_expiry, data, validation) "
                "VALUES (?, ?, ?, ?, NULL, ?)",
                (
                    data_record.idempotency_key,
                    data_record.status,
                    data_record.expiry_timestamp,
                    data_record.in_progress_expiry_timestamp,
                    data_record.payload_hash if self.payload_validation_enabled else None,
                ),
            )

    def _update_record(self, data_record: DataRecord) -> None:
        self._connection().execute(
            "UPDATE idempotency SET data = ?, expiration = ?, status = ?, "
            "validation = coalesce(?, validation) WHERE id = ?",
            (
                data_record.response_data,
                data_record.expiry_timestamp,
                data_record.status,
                data_record.payload_hash if self.payload_validation_enabled else None,
                data_record.idempotency_key,
            ),
        )

    def _delete_record(self, data_record: DataRecord) -> None:
        self._connection().execute(
            "DELETE FROM idempotency WHERE id = ?", (data_record.idempotency_key,)
        )
