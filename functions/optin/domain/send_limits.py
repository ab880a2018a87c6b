"""Limits on what a text may cost: the cap on confirmation texts per number per day, and the
refusals End User Messaging's own brakes (MaxPrice, the protect configuration) answer with.

The daily cap (MAX_CONFIRMATION_TEXTS_PER_DAY):

The per-registration limit (domain/resend.py) does not stop a pumper who lets a sign-up
expire, or gets it rejected, and signs the number up again: each new registration starts
its count at zero. This cap counts every confirmation text the number received, whatever
registration it belonged to, over the last 24 hours (a rolling window, so there is no
midnight at which a burst may start afresh).

The count is derived from the number's own consent ledger (its `confirmation_sent` events,
one Query on the number's partition, never a scan) plus the one send the contact may have
reserved and not yet recorded. Nothing new is stored. The check runs inside the transition
that reserves a send, so a concurrent reservation makes the conditional write lose and the
check run again on what the winner wrote.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import datetime, timedelta

from optin.domain.consent import ConsentEvent, EventType
from optin.domain.contact import Contact
from optin.domain.errors import DomainError, SmsRejected

WINDOW = timedelta(hours=24)


class DailyCapReached(DomainError):
    """The number had its day's confirmation texts. The class name is the Lambda error type
    SendConfirmation fails with (the workflow's catch-all then ends the execution)."""

    code = "daily_cap"

    def __init__(self, message: str, *, retry_after_seconds: int, sent: int, cap: int) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds
        self.sent = sent
        self.cap = cap


class SendBlocked(SmsRejected):
    """End User Messaging refused a text by the account's own brakes, not for a fault of
    the number: its price is over MaxPrice (ValidationException PRICE_OVER_THRESHOLD), or
    the protect configuration blocks its country (ConflictException
    DESTINATION_COUNTRY_BLOCKED_BY_PROTECT_CONFIGURATION). Both are final for this number
    (a retry costs the same and goes to the same country), so it is an SmsRejected."""

    code = "sms_blocked"

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


# The refusal reasons above, as botocore's service model spells them.
PRICE_OVER_THRESHOLD = "PRICE_OVER_THRESHOLD"
COUNTRY_BLOCKED = "DESTINATION_COUNTRY_BLOCKED_BY_PROTECT_CONFIGURATION"


def confirmation_texts(
    events: Iterable[ConsentEvent], contact: Contact | None, *, now: datetime
) -> list[datetime]:
    """When the number's confirmation texts of the last 24 hours went out, oldest first.

    A send the contact reserved but has not recorded (in flight, or its sender died before
    the SMS service answered, so it may have left) counts too: erring towards fewer texts.
    """
    since = now - WINDOW
    times = [
        event.at
        for event in events
        if event.type == EventType.CONFIRMATION_SENT and since < event.at <= now
    ]
    if (
        contact is not None
        and contact.last_send_key is not None
        and contact.last_message_id is None
        and contact.last_sent_at is not None
        and since < contact.last_sent_at <= now
    ):
        times.append(contact.last_sent_at)
    return sorted(times)


def ledger_reason(error: DailyCapReached) -> str:
    """The `rejected` event's reason when SendConfirmation meets the cap (code first)."""
    return (
        f"{error.code}: {error.sent} confirmation texts to this number in the last 24 hours "
        f"(the cap is {error.cap})."
    )


def check_daily_cap(sent_at: list[datetime], *, now: datetime, cap: int) -> None:
    """Raise DailyCapReached when one more confirmation text would exceed `cap` within 24 h.

    `sent_at` is confirmation_texts' answer. retry_after_seconds is when enough of those
    texts leave the window for one more to fit.
    """
    if len(sent_at) < cap:
        return
    # The text whose leaving the window makes room: with n texts and a cap c, the
    # (n - c + 1)-th oldest.
    frees_at = sent_at[len(sent_at) - cap] + WINDOW
    wait = max(1, math.ceil((frees_at - now).total_seconds()))
    hours = math.ceil(wait / 3600)
    raise DailyCapReached(
        f"This number has had the {cap} confirmation texts it can get in 24 hours. "
        f"Please try again in {hours} hour{'s' if hours != 1 else ''}.",
        retry_after_seconds=wait,
        sent=len(sent_at),
        cap=cap,
    )
