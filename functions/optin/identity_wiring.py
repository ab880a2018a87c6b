"""Composition of the console's sessions: the identity adapter from the environment.

Kept beside `wiring` (which builds the sign-up functions' dependencies) because the session
and authorizer functions need none of those. Tests replace the provider with `override`.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from optin.ports.identity import IdentityProvider
from optin.usecases.sessions import Sessions

_lock = threading.Lock()
_cache: dict[tuple[str | None, ...], IdentityProvider] = {}
_overrides: list[IdentityProvider] = []

_ENV = (
    "USER_POOL_ID",
    "USER_POOL_CLIENT_ID",
    "AWS_REGION",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER",
    "AWS_ACCESS_KEY_ID",
)


def identity() -> IdentityProvider:
    with _lock:
        if _overrides:
            return _overrides[-1]
        key = tuple(os.environ.get(name) for name in _ENV)
        if key not in _cache:
            from optin.adapters.cognito_identity import CognitoIdentity

            _cache[key] = CognitoIdentity(
                os.environ.get("USER_POOL_ID", ""), os.environ.get("USER_POOL_CLIENT_ID", "")
            )
        return _cache[key]


def sessions() -> Sessions:
    return Sessions(identity())


def console_origin() -> str | None:
    """CONSOLE_ORIGIN, when the console is served from an origin the request cannot tell
    (a custom domain in front of CloudFront); empty means: the request's own."""
    return os.environ.get("CONSOLE_ORIGIN") or None


@contextmanager
def override(provider: IdentityProvider) -> Iterator[IdentityProvider]:
    with _lock:
        _overrides.append(provider)
    try:
        yield provider
    finally:
        with _lock:
            _overrides.remove(provider)
