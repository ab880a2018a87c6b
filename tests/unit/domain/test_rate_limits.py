"""The pure rate-limit policy: which counters an attempt touches, prefixes, sentences."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from optin.domain.rate_limits import (
    Attempt,
    Policy,
    RateLimited,
    Scope,
    Surface,
    counters,
    parse_pair,
    prefix_of,
)

NOW = datetime(2026, 11, 1, 12, 30, tzinfo=UTC)


def test_nanp_prefix_is_npa_nxx_and_others_keep_six_digits_after_the_country_code() -> None:
    assert prefix_of("+12065550100") == "+1206555"
    assert prefix_of("+447700900123") == "+44770090"


def test_form_attempt_counts_number_prefix_ip_and_the_form_global_per_hour_and_day() -> None:
    found = counters(Policy(), Attempt(Surface.FORM, "+12065550100", "203.0.113.7"), NOW)
    assert sorted((c.limit.scope, c.limit.window_seconds) for c in found) == sorted(
        (scope, window)
        for scope in (Scope.NUMBER, Scope.PREFIX, Scope.GLOBAL, Scope.IP)
        for window in (3600, 86400)
    )
    hour = next(c for c in found if c.limit.window_seconds == 3600)
    assert hour.window_start == int(datetime(2026, 11, 1, 12, tzinfo=UTC).timestamp())
    # Keys are hashes: no number or address in the store.
    assert not any("2065550100" in c.key or "203.0.113.7" in c.key for c in found)
    assert len({c.key for c in found}) == len(found)


def test_partner_attempt_adds_its_key_and_shares_the_numbers_counters_with_the_form() -> None:
    form = counters(Policy(), Attempt(Surface.FORM, "+12065550100", None), NOW)
    partner = counters(
        Policy(), Attempt(Surface.PARTNER, "+12065550100", "198.51.100.1", "k1"), NOW
    )
    scopes = {c.limit.scope for c in partner}
    assert scopes == {Scope.NUMBER, Scope.PREFIX, Scope.GLOBAL, Scope.IP, Scope.API_KEY}
    number_keys = {c.key for c in form if c.limit.scope == Scope.NUMBER}
    assert number_keys == {c.key for c in partner if c.limit.scope == Scope.NUMBER}
    # …but not the global budget: one surface cannot starve the other.
    assert {c.key for c in form if c.limit.scope == Scope.GLOBAL}.isdisjoint(
        c.key for c in partner if c.limit.scope == Scope.GLOBAL
    )
    assert {c.limit.scope for c in form} == {Scope.NUMBER, Scope.PREFIX, Scope.GLOBAL}


def test_refusal_says_which_limit_and_when_to_come_back() -> None:
    counter = next(
        c
        for c in counters(
            Policy(ip=(10, 50)), Attempt(Surface.FORM, "+12065550100", "1.2.3.4"), NOW
        )
        if c.limit.scope == Scope.IP and c.limit.window_seconds == 3600
    )
    refused = RateLimited(counter, NOW)
    assert refused.retry_after_seconds == 30 * 60
    assert refused.reason == "rate_limit_ip_hour"
    assert refused.code == "rate_limited"
    assert "your network" in refused.message and "10 an hour" in refused.message
    assert "30 minutes" in refused.message


@pytest.mark.parametrize("raw", ["5", "5,", "a,b", "0,10", "10,5", "5,10,20", "-1,3"])
def test_bad_pairs_are_refused(raw: str) -> None:
    with pytest.raises(ValueError):
        parse_pair(raw)


def test_a_pair_is_per_hour_then_per_day() -> None:
    assert parse_pair(" 5, 10 ") == (5, 10)
