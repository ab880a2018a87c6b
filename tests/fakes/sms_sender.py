"""In-memory SMS sender: records what would have been texted. Honours dedup keys the way
the local SMS sandbox does (same key: same message id, nothing sent)."""

from __future__ import annotations

import re
import threading
import uuid
from dataclasses import dataclass

from optin.domain.errors import SmsError, SmsRejected

_E164 = re.compile(r"^\+[1-9]\d{1,14}$")


@dataclass(frozen=True)
class SentMessage:
    to: str
    body: str
    dedup_key: str
    message_id: str


class MemorySmsSender:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.sent: list[SentMessage] = []
        self._by_key: dict[str, str] = {}
        # Tests set this to make the next sends fail (e.g. RecipientOptedOut, SmsUnavailable).
        self.fail_with: SmsError | None = None
        # End User Messaging does not deduplicate: tests set this False to behave like it.
        self.honour_dedup_keys = True

    def send(self, to: str, body: str, *, dedup_key: str) -> str:
        with self._lock:
            if self.fail_with is not None:
                raise self.fail_with
            if not _E164.match(to):
                # As the service does: the contract test holds both implementations to it.
                raise SmsRejected("SendTextMessage failed: ValidationException (not E.164)")
            if self.honour_dedup_keys and dedup_key in self._by_key:
                return self._by_key[dedup_key]
            message_id = uuid.uuid4().hex
            self._by_key[dedup_key] = message_id
            self.sent.append(SentMessage(to, body, dedup_key, message_id))
            return message_id

    def to(self, number: str) -> list[SentMessage]:
        with self._lock:
            return [message for message in self.sent if message.to == number]
