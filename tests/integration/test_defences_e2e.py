"""The pumping defences end to end on the local runtime with them ON (the runtime's default;
the other end-to-end tests turn them off): the form's CAPTCHA through GET /signups/challenge,
solved as the widget does, good once; the per-IP limit answering 429 with Retry-After;
nothing stored or texted for a refused attempt."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from altcha import v1

from tests.support.numbers import new_us_number
from tests.support.runtime import DEFENCES_ON, LocalRuntime, wait_for

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def rt(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRuntime]:
    runtime = LocalRuntime(
        tmp_path_factory.mktemp("defences") / "rt",
        {**DEFENCES_ON, "RateLimitPerIp": "3,10", "CaptchaMaxNumber": "5000"},
    ).start()
    try:
        yield runtime
    finally:
        runtime.stop()


def solve(rt: LocalRuntime) -> str:
    status, challenge = rt.get("/signups/challenge")
    assert status == 200, challenge
    found = v1.solve_challenge(
        challenge["challenge"], challenge["salt"], challenge["algorithm"], challenge["maxNumber"]
    )
    assert found is not None
    payload: dict[str, Any] = {
        key: challenge[key] for key in ("algorithm", "challenge", "salt", "signature")
    }
    payload["number"] = found.number
    return base64.b64encode(json.dumps(payload).encode()).decode()


def test_the_form_needs_a_solved_challenge_once_and_the_ip_limit_holds(rt: LocalRuntime) -> None:
    first = new_us_number()
    status, answer = rt.signup(first)
    assert status == 400 and answer["error"]["code"] == "captcha_required", answer

    solution = solve(rt)
    assert rt.signup(first, altcha=solution)[0] == 202
    wait_for(
        lambda: len(rt.messages(first, "outbound")) == 1, timeout=60, what="the confirmation text"
    )

    replayed = new_us_number()
    status, answer = rt.signup(replayed, altcha=solution)
    assert status == 400 and answer["error"]["code"] == "captcha_invalid", answer
    assert rt.contact(replayed) is None

    # Two more sign-ups from this address fit in its 3 an hour (the refused ones did not
    # count: only attempts that pass the CAPTCHA reach the limits)…
    for _ in range(2):
        assert rt.signup(new_us_number(), altcha=solve(rt))[0] == 202
    # …the fourth is refused, stored nowhere, texted never.
    blocked = new_us_number()
    status, headers, answer = rt.request(
        "POST",
        "/signups",
        {"phoneNumber": blocked, "consent": True, "altcha": solve(rt)},
    )
    assert status == 429, answer
    assert answer["error"]["code"] == "rate_limited"
    assert answer["error"]["limit"] == {"scope": "ip", "windowSeconds": 3600, "maximum": 3}
    retry_after = {name.lower(): value for name, value in headers.items()}["retry-after"]
    assert 0 < int(retry_after) <= 3600
    assert rt.contact(blocked) is None
    assert rt.messages(blocked) == []
    # A client cannot pose as another address: X-Forwarded-For is not the caller's address
    # locally (the runtime takes the socket's peer; no trusted proxy in front).
    status, _, answer = rt.request(
        "POST",
        "/signups",
        {"phoneNumber": blocked, "consent": True, "altcha": solve(rt)},
        {"X-Forwarded-For": "198.51.100.7"},
    )
    assert status == 429 and answer["error"]["limit"]["scope"] == "ip", answer


def test_the_challenge_route_says_off_when_the_captcha_is_off(tmp_path: Path) -> None:
    with LocalRuntime(tmp_path / "rt") as runtime:  # the tests' default: defences off
        assert runtime.get("/signups/challenge") == (200, {"captcha": "off"})
        assert runtime.signup(new_us_number())[0] == 202
