"""ALTCHA proof of work (the `altcha` package, protocol v1, the one the npm widget speaks):
the server signs a challenge (HMAC), the browser searches for the number that hashes to it,
the server checks the answer and its signature. No outside service, works offline."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime, timedelta
from typing import Any, Final
from urllib.parse import parse_qs

from altcha import v1 as altcha

from optin.ports.captcha import Verdict

# Long enough to fill in the form after the widget solved it on page load.
CHALLENGE_LIFETIME = timedelta(minutes=10)
MAX_PAYLOAD_CHARACTERS = 2048
ALGORITHM: Final = "SHA-256"


class AltchaCaptcha:
    def __init__(self, hmac_key: str, *, max_number: int) -> None:
        self._key = hmac_key
        self._max_number = max_number

    def challenge(self, now: datetime) -> dict[str, Any]:
        made = altcha.create_challenge(
            altcha.ChallengeOptions(
                algorithm=ALGORITHM,
                max_number=self._max_number,
                hmac_key=self._key,
                expires=now + CHALLENGE_LIFETIME,
            )
        )
        return dict(made.to_dict())

    def verify(self, payload: str, now: datetime) -> Verdict:
        if not payload or len(payload) > MAX_PAYLOAD_CHARACTERS:
            return Verdict(False, problem="missing or oversized payload")
        try:
            data = json.loads(base64.b64decode(payload, validate=True))
        except (binascii.Error, ValueError):
            return Verdict(False, problem="not base64 JSON")
        if not isinstance(data, dict) or not all(
            isinstance(data.get(name), str) for name in ("algorithm", "challenge", "salt")
        ):
            return Verdict(False, problem="not an ALTCHA payload")
        if not isinstance(data.get("number"), int) or not isinstance(data.get("signature"), str):
            return Verdict(False, problem="not an ALTCHA payload")
        if data["algorithm"] != ALGORITHM:
            return Verdict(False, problem="not the algorithm we ask for")
        expires = _expires(data["salt"])
        # The library checks expiry against the wall clock; ours is the use case's clock.
        if expires is None or expires <= now:
            return Verdict(False, problem="expired or without expiry")
        solution = altcha.Payload(
            algorithm=data["algorithm"],
            challenge=data["challenge"],
            number=data["number"],
            salt=data["salt"],
            signature=data["signature"],
        )
        ok, error = altcha.verify_solution(solution, self._key, check_expires=False)
        if not ok:
            return Verdict(False, problem=error or "wrong solution or signature")
        return Verdict(True, token=str(data["challenge"]), expires_at=expires)


def _expires(salt: str) -> datetime | None:
    """The expiry signed into the salt (`…?expires=<epoch>&`); None if there is none."""
    # One `expires` only: with two, which one counts would depend on the parser.
    query = salt.split("?", 1)[1] if "?" in salt else ""
    values = parse_qs(query).get("expires")
    if not values or len(values) != 1 or not values[0].isdigit():
        return None
    return datetime.fromtimestamp(int(values[0]), UTC)
