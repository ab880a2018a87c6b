"""The defences use case: switches, CAPTCHA replay, limits, and the blocked counts."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from optin.domain.rate_limits import Attempt, RateLimited, Surface
from optin.domain.settings import Settings
from optin.ports.captcha import Verdict
from optin.usecases.defences import CaptchaRefused, Defences
from tests.fakes.rate_limiter import MemoryRateLimiter

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


class StubCaptcha:
    """Accepts payloads that start with "ok:", the rest of the payload being its token."""

    def challenge(self, now: datetime) -> dict[str, Any]:
        return {"challenge": "c"}

    def verify(self, payload: str, now: datetime) -> Verdict:
        if payload.startswith("ok:"):
            return Verdict(True, token=payload[3:], expires_at=now.replace(hour=13))
        return Verdict(False, problem="no")


def _defences(**settings: Any) -> tuple[Defences, MemoryRateLimiter, list[str]]:
    limiter = MemoryRateLimiter()
    seen: list[str] = []
    made = Defences(
        settings=Settings(**settings),
        limiter=limiter,
        captcha=StubCaptcha(),
        clock=lambda: NOW,
        on_blocked=seen.append,
    )
    return made, limiter, seen


def test_a_solution_is_good_once() -> None:
    defences, limiter, seen = _defences()
    defences.check_captcha("ok:t1")
    with pytest.raises(CaptchaRefused) as refused:
        defences.check_captcha("ok:t1")
    assert refused.value.code == "captcha_invalid"
    assert seen == ["captcha_replayed"]
    assert limiter.blocked([NOW.date()]) == {"captcha_replayed": 1}


@pytest.mark.parametrize(
    ("payload", "code"), [(None, "captcha_required"), ("bad", "captcha_invalid")]
)
def test_missing_or_wrong_solutions_are_refused(payload: str | None, code: str) -> None:
    defences, _, _ = _defences()
    with pytest.raises(CaptchaRefused) as refused:
        defences.check_captcha(payload)
    assert refused.value.code == code


def test_captcha_off_takes_anything_and_offers_no_challenge() -> None:
    defences, _, _ = _defences(captcha_required=False)
    defences.check_captcha(None)
    assert defences.challenge() is None


def test_limits_refuse_and_count_the_reason() -> None:
    defences, _, seen = _defences(rate_limit_per_number="2,5")
    attempt = Attempt(Surface.FORM, "+12065550100", "203.0.113.9")
    defences.check_limits(attempt)
    defences.check_limits(attempt)
    with pytest.raises(RateLimited):
        defences.check_limits(attempt)
    assert seen == ["rate_limit_number_hour"]
    assert defences.blocked_report() == {"rate_limit_number_hour": 1}


def test_limits_off_count_nothing() -> None:
    defences, limiter, _ = _defences(signup_rate_limits="off", rate_limit_per_number="1,1")
    attempt = Attempt(Surface.FORM, "+12065550100", None)
    for _ in range(3):
        defences.check_limits(attempt)
    assert limiter.blocked([NOW.date()]) == {}
