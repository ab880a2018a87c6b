"""In-memory identity provider: users with passwords and groups, tokens that expire or are
revoked, the same refusals as the Cognito adapter."""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass, field

from optin.domain.session import (
    IdentityUnavailable,
    InvalidCredentials,
    IssuedToken,
    PasswordChangeRequired,
    TokenRejected,
)


@dataclass
class FakeUser:
    password: str
    groups: list[str] = field(default_factory=list)
    temporary: bool = False


@dataclass
class MemoryIdentity:
    users: dict[str, FakeUser] = field(default_factory=dict)
    token_seconds: int = 3600
    now: float = 0.0  # tests move time forward
    tokens: dict[str, tuple[str, float]] = field(default_factory=dict)  # token -> user, expiry
    revoked: set[str] = field(default_factory=set)
    down: bool = False  # the service does not answer
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, username: str, password: str, *groups: str) -> None:
        self.users[username] = FakeUser(password, list(groups))

    def _check_up(self) -> None:
        if self.down:
            raise IdentityUnavailable("Sign-in is unavailable; try again.")

    def sign_in(self, username: str, password: str) -> IssuedToken:
        with self._lock:
            self._check_up()
            user = self.users.get(username)
            if user is None or user.password != password:
                raise InvalidCredentials("Wrong username or password.")
            if user.temporary:
                raise PasswordChangeRequired("This account has a temporary password.")
            token = secrets.token_urlsafe(16)
            self.tokens[token] = (username, self.now + self.token_seconds)
            return IssuedToken(token, self.token_seconds)

    def user_of(self, access_token: str) -> str:
        with self._lock:
            self._check_up()
            found = self.tokens.get(access_token)
            if found is None or access_token in self.revoked or found[1] <= self.now:
                raise TokenRejected("Your session has ended; sign in again.")
            if found[0] not in self.users:
                raise TokenRejected("Your account no longer exists.")
            return found[0]

    def groups_of(self, username: str) -> list[str]:
        with self._lock:
            self._check_up()
            user = self.users.get(username)
            if user is None:
                raise TokenRejected("Your account no longer exists.")
            return list(user.groups)

    def sign_out(self, access_token: str) -> None:
        username = self.user_of(access_token)
        with self._lock:
            self.revoked |= {t for t, (u, _) in self.tokens.items() if u == username}
