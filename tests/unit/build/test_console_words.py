"""The console's page names every ledger event type and expiry reason the domain writes, in
words: a type it does not know shows as a raw code to support staff."""

from __future__ import annotations

import re

from optin.domain.consent import EventType, ExpiryReason
from tests.support.runtime import REPO_ROOT

SIGNUP_JS = (REPO_ROOT / "web/console/js/signup.js").read_text(encoding="utf-8")


def _keys(constant: str) -> set[str]:
    block = re.search(rf"const {constant} = \{{(.*?)\}};", SIGNUP_JS, re.S)
    assert block, constant
    return set(re.findall(r"^\s*([a-z_]+):", block[1], re.M))


def test_every_ledger_event_type_has_words() -> None:
    assert _keys("LEDGER_WORDS") == {str(t) for t in EventType}


def test_every_expiry_reason_has_words() -> None:
    assert _keys("EXPIRED_REASONS") == {str(r) for r in ExpiryReason}
