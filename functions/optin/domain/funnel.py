"""The daily funnel: counters kept per UTC day, and the report built from them.

The store adds a save's increments to the day's counters in the same transaction that
appends the ledger events (so a counter never drifts from the ledger, and a lost race
counts nothing). A report then reads one counter record per day, never the contacts.

What is counted, on the UTC day of the event:

* ``signedUp``: a ``requested`` event (a sign-up the workflow accepted);
* ``texted``: the first ``confirmation_sent`` of a registration (its dedup key is the
  registration's confirmation key; resends are not counted again);
* ``confirmed``, ``expired``, ``rejected``: those events;
* ``optedOut``: an ``opted_out`` event of a sign-up still PENDING (STOP instead of YES). A
  confirmed subscriber who later texts STOP is not a funnel outcome and is not counted.

Time to confirm is kept as a histogram per day, since a day's exact values could not fit
one record: bucket ``b`` holds the confirmations whose seconds ``s`` from the last
confirmation text to the YES satisfy ``floor(8 * log2(1 + s)) == b``. The median read back
is the middle of its bucket (geometric, on 1 + s), within 2^(1/16) - 1 (4.4 %) of (1 + s)
of the exact median's bucket: for anything over a minute, within 4.5 %.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from optin.domain.consent import ConsentEvent, EventType
from optin.domain.contact import Contact, Status, confirmation_key

STAGES = ("signedUp", "texted", "confirmed", "expired", "optedOut", "rejected")
# Counter names of the time-to-confirm histogram: "ttc<bucket>".
BUCKET_PREFIX = "ttc"
BUCKETS_PER_DOUBLING = 8
MAX_RANGE_DAYS = 366

_SIMPLE = {
    EventType.REQUESTED: "signedUp",
    EventType.CONFIRMED: "confirmed",
    EventType.EXPIRED: "expired",
    EventType.REJECTED: "rejected",
}


def bucket_of(seconds: float) -> int:
    return math.floor(BUCKETS_PER_DOUBLING * math.log2(1 + max(seconds, 0.0)))


def bucket_middle(bucket: int) -> float:
    """The geometric middle of a bucket on 1 + s, as seconds."""
    return float(2 ** ((bucket + 0.5) / BUCKETS_PER_DOUBLING) - 1)


def increments(contact: Contact, events: Sequence[ConsentEvent]) -> dict[date, dict[str, int]]:
    """What one save adds to the daily counters: {UTC day: {counter: n}} (no zeros).
    `contact` is the contact as saved with `events`."""
    days: dict[date, Counter[str]] = {}
    for event in events:
        names: list[str] = []
        if event.type in _SIMPLE:
            names.append(_SIMPLE[event.type])
        if (
            event.type == EventType.CONFIRMATION_SENT
            and event.registration_id
            and event.details.get("dedupKey") == confirmation_key(event.registration_id)
        ):
            names.append("texted")
        if (
            event.type == EventType.OPTED_OUT
            and event.details.get("previousStatus") == Status.PENDING
        ):
            names.append("optedOut")
        if event.type == EventType.CONFIRMED and contact.last_sent_at is not None:
            waited = (event.at - contact.last_sent_at).total_seconds()
            names.append(f"{BUCKET_PREFIX}{bucket_of(waited)}")
        if names:
            days.setdefault(_utc_day(event.at), Counter()).update(names)
    return {day: dict(counts) for day, counts in days.items()}


def _utc_day(moment: datetime) -> date:
    offset = moment.utcoffset() or timedelta(0)
    return (moment - offset).date()


def median_seconds(buckets: Mapping[int, int]) -> float | None:
    """The median time to confirm from histogram counts (None: no confirmation)."""
    total = sum(buckets.values())
    if total == 0:
        return None
    ordered = sorted((bucket, n) for bucket, n in buckets.items() if n > 0)

    def at_rank(rank: int) -> float:  # 0-based
        seen = 0
        for bucket, n in ordered:
            seen += n
            if rank < seen:
                return bucket_middle(bucket)
        raise AssertionError("rank beyond the total")

    if total % 2:
        return round(at_rank(total // 2), 1)
    return round((at_rank(total // 2 - 1) + at_rank(total // 2)) / 2, 1)


@dataclass(frozen=True)
class FunnelRange:
    first: date
    last: date

    @classmethod
    def parse(cls, start: str, end: str) -> FunnelRange:
        """From YYYY-MM-DD texts; ValueError (with a sentence) for a bad or reversed range or
        one over MAX_RANGE_DAYS days."""
        try:
            first, last = date.fromisoformat(start), date.fromisoformat(end)
        except ValueError:
            raise ValueError("'from' and 'to' must be dates like 2026-11-01.") from None
        if len(start) != 10 or len(end) != 10:
            raise ValueError("'from' and 'to' must be dates like 2026-11-01.")
        if first > last:
            raise ValueError("'from' must not be later than 'to'.")
        if (last - first).days + 1 > MAX_RANGE_DAYS:
            raise ValueError(f"A funnel covers at most {MAX_RANGE_DAYS} days.")
        return cls(first, last)

    def days(self) -> list[date]:
        return [self.first + timedelta(days=n) for n in range((self.last - self.first).days + 1)]


def report(span: FunnelRange, counters: Mapping[date, Mapping[str, int]]) -> dict[str, Any]:
    """The console's funnel answer from the stored counters of the days in `span`."""
    totals: Counter[str] = Counter()
    buckets: Counter[int] = Counter()
    days = []
    for day in span.days():
        stored = counters.get(day, {})
        row = {stage: int(stored.get(stage, 0)) for stage in STAGES}
        totals.update(row)
        for name, n in stored.items():
            if name.startswith(BUCKET_PREFIX):
                buckets[int(name[len(BUCKET_PREFIX) :])] += int(n)
        days.append({"date": day.isoformat(), **row})
    texted = totals["texted"]
    return {
        "days": days,
        "totals": {stage: totals[stage] for stage in STAGES},
        "confirmationRate": round(totals["confirmed"] / texted, 4) if texted else None,
        "medianSecondsToConfirm": median_seconds(buckets),
    }
