"""One contract, every RateLimiter adapter (in-memory fake, SQLite, DynamoDB on moto with the
table template.yaml declares): all-or-nothing counting, windows, used challenges, blocked
counts per day."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from optin.adapters.dynamodb_rate_limiter import DynamoDbRateLimiter
from optin.adapters.sqlite_rate_limiter import SqliteRateLimiter
from optin.domain.rate_limits import Attempt, Policy, Scope, Surface, counters
from optin.ports.rate_limiter import RateLimiter
from tests.fakes.rate_limiter import MemoryRateLimiter
from tests.support import dynamodb

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
NUMBER = "+12065550100"


@pytest.fixture(params=["memory", "sqlite", "dynamodb"])
def limiter(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RateLimiter]:
    if request.param == "memory":
        yield MemoryRateLimiter()
    elif request.param == "sqlite":
        sqlite_limiter = SqliteRateLimiter(tmp_path / "contacts.db")
        yield sqlite_limiter
        sqlite_limiter.close()
    else:
        with dynamodb.moto_dynamodb():
            yield DynamoDbRateLimiter(dynamodb.CONTACTS_TABLE, dynamodb.client)


def _form(number: str = NUMBER, ip: str = "203.0.113.7") -> Attempt:
    return Attempt(Surface.FORM, number, ip)


def test_counts_up_to_the_limit_then_refuses_naming_the_full_counter(
    limiter: RateLimiter,
) -> None:
    policy = Policy(number=(2, 3))
    for _ in range(2):
        assert limiter.hit(counters(policy, _form(), NOW), NOW) is None
    full = limiter.hit(counters(policy, _form(), NOW), NOW)
    assert full is not None
    assert (full.limit.scope, full.limit.window_seconds, full.limit.maximum) == (
        Scope.NUMBER,
        3600,
        2,
    )


def test_a_refused_attempt_counts_nowhere(limiter: RateLimiter) -> None:
    # The number is full; attempts for it must not eat into the IP's or the global budget.
    policy = Policy(number=(1, 1), ip=(3, 3))
    assert limiter.hit(counters(policy, _form(), NOW), NOW) is None
    for _ in range(5):
        assert limiter.hit(counters(policy, _form(), NOW), NOW) is not None
    # The same IP may still sign up two other numbers (3 per hour in all).
    assert limiter.hit(counters(policy, _form("+13125550100"), NOW), NOW) is None
    assert limiter.hit(counters(policy, _form("+14155550100"), NOW), NOW) is None
    full = limiter.hit(counters(policy, _form("+16175550100"), NOW), NOW)
    assert full is not None and full.limit.scope == Scope.IP


def test_a_new_hour_starts_afresh_but_the_day_remembers(limiter: RateLimiter) -> None:
    policy = Policy(number=(1, 2))
    assert limiter.hit(counters(policy, _form(), NOW), NOW) is None
    assert limiter.hit(counters(policy, _form(), NOW), NOW) is not None
    later = NOW + timedelta(hours=1)
    assert limiter.hit(counters(policy, _form(), later), later) is None
    even_later = NOW + timedelta(hours=2)
    full = limiter.hit(counters(policy, _form(), even_later), even_later)
    assert full is not None and full.limit.window_seconds == 86400


def test_at_midnight_the_hour_and_the_day_windows_start_together(limiter: RateLimiter) -> None:
    # Same start for both windows: they must still be two counters.
    midnight = datetime(2026, 11, 2, 0, 0, 5, tzinfo=UTC)
    policy = Policy(number=(2, 3))
    assert limiter.hit(counters(policy, _form(), midnight), midnight) is None
    assert limiter.hit(counters(policy, _form(), midnight), midnight) is None
    assert limiter.hit(counters(policy, _form(), midnight), midnight) is not None


def test_concurrent_attempts_never_pass_the_limit(limiter: RateLimiter) -> None:
    if isinstance(limiter, DynamoDbRateLimiter):
        # moto in process does not serialise concurrent transactions (it let 8 of 12 in);
        # DynamoDB evaluates each conditional update atomically, which the sequential
        # tests above hold moto to.
        pytest.skip("moto does not serialise concurrent TransactWriteItems")
    policy = Policy(prefix=(5, 5))
    passed: list[bool] = []

    def one(n: int) -> None:
        attempt = _form(f"+1206555{n:04d}", f"10.0.0.{n}")
        result = limiter.hit(counters(policy, attempt, NOW), NOW)
        passed.append(result is None)

    threads = [threading.Thread(target=one, args=(n,)) for n in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(passed) == 5


def test_a_challenge_is_used_once_until_it_expires(limiter: RateLimiter) -> None:
    expires = NOW + timedelta(minutes=10)
    assert limiter.use_once("abc123", expires, NOW)
    assert not limiter.use_once("abc123", expires, NOW + timedelta(minutes=1))
    assert limiter.use_once("def456", expires, NOW)
    # Expired: the signature check refuses it anyway; the store may forget it.
    assert limiter.use_once("abc123", expires + timedelta(minutes=10), expires)


def test_blocked_attempts_are_counted_per_day_and_reason(limiter: RateLimiter) -> None:
    today, yesterday = date(2026, 11, 1), date(2026, 10, 31)
    limiter.count_blocked("rate_limit_ip_hour", today)
    limiter.count_blocked("rate_limit_ip_hour", today)
    limiter.count_blocked("captcha_invalid", yesterday)
    limiter.count_blocked("captcha_invalid", date(2026, 10, 1))
    assert limiter.blocked([today]) == {"rate_limit_ip_hour": 2}
    assert limiter.blocked([today, yesterday]) == {
        "captcha_invalid": 1,
        "rate_limit_ip_hour": 2,
    }
    assert limiter.blocked([]) == {}
