"""The SMS sandbox: End User Messaging SMS's SendTextMessage on localhost, and the phones' side.

Outbound texts are stored instead of sent. A person (the phone simulator page) or a test injects
inbound texts; each is stored with a pending delivery before it is acknowledged, then published
to the two-way SNS topic as End User Messaging would, so a kill between the two loses nothing.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from local.runtime.sqlite_db import Database

log = logging.getLogger("local.sms")

E164 = re.compile(r"^\+[1-9]\d{1,14}$")
MAX_BODY = 1600
# Keywords every End User Messaging number has registered; others count as free text.
REGISTERED_KEYWORDS = {"HELP", "STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "UNSTOP"}
RETRY_DELAYS = (1.0, 2.0, 5.0, 15.0, 60.0)
# Like SNS to Lambda: a message that keeps failing is given up on (and logged), not retried forever.
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1

SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  message_id TEXT NOT NULL UNIQUE,
  direction TEXT NOT NULL CHECK (direction IN ('inbound', 'outbound')),
  origination TEXT NOT NULL,
  destination TEXT NOT NULL,
  body TEXT NOT NULL,
  dedup_key TEXT UNIQUE,
  context TEXT,
  created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_by_phone_out ON messages (destination, seq);
CREATE INDEX IF NOT EXISTS messages_by_phone_in ON messages (origination, seq);
CREATE TABLE IF NOT EXISTS deliveries (
  delivery_id INTEGER PRIMARY KEY AUTOINCREMENT,
  inbound_message_id TEXT NOT NULL,
  payload TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at REAL NOT NULL,
  delivered_at TEXT,
  last_error TEXT
);
"""


class SandboxError(Exception):
    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def mask(phone: str) -> str:
    return phone[:5] + "***" + phone[-4:] if len(phone) > 9 else "***"


class SmsSandbox:
    def __init__(
        self,
        db_path: Path,
        default_origination: str,
        publish: Callable[[str], None],
        send_delay_seconds: float = 0.0,
    ) -> None:
        self.db = Database(db_path, SCHEMA)
        self.default_origination = default_origination
        self.publish = publish
        self.send_delay_seconds = send_delay_seconds
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    # --- End User Messaging SMS API (JSON protocol, X-Amz-Target PinpointSMSVoiceV2.*) ---

    def handle_api(self, operation: str, request: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if operation != "SendTextMessage":
            return 400, {
                "__type": "ValidationException",
                "Message": f"The local SMS sandbox does not implement {operation}.",
            }
        try:
            return 200, {"MessageId": self.send_text_message(request)}
        except SandboxError as error:
            return error.status, {"__type": error.code, "Message": error.message}

    def send_text_message(self, request: dict[str, Any]) -> str:
        destination = request.get("DestinationPhoneNumber")
        body = request.get("MessageBody")
        if not isinstance(destination, str) or not E164.match(destination):
            raise SandboxError(
                "ValidationException", "DestinationPhoneNumber must be an E.164 phone number."
            )
        if not isinstance(body, str) or not body:
            raise SandboxError("ValidationException", "MessageBody is required.")
        if len(body) > MAX_BODY:
            raise SandboxError("ValidationException", f"MessageBody exceeds {MAX_BODY} characters.")
        context = request.get("Context") or {}
        if not isinstance(context, dict):
            raise SandboxError("ValidationException", "Context must be a map of strings.")
        origination = request.get("OriginationIdentity") or self.default_origination
        dedup_key = context.get("dedupKey")
        conn = self.db.connect()
        with conn:
            conn.execute("BEGIN IMMEDIATE")
            if dedup_key:
                # A Lambda re-run after a crash asks again: the text already went out once.
                row = conn.execute(
                    "SELECT message_id FROM messages WHERE dedup_key = ?", (dedup_key,)
                ).fetchone()
                if row:
                    log.info("duplicate send suppressed for %s", mask(destination))
                    return str(row["message_id"])
            message_id = str(uuid.uuid4())
            conn.execute(
                "INSERT INTO messages (message_id, direction, origination, destination, body,"
                " dedup_key, context, created_at) VALUES (?, 'outbound', ?, ?, ?, ?, ?, ?)",
                (
                    message_id,
                    origination,
                    destination,
                    body,
                    dedup_key,
                    json.dumps(context),
                    _now(),
                ),
            )
        log.info("text to %s stored (%d chars)", mask(destination), len(body))
        if self.send_delay_seconds:
            # Widens the window between "sent" and "the caller knows", for the durability tests.
            time.sleep(self.send_delay_seconds)
        return message_id

    # --- the phones' side ---

    def inject_inbound(self, sender: Any, body: Any, destination: Any = None) -> str:
        if not isinstance(sender, str) or not E164.match(sender):
            raise SandboxError(
                "invalid_phone_number", "'from' must be an E.164 number, +12065550123."
            )
        if not isinstance(body, str) or not body.strip():
            raise SandboxError("invalid_body", "'body' must be a non-empty text.")
        if len(body) > MAX_BODY:
            raise SandboxError("invalid_body", f"'body' exceeds {MAX_BODY} characters.")
        to = (
            destination
            if isinstance(destination, str) and destination
            else self.default_origination
        )
        inbound_id = str(uuid.uuid4())
        conn = self.db.connect()
        with conn:
            conn.execute("BEGIN IMMEDIATE")
            previous = conn.execute(
                "SELECT message_id FROM messages WHERE direction = 'outbound' AND destination = ?"
                " ORDER BY seq DESC LIMIT 1",
                (sender,),
            ).fetchone()
            first_word = body.strip().split()[0].upper() if body.strip() else ""
            payload = {
                "originationNumber": sender,
                "destinationNumber": to,
                "messageKeyword": first_word if first_word in REGISTERED_KEYWORDS else "",
                "messageBody": body,
                "inboundMessageId": inbound_id,
                "previousPublishedMessageId": previous["message_id"] if previous else "",
            }
            conn.execute(
                "INSERT INTO messages (message_id, direction, origination, destination, body,"
                " created_at) VALUES (?, 'inbound', ?, ?, ?, ?)",
                (inbound_id, sender, to, body, _now()),
            )
            conn.execute(
                "INSERT INTO deliveries (inbound_message_id, payload, next_attempt_at)"
                " VALUES (?, ?, ?)",
                (inbound_id, json.dumps(payload), time.time()),
            )
        self._wake.set()
        return inbound_id

    def redeliver(self, inbound_id: str) -> None:
        """Publishes an inbound text again, as SNS's at-least-once delivery sometimes does."""
        conn = self.db.connect()
        with conn:
            conn.execute("BEGIN IMMEDIATE")
            row = conn.execute(
                "SELECT payload FROM deliveries WHERE inbound_message_id = ? LIMIT 1",
                (inbound_id,),
            ).fetchone()
            if row is None:
                raise SandboxError("not_found", f"No inbound message {inbound_id}.", 404)
            conn.execute(
                "INSERT INTO deliveries (inbound_message_id, payload, next_attempt_at)"
                " VALUES (?, ?, ?)",
                (inbound_id, row["payload"], time.time()),
            )
        self._wake.set()

    def messages(self, phone: str) -> list[dict[str, Any]]:
        rows = self.db.connect().execute(
            "SELECT * FROM messages WHERE destination = ? OR origination = ? ORDER BY seq",
            (phone, phone),
        )
        return [
            {
                "messageId": r["message_id"],
                "direction": r["direction"],
                "from": r["origination"],
                "to": r["destination"],
                "body": r["body"],
                "createdAt": r["created_at"],
            }
            for r in rows
        ]

    def conversations(self) -> list[dict[str, Any]]:
        rows = (
            self.db.connect()
            .execute(
                """
            SELECT phone, COUNT(*) AS n, MAX(seq) AS last_seq FROM (
              SELECT seq, CASE direction WHEN 'outbound' THEN destination ELSE origination END
                AS phone FROM messages)
            GROUP BY phone ORDER BY last_seq DESC
            """
            )
            .fetchall()
        )
        out = []
        for r in rows:
            last = (
                self.db.connect()
                .execute("SELECT body, created_at FROM messages WHERE seq = ?", (r["last_seq"],))
                .fetchone()
            )
            out.append(
                {
                    "phoneNumber": r["phone"],
                    "messageCount": r["n"],
                    "lastMessageAt": last["created_at"],
                    "lastBody": last["body"],
                }
            )
        return out

    # --- delivery of inbound texts to the two-way topic ---

    def start(self) -> None:
        self._thread = threading.Thread(target=self._deliver_loop, name="sms-delivery", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread:
            self._thread.join(timeout=5)

    def pending_deliveries(self) -> int:
        row = (
            self.db.connect()
            .execute("SELECT COUNT(*) FROM deliveries WHERE delivered_at IS NULL")
            .fetchone()
        )
        return int(row[0])

    def _deliver_loop(self) -> None:
        while not self._stopping.is_set():
            # Cleared before looking, so a text injected meanwhile is never waited on.
            self._wake.clear()
            conn = self.db.connect()
            due = conn.execute(
                "SELECT delivery_id, inbound_message_id, payload, attempts FROM deliveries"
                " WHERE delivered_at IS NULL AND attempts < ? AND next_attempt_at <= ?"
                " ORDER BY delivery_id LIMIT 20",
                (MAX_ATTEMPTS, time.time()),
            ).fetchall()
            for row in due:
                self._deliver(row)
            if not due:
                upcoming = conn.execute(
                    "SELECT MIN(next_attempt_at) FROM deliveries"
                    " WHERE delivered_at IS NULL AND attempts < ?",
                    (MAX_ATTEMPTS,),
                ).fetchone()[0]
                wait = 1.0 if upcoming is None else max(0.0, min(1.0, upcoming - time.time()))
                self._wake.wait(wait)

    def _deliver(self, row: Any) -> None:
        conn = self.db.connect()
        inbound_id, attempts = row["inbound_message_id"], row["attempts"]
        try:
            self.publish(row["payload"])
        except Exception as error:
            delay = RETRY_DELAYS[min(attempts, len(RETRY_DELAYS) - 1)]
            if attempts + 1 >= MAX_ATTEMPTS:
                log.error("inbound %s undeliverable after %d attempts", inbound_id, MAX_ATTEMPTS)
            else:
                log.warning(
                    "delivery of inbound %s failed (%s); retry in %ss", inbound_id, error, delay
                )
            conn.execute(
                "UPDATE deliveries SET attempts = attempts + 1, next_attempt_at = ?,"
                " last_error = ? WHERE delivery_id = ?",
                (time.time() + delay, repr(error)[:500], row["delivery_id"]),
            )
            return
        conn.execute(
            "UPDATE deliveries SET attempts = attempts + 1, delivered_at = ? WHERE delivery_id = ?",
            (_now(), row["delivery_id"]),
        )
