"""Webhook signatures against fixed vectors (computed with `openssl dgst -sha256 -hmac`, not
with the code under test), and every way a receiver must refuse one."""

from __future__ import annotations

import pytest

from optin.domain.webhook_signature import SignatureError, sign, verify

SECRET = "whsec_test"
BODY = b'{"id":"evt_1","type":"webhook.test"}'
T = 1700000000
# printf '%s' '1700000000.{"id":"evt_1","type":"webhook.test"}' \
#   | openssl dgst -sha256 -hmac whsec_test
MAC = "684fbc8999ff13aa332102c10e23ad56af8cb3b34c5d3bcba8bf53317e5f6c33"
# printf '%s' '1767225600.' | openssl dgst -sha256 -hmac whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw
EMPTY_MAC = "7822aa62fc064e86c9f858a70199c7ae91a71d9fe981f73601ec7a068ba248ff"


def test_sign_matches_the_fixed_vectors() -> None:
    assert sign(SECRET, T, BODY) == f"t={T},v1={MAC}"
    assert sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", 1767225600, b"") == (
        f"t=1767225600,v1={EMPTY_MAC}"
    )


def test_verify_accepts_the_vector_within_five_minutes() -> None:
    assert verify(SECRET, f"t={T},v1={MAC}", BODY, now=T + 299) == T
    # A second v1 (a sender signing with an old and a new secret) may be the matching one.
    assert verify(SECRET, f"t={T},v1={'0' * 64},v1={MAC}", BODY, now=T) == T


@pytest.mark.parametrize(
    ("header", "body", "now"),
    [
        (None, BODY, T),
        ("", BODY, T),
        (f"v1={MAC}", BODY, T),  # no timestamp
        (f"t={T}", BODY, T),  # no signature
        (f"t={T},v1={MAC}", BODY + b" ", T),  # body changed
        (f"t={T + 1},v1={MAC}", BODY, T),  # timestamp changed
        (f"t={T},v1={MAC.upper()}", BODY, T),  # not the hex we send
        (f"t={T},v1={MAC}", BODY, T + 301),  # too old: a replayed capture
        (f"t={T},v1={MAC}", BODY, T - 301),  # from the future
        (f"t=abc,v1={MAC}", BODY, T),
    ],
)
def test_verify_refuses(header: str | None, body: bytes, now: int) -> None:
    with pytest.raises(SignatureError):
        verify(SECRET, header, body, now=now)


def test_another_secret_does_not_verify() -> None:
    with pytest.raises(SignatureError):
        verify("whsec_other", f"t={T},v1={MAC}", BODY, now=T)
