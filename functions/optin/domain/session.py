"""The console's session rules, shared by the session function and the authorizer: the cookie
that carries the access token, the roles, and what a state-changing request must carry.

Pure: header values in, decisions out. The identity provider itself is behind
`optin.ports.identity`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

COOKIE_NAME = "console_session"
# The console's API only: the pages and the public form never send the token anywhere.
COOKIE_PATH = "/console/api"
# Set by the CloudFront function on /console/api/* (template.yaml ConsoleViewerHost) to the
# viewer's Host, which API Gateway behind CloudFront does not see.
VIEWER_HOST_HEADER = "x-viewer-host"
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
Role = Literal["viewer", "agent"]
# Agent wins over viewer: a user in both groups may act.
ROLES_BY_RANK: tuple[Role, ...] = ("agent", "viewer")


class SessionError(Exception):
    """A refusal with the API's error code and one sentence for a person."""

    status = 400
    code = "session_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidCredentials(SessionError):
    status = 401
    code = "invalid_credentials"


class TokenRejected(SessionError):
    """No token, or one the identity provider does not accept (unknown, expired, revoked)."""

    status = 401
    code = "unauthenticated"


class PasswordChangeRequired(SessionError):
    status = 403
    code = "password_change_required"


class NoRole(SessionError):
    status = 403
    code = "no_role"


class CrossSiteRequest(SessionError):
    status = 403
    code = "cross_site_request"


class IdentityUnavailable(SessionError):
    status = 503
    code = "identity_unavailable"


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    expires_in: int  # seconds


@dataclass(frozen=True)
class Session:
    username: str
    role: Role

    def as_dict(self) -> dict[str, str]:
        return {"username": self.username, "role": self.role}

    def authorizer_context(self) -> dict[str, str]:
        """What the authorizer hands API Gateway, which passes it on to the route's function
        as event.requestContext.authorizer (string values only)."""
        return {"principalId": self.username, "username": self.username, "role": self.role}


@dataclass(frozen=True)
class SignedIn:
    """Who the API's authorizer let through: its context, as the console's handlers read it."""

    username: str
    role: str  # as the authorizer passed it; a handler checks it is one it serves


def signed_in(raw_event: Mapping[str, Any]) -> SignedIn | None:
    """The user the authorizer put into `requestContext.authorizer`; None without one (a
    route reached without the authorizer, which the handlers refuse as unauthenticated)."""
    context = raw_event.get("requestContext") or {}
    authorizer = context.get("authorizer") if isinstance(context, Mapping) else None
    if not isinstance(authorizer, Mapping) or not authorizer.get("username"):
        return None
    return SignedIn(str(authorizer["username"]), str(authorizer.get("role") or ""))


def role_from_groups(groups: Iterable[str]) -> Role | None:
    found = set(groups)
    return next((role for role in ROLES_BY_RANK if role in found), None)


def header(headers: Mapping[str, str] | None, name: str) -> str | None:
    """A header's value whatever its case (API Gateway keeps the client's spelling)."""
    wanted = name.lower()
    for key, value in (headers or {}).items():
        if key.lower() == wanted:
            return value
    return None


def token_from_cookies(cookie_header: str | None) -> str | None:
    """Our cookie's value in a Cookie header (browsers send `a=1; b=2`). Read by hand: the
    standard library's parser gives up on the whole header at one malformed cookie, which
    another page of the same site could set to hide ours."""
    for part in (cookie_header or "").split(";"):
        name, _, value = part.strip().partition("=")
        if name == COOKIE_NAME and value:
            return value
    return None


def is_https(headers: Mapping[str, str] | None) -> bool:
    """Whether the browser's request came over HTTPS. API Gateway sets X-Forwarded-Proto (and
    is HTTPS only); CloudFront in front of it sets CloudFront-Forwarded-Proto."""
    for name in ("cloudfront-forwarded-proto", "x-forwarded-proto"):
        value = header(headers, name)
        if value:
            return value.split(",")[0].strip().lower() == "https"
    return False


def session_cookie(token: str, max_age: int, *, secure: bool) -> str:
    parts = [
        f"{COOKIE_NAME}={token}",
        f"Path={COOKIE_PATH}",
        f"Max-Age={max(0, int(max_age))}",
        "HttpOnly",
        "SameSite=Strict",
    ]
    if secure:
        parts.append("Secure")
    return "; ".join(parts)


def cleared_cookie(*, secure: bool) -> str:
    return session_cookie("", 0, secure=secure)


def own_origin(headers: Mapping[str, str] | None, configured: str | None) -> str | None:
    """The console's own origin: CONSOLE_ORIGIN when set; else the viewer's host as CloudFront
    passes it (X-Viewer-Host, which its viewer-request function overwrites), else the Host
    the request came to (the local runtime serves the console itself)."""
    if configured:
        return configured.rstrip("/").lower()
    host = header(headers, VIEWER_HOST_HEADER) or header(headers, "host")
    if not host:
        return None
    return f"{'https' if is_https(headers) else 'http'}://{host}".lower()


def check_state_changing(
    method: str, headers: Mapping[str, str] | None, configured_origin: str | None
) -> None:
    """Raises CrossSiteRequest unless a state-changing request carries the console's own Origin
    and a JSON content type: a page on another origin can send neither (a form cannot send
    JSON, and a fetch that sets it is preflighted and refused). Reads pass."""
    if method.upper() not in STATE_CHANGING:
        return
    origin = header(headers, "origin")
    expected = own_origin(headers, configured_origin)
    if not origin or expected is None or origin.rstrip("/").lower() != expected:
        raise CrossSiteRequest(
            "This request must come from the support console's own page (its Origin header)."
        )
    content_type = (header(headers, "content-type") or "").split(";")[0].strip().lower()
    if content_type != "application/json":
        raise CrossSiteRequest("Send this request as JSON (Content-Type: application/json).")
