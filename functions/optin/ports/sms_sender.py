"""SMS sender port."""

from __future__ import annotations

from typing import Protocol


class SmsSender(Protocol):
    def send(self, to: str, body: str, *, dedup_key: str) -> str:
        """Send `body` to the E.164 number `to`; return the message id.

        `dedup_key` names the message: sending the same key again must not send a second
        text (the End User Messaging adapter passes it as Context.dedupKey; the local SMS
        sandbox honours it). Raises SmsRejected (permanent, RecipientOptedOut when the
        number is on the service's opt-out list) or SmsUnavailable (transient).
        """
        ...
