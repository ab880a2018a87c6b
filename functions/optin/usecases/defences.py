"""Defences against SMS pumping on sign-ups: the form's CAPTCHA and the rate limits of both
sign-up surfaces, and the count of what they blocked.

Where they run: after the request is parsed and the number checked (a malformed or
disallowed number is already refused, and costs us nothing), before anything is stored or
texted. Pumping attempts are valid-looking numbers, so it is valid attempts that are counted;
an attempt over a limit is not counted against the other limits (the check and count is all
or nothing), so one blocked address cannot use up the global budget for everyone else.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from optin.domain.clock import Clock, utc_now
from optin.domain.errors import DomainError, StoreUnavailable
from optin.domain.rate_limits import Attempt, RateLimited, counters
from optin.domain.settings import Settings
from optin.ports.captcha import Captcha
from optin.ports.rate_limiter import RateLimiter
from optin.usecases.base import log

# The console's "Blocked" table covers this many days, today included.
REPORT_DAYS = 7


class CaptchaRefused(DomainError):
    """The form's proof of work is missing, wrong, expired or already used. 400."""

    def __init__(self, code: str, message: str, reason: str) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason


_MISSING = (
    "captcha_required",
    "Please wait for the check beside the button to finish (it proves you are not a "
    "robot), then send the form again.",
)
_INVALID = (
    "captcha_invalid",
    "The check that proves you are not a robot has expired or was not accepted. Please "
    "let it run again, then send the form again.",
)


@dataclass
class Defences:
    settings: Settings
    limiter: RateLimiter | None
    captcha: Captcha | None
    clock: Clock = utc_now
    # Called with each blocked attempt's reason (the metric); the store counts it too.
    on_blocked: Callable[[str], None] = field(default=lambda _reason: None)

    @property
    def captcha_on(self) -> bool:
        return self.settings.captcha_required and self.captcha is not None

    @property
    def limits_on(self) -> bool:
        return self.settings.signup_rate_limits and self.limiter is not None

    def challenge(self) -> dict[str, object] | None:
        """A challenge for the form, or None when the form needs none."""
        if not self.captcha_on:
            return None
        assert self.captcha is not None
        return self.captcha.challenge(self.clock())

    def check_captcha(self, payload: str | None) -> None:
        if not self.captcha_on:
            return
        assert self.captcha is not None
        if not payload:
            self._block("captcha_missing")
            raise CaptchaRefused(*_MISSING, reason="captcha_missing")
        now = self.clock()
        verdict = self.captcha.verify(payload, now)
        if not verdict.ok or verdict.token is None:
            self._block("captcha_invalid")
            raise CaptchaRefused(*_INVALID, reason="captcha_invalid")
        expires = verdict.expires_at or now + timedelta(hours=1)
        # A solved challenge is good for one sign-up: a pumper must pay the work each time.
        if self.limiter is not None and not self.limiter.use_once(verdict.token, expires, now):
            self._block("captcha_replayed")
            raise CaptchaRefused(*_INVALID, reason="captcha_replayed")

    def check_limits(self, attempt: Attempt) -> None:
        """Count the attempt, or raise RateLimited (nothing counted)."""
        if not self.limits_on:
            return
        assert self.limiter is not None
        now = self.clock()
        full = self.limiter.hit(counters(self.settings.rate_policy(), attempt, now), now)
        if full is not None:
            refused = RateLimited(full, now)
            self._block(refused.reason)
            raise refused

    def count_blocked(self, reason: str) -> None:
        """Count an attempt another defence blocked (the daily cap, the country list)."""
        self._block(reason)

    def _block(self, reason: str) -> None:
        self.on_blocked(reason)
        if self.limiter is not None:
            try:
                self.limiter.count_blocked(reason, self.clock().date())
            except StoreUnavailable:
                # The refusal stands; only the console's count misses one (the metric has it).
                log.warning("blocked attempt not counted", extra={"reason": reason})

    def blocked_report(self) -> dict[str, int]:
        """Blocked attempts by reason over the last REPORT_DAYS days (UTC)."""
        if self.limiter is None:
            return {}
        today = self.clock().date()
        return self.limiter.blocked([today - timedelta(days=n) for n in range(REPORT_DAYS)])
