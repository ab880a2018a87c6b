"""Identity port: who a person is and which groups they are in (Amazon Cognito user pool)."""

from __future__ import annotations

from typing import Protocol

from optin.domain.session import IssuedToken


class IdentityProvider(Protocol):
    def sign_in(self, username: str, password: str) -> IssuedToken:
        """A new access token. Raises InvalidCredentials (the same for an unknown user as for
        a wrong password), PasswordChangeRequired, IdentityUnavailable."""
        ...

    def user_of(self, access_token: str) -> str:
        """The username the token belongs to. Raises TokenRejected (unknown, expired, signed
        out), IdentityUnavailable."""
        ...

    def groups_of(self, username: str) -> list[str]:
        """The user's group names. Raises TokenRejected when the user no longer exists."""
        ...

    def sign_out(self, access_token: str) -> None:
        """Revokes every token of the token's user. Raises TokenRejected when it is already
        unusable."""
        ...
