"""The ALTCHA adapter against the `altcha` package's own solver: a solved challenge passes;
tampered, expired, foreign and malformed payloads do not."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from altcha import v1

from optin.adapters.altcha_captcha import AltchaCaptcha

KEY = "k" * 40
NOW = datetime.now(UTC)


def _solve(challenge: dict[str, Any], **change: Any) -> str:
    solution = v1.solve_challenge(
        challenge["challenge"], challenge["salt"], "SHA-256", challenge["maxNumber"]
    )
    assert solution is not None
    payload = {
        "algorithm": challenge["algorithm"],
        "challenge": challenge["challenge"],
        "number": solution.number,
        "salt": challenge["salt"],
        "signature": challenge["signature"],
        **change,
    }
    return base64.b64encode(json.dumps(payload).encode()).decode()


@pytest.fixture
def captcha() -> AltchaCaptcha:
    return AltchaCaptcha(KEY, max_number=2000)


def test_a_solved_challenge_passes_and_names_its_challenge_for_replay_checks(
    captcha: AltchaCaptcha,
) -> None:
    challenge = captcha.challenge(NOW)
    assert challenge["algorithm"] == "SHA-256" and challenge["maxNumber"] == 2000
    verdict = captcha.verify(_solve(challenge), NOW)
    assert verdict.ok and verdict.token == challenge["challenge"]
    assert verdict.expires_at is not None and verdict.expires_at > NOW


def test_a_wrong_number_fails(captcha: AltchaCaptcha) -> None:
    challenge = captcha.challenge(NOW)
    good = json.loads(base64.b64decode(_solve(challenge)))
    assert not captcha.verify(_solve(challenge, number=good["number"] + 1), NOW).ok


def test_a_challenge_signed_with_another_key_fails(captcha: AltchaCaptcha) -> None:
    foreign = AltchaCaptcha("x" * 40, max_number=2000).challenge(NOW)
    assert not captcha.verify(_solve(foreign), NOW).ok


def test_an_expired_challenge_fails(captcha: AltchaCaptcha) -> None:
    challenge = captcha.challenge(NOW)
    assert not captcha.verify(_solve(challenge), NOW + timedelta(minutes=11)).ok


def test_a_longer_expiry_cannot_be_spliced_into_the_salt(captcha: AltchaCaptcha) -> None:
    challenge = captcha.challenge(NOW)
    salt = challenge["salt"].rstrip("&") + "&expires=9999999999&"
    assert not captcha.verify(_solve(challenge, salt=salt), NOW).ok


@pytest.mark.parametrize(
    "payload",
    ["", "not base64!", base64.b64encode(b"[1,2]").decode(), base64.b64encode(b"42").decode()],
)
def test_malformed_payloads_fail_without_raising(captcha: AltchaCaptcha, payload: str) -> None:
    assert not captcha.verify(payload, NOW).ok


def test_a_sha1_payload_is_refused(captcha: AltchaCaptcha) -> None:
    challenge = captcha.challenge(NOW)
    assert not captcha.verify(_solve(challenge, algorithm="SHA-1"), NOW).ok
