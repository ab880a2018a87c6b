"""Rate limits on sign-up attempts: the pure policy (which counters an attempt touches, how
full each may get, what to tell the caller). Counting is the RateLimiter port's job.

Why these scopes: SMS pumping sends many valid-looking numbers, often sequential ones in one
carrier block, from one or many addresses. A limit per number stops one victim being texted
over and over; per IP stops one machine; per prefix (NPA-NXX, a carrier block) stops
sequential runs that rotate IPs; the global limit caps what any attack can cost in an hour or
a day. Windows are fixed (hour and day, UTC): simple to count atomically in one conditional
write per counter; a burst on a window's edge can reach twice a limit, which the day windows
bound. Keys are hashed: counters hold no phone number or address in clear.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

import phonenumbers

from optin.domain.errors import DomainError

HOUR = 3600
DAY = 86400
# For numbers outside NANP: the country code and the first digits after it.
OTHER_PREFIX_DIGITS = 6


class Scope(StrEnum):
    NUMBER = "number"
    IP = "ip"
    PREFIX = "prefix"
    GLOBAL = "global"
    API_KEY = "api_key"


class Surface(StrEnum):
    FORM = "form"  # POST /signups
    PARTNER = "partner"  # POST /v1/signups


@dataclass(frozen=True)
class Limit:
    scope: Scope
    window_seconds: int
    maximum: int


@dataclass(frozen=True)
class Policy:
    """Per scope, (per hour, per day). The defaults are the template's (docs/security.md)."""

    number: tuple[int, int] = (5, 10)
    ip: tuple[int, int] = (10, 50)
    prefix: tuple[int, int] = (20, 100)
    global_: tuple[int, int] = (1000, 10000)
    api_key: tuple[int, int] = (3600, 50000)

    def limits(self, scope: Scope) -> tuple[Limit, Limit]:
        hour, day = {
            Scope.NUMBER: self.number,
            Scope.IP: self.ip,
            Scope.PREFIX: self.prefix,
            Scope.GLOBAL: self.global_,
            Scope.API_KEY: self.api_key,
        }[scope]
        return Limit(scope, HOUR, hour), Limit(scope, DAY, day)


def parse_pair(raw: str) -> tuple[int, int]:
    """ "per hour,per day" (e.g. "5,10") -> (5, 10). ValueError for anything else."""
    parts = [part.strip() for part in raw.split(",")]
    if len(parts) != 2 or not all(part.isdigit() for part in parts):
        raise ValueError(f"expected 'per hour,per day' as two whole numbers, got {raw!r}")
    hour, day = int(parts[0]), int(parts[1])
    if hour < 1 or day < hour:
        raise ValueError(f"per hour must be at least 1 and per day at least per hour: {raw!r}")
    return hour, day


def prefix_of(e164: str) -> str:
    """The number's block: NPA-NXX for NANP (+1 and the first 6 national digits), else the
    country code and the first OTHER_PREFIX_DIGITS digits (an approximation: plans differ)."""
    try:
        parsed = phonenumbers.parse(e164)
    except phonenumbers.NumberParseException:
        return e164
    national = str(parsed.national_number)
    digits = 6 if parsed.country_code == 1 else OTHER_PREFIX_DIGITS
    return f"+{parsed.country_code}{national[:digits]}"


@dataclass(frozen=True)
class Counter:
    limit: Limit
    key: str  # "<scope>#<hash>#<window seconds>": the hour's and the day's never meet
    window_start: int  # epoch seconds

    @property
    def window_end(self) -> int:
        return self.window_start + self.limit.window_seconds


def _key(scope: Scope, value: str) -> str:
    digest = hashlib.sha256(f"{scope}:{value}".encode()).hexdigest()[:32]
    return f"{scope}#{digest}"


@dataclass(frozen=True)
class Attempt:
    surface: Surface
    phone_number: str  # E.164, checked
    ip: str | None  # the form's client; the partner's end user (from its evidence)
    api_key: str | None = None  # the partner's key id


def counters(policy: Policy, attempt: Attempt, now: datetime) -> list[Counter]:
    """Every counter the attempt adds one to: number, prefix, IP (when known), the partner's
    key, and the surface's global count; each per hour and per day. The number's and the
    prefix's counters are shared by both surfaces: a number pumped through the form and the
    API is one victim."""
    values: list[tuple[Scope, str]] = [
        (Scope.NUMBER, attempt.phone_number),
        (Scope.PREFIX, prefix_of(attempt.phone_number)),
        (Scope.GLOBAL, str(attempt.surface)),
    ]
    if attempt.ip:
        values.append((Scope.IP, f"{attempt.surface}:{attempt.api_key or ''}:{attempt.ip}"))
    if attempt.api_key:
        values.append((Scope.API_KEY, attempt.api_key))
    epoch = int(now.timestamp())
    found = []
    for scope, value in values:
        for limit in policy.limits(scope):
            start = epoch - epoch % limit.window_seconds
            key = f"{_key(scope, value)}#{limit.window_seconds}"
            found.append(Counter(limit, key, start))
    return found


_SENTENCES = {
    Scope.NUMBER: "This number has had too many sign-up attempts",
    Scope.IP: "Too many sign-ups have come from your network",
    Scope.PREFIX: "Too many sign-ups have been made for numbers like this one",
    Scope.GLOBAL: "We are taking too many sign-ups right now",
    Scope.API_KEY: "This API key has made too many sign-ups",
}


class RateLimited(DomainError):
    """An attempt over a limit: nothing stored, nothing texted. 429 rate_limited."""

    code = "rate_limited"

    def __init__(self, counter: Counter, now: datetime) -> None:
        self.scope = counter.limit.scope
        self.window_seconds = counter.limit.window_seconds
        self.maximum = counter.limit.maximum
        self.retry_after_seconds = max(1, counter.window_end - int(now.timestamp()))
        period = "an hour" if self.window_seconds == HOUR else "a day"
        minutes = (self.retry_after_seconds + 59) // 60
        wait = f"{minutes} minute{'s' if minutes != 1 else ''}"
        if minutes >= 120:
            wait = f"{(minutes + 59) // 60} hours"
        super().__init__(
            f"{_SENTENCES[self.scope]} (the limit is {self.maximum} {period}). "
            f"Please try again in {wait}."
        )

    @property
    def reason(self) -> str:
        """The blocked-attempt reason: scope and window, e.g. `rate_limit_ip_hour`."""
        period = "hour" if self.window_seconds == HOUR else "day"
        return f"rate_limit_{self.scope}_{period}"
