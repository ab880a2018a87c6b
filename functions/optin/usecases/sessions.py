"""Console sessions: sign in, who is signed in, sign out, over the identity port."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from optin.domain.session import (
    InvalidCredentials,
    IssuedToken,
    NoRole,
    Session,
    TokenRejected,
    role_from_groups,
)
from optin.ports.identity import IdentityProvider

MAX_USERNAME = 128  # Cognito's limit
MAX_PASSWORD = 256  # Cognito's limit


@dataclass(frozen=True)
class SignedIn:
    session: Session
    token: IssuedToken


@dataclass
class Sessions:
    identity: IdentityProvider

    def sign_in(self, username: str, password: str) -> SignedIn:
        if not (0 < len(username) <= MAX_USERNAME and 0 < len(password) <= MAX_PASSWORD):
            # Cognito would refuse it as a malformed request; to the person it is just wrong.
            raise InvalidCredentials("Wrong username or password.")
        token = self.identity.sign_in(username, password)
        try:
            session = self.current(token.access_token)
        except NoRole:
            # Leave no working token behind for an account that may not use the console.
            self.sign_out(token.access_token)
            raise
        return SignedIn(session, token)

    def current(self, access_token: str) -> Session:
        """The session a token stands for. Raises TokenRejected, NoRole."""
        if not access_token:
            raise TokenRejected("Sign in to use the support console.")
        # The username as the pool spells it, not as the person typed it.
        username = self.identity.user_of(access_token)
        role = role_from_groups(self.identity.groups_of(username))
        if role is None:
            raise NoRole(
                "This account has no console role; an administrator must add it to the "
                "viewer or agent group."
            )
        return Session(username, role)

    def sign_out(self, access_token: str) -> None:
        """Ends every session of the token's user; a token that no longer works is already
        signed out, which is what was asked."""
        with contextlib.suppress(TokenRejected):
            self.identity.sign_out(access_token)
