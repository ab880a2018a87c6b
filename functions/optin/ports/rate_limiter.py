"""Rate limiter port: the defences' own store (counters, used CAPTCHA challenges, blocked
attempts per day), kept apart from the contact store.

SQLite: tables `rate_counters`, `used_challenges`, `blocked_daily` in the contacts file.
DynamoDB: the contacts table, partitions `RATE#<scope>#<hash>` (sort key the window's start,
TTL `expiresAt`), `CHALLENGE#<hash>` (TTL), `BLOCKED#DAILY` (sort key the day): a role may
write only these partitions (template.yaml, LeadingKeys).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Protocol

from optin.domain.rate_limits import Counter


class RateLimiter(Protocol):
    def hit(self, counters: Sequence[Counter], now: datetime) -> Counter | None:
        """Atomically: when every counter is below its maximum, add one to each and return
        None; otherwise add nothing anywhere and return a counter that is full. Fixed
        windows: a counter belongs to its window (Counter.window_start) and is forgotten
        after it ends."""
        ...

    def use_once(self, token: str, expires_at: datetime, now: datetime) -> bool:
        """Remember `token` until `expires_at`: True the first time, False if it is already
        remembered (a replayed CAPTCHA solution)."""
        ...

    def count_blocked(self, reason: str, day: date) -> None:
        """Add one to the day's count of attempts blocked for `reason`."""
        ...

    def blocked(self, days: Sequence[date]) -> dict[str, int]:
        """Blocked attempts by reason, summed over `days`."""
        ...
