"""In-memory RateLimiter."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import date, datetime

from optin.domain.rate_limits import Counter


class MemoryRateLimiter:
    def __init__(self) -> None:
        self._hits: dict[tuple[str, int], int] = {}
        self._used: dict[str, datetime] = {}
        self._blocked: dict[tuple[date, str], int] = {}
        self._lock = threading.Lock()

    def hit(self, counters: Sequence[Counter], now: datetime) -> Counter | None:
        with self._lock:
            for counter in counters:
                if self._hits.get((counter.key, counter.window_start), 0) >= counter.limit.maximum:
                    return counter
            for counter in counters:
                slot = (counter.key, counter.window_start)
                self._hits[slot] = self._hits.get(slot, 0) + 1
        return None

    def use_once(self, token: str, expires_at: datetime, now: datetime) -> bool:
        with self._lock:
            known = self._used.get(token)
            if known is not None and known > now:
                return False
            self._used[token] = expires_at
        return True

    def count_blocked(self, reason: str, day: date) -> None:
        with self._lock:
            self._blocked[(day, reason)] = self._blocked.get((day, reason), 0) + 1

    def blocked(self, days: Sequence[date]) -> dict[str, int]:
        totals: dict[str, int] = {}
        for (day, reason), count in self._blocked.items():
            if day in days:
                totals[reason] = totals.get(reason, 0) + count
        return dict(sorted(totals.items()))
