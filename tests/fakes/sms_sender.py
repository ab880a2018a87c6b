"""In-memory SMS sender: records what would have been texted. Behaves as the local SMS
sandbox does, and the contract test holds both to it: the same dedup key returns the same
message id and sends nothing; a number on the opt-out list is refused (RecipientOptedOut);
opt_out/opt_in put a number on the list and take it off, both idempotent."""

from __future__ import annotations

import re
import threading
import uuid
from dataclasses import dataclass

from optin.domain.errors import RecipientOptedOut, SmsError, SmsRejected

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
        # The service's opt-out list.
        self.opted_out: set[str] = set()
        # ("opt_out" | "opt_in", number), in order: what the code asked of the list.
        self.list_calls: list[tuple[str, str]] = []
        # Tests set these to make the next sends / list calls fail (e.g. SmsUnavailable,
        # SmsConfigurationError).
        self.fail_with: SmsError | None = None
        self.list_fails_with: SmsError | None = None

    def send(self, to: str, body: str, *, dedup_key: str) -> str:
        with self._lock:
            if self.fail_with is not None:
                raise self.fail_with
            if not _E164.match(to):
                raise SmsRejected("SendTextMessage refused: the destination is not E.164.")
            if dedup_key in self._by_key:
                return self._by_key[dedup_key]
            if to in self.opted_out:
                raise RecipientOptedOut(
                    "SendTextMessage failed: ConflictException DESTINATION_PHONE_NUMBER_OPTED_OUT"
                )
            message_id = uuid.uuid4().hex
            self._by_key[dedup_key] = message_id
            self.sent.append(SentMessage(to, body, dedup_key, message_id))
            return message_id

    def opt_out(self, phone_number: str) -> None:
        with self._lock:
            self._list_call("opt_out", phone_number)
            self.opted_out.add(phone_number)

    def opt_in(self, phone_number: str) -> None:
        with self._lock:
            self._list_call("opt_in", phone_number)
            self.opted_out.discard(phone_number)

    def _list_call(self, kind: str, phone_number: str) -> None:
        self.list_calls.append((kind, phone_number))
        if self.list_fails_with is not None:
            raise self.list_fails_with
        if not _E164.match(phone_number):
            raise SmsRejected(f"{kind} refused: the number is not E.164.")

    def to(self, number: str) -> list[SentMessage]:
        with self._lock:
            return [message for message in self.sent if message.to == number]
