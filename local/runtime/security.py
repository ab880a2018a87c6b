"""Who may talk to the local runtime's port: Host, Origin, AWS signatures, the shared secret.

Pure functions over header values, shared by the runtime's HTTP front door and the standalone
Step Functions server, so each rule is tested once.
"""

from __future__ import annotations

import hmac
import ipaddress
import re
import secrets
from dataclasses import dataclass

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
WILDCARD_HOSTS = frozenset({"0.0.0.0", "::", ""})

# The service names in a SigV4 credential scope, per API served on the port.
SERVICE_STEP_FUNCTIONS = "states"
SERVICE_SMS = "sms-voice"
SERVICE_LAMBDA = "lambda"

# What the AWS SDKs and CLI send: AWS4-HMAC-SHA256 Credential=AKID/DATE/REGION/SERVICE/aws4_request,
# SignedHeaders=a;b, Signature=hex. Locally any credentials are accepted (as AWS's local tools
# do): the shape is what tells a signing SDK apart from a web page, which cannot set it.
_SIGV4 = re.compile(
    r"AWS4-HMAC-SHA256 +Credential=(?P<key>[^/,\s]+)/(?P<date>\d{8})/(?P<region>[a-z0-9-]+)/"
    r"(?P<service>[a-z0-9-]+)/aws4_request, *SignedHeaders=(?P<signed>[a-z0-9;-]+), *"
    r"Signature=[0-9a-f]{64}"
)

SECRET_HEADER = "x-local-secret"
SECRET_COOKIE = "local_secret"
SECRET_QUERY = "local_secret"

# Pages: scripts and styles from files only (web/*.html has no inline script or style), no
# framing (the consent tick cannot be clickjacked), no plugins, forms post to this origin only.
PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; object-src 'none'; "
    "frame-ancestors 'none'"
)
# Everything else is data: it may load nothing and be framed by nothing.
DATA_CSP = "default-src 'none'; frame-ancestors 'none'"


def security_headers(page: bool) -> dict[str, str]:
    """Headers every response carries; pages get a CSP that lets them load their own files."""
    return {
        "Content-Security-Policy": PAGE_CSP if page else DATA_CSP,
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cross-Origin-Resource-Policy": "same-origin",
    }


def host_name(host_header: str | None) -> str | None:
    """The name in a Host header ("[::1]:8000" → "::1"), lower-cased; None when malformed."""
    if not host_header:
        return None
    value = host_header.strip().lower()
    if value.startswith("["):
        name, bracket, rest = value[1:].partition("]")
        if not bracket or (rest and not re.fullmatch(r":\d{1,5}", rest)):
            return None
        return name
    name, _, port = value.partition(":")
    if port and not port.isdigit():
        return None
    if not name or not re.fullmatch(r"[a-z0-9.-]+", name):
        return None
    return name


def is_loopback_name(name: str | None) -> bool:
    if name is None:
        return False
    if name in LOOPBACK_NAMES or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def is_loopback_address(address: str | None) -> bool:
    try:
        return address is not None and ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def binds_beyond_loopback(bind_host: str) -> bool:
    """True when --host exposes the port to other machines (0.0.0.0, a LAN address…)."""
    return not is_loopback_name(bind_host.lower().strip("[]"))


@dataclass(frozen=True)
class HostPolicy:
    """Which Host headers are served. Bound to loopback: loopback names and the bound address
    only, so a DNS-rebound name (evil.example → 127.0.0.1) is refused. Bound beyond loopback
    (--host given): any name, since the machine's names are not known here; the shared secret
    guards everything but the public form there."""

    bind_host: str

    def allows(self, host_header: str | None) -> bool:
        name = host_name(host_header)
        if name is None:
            return False
        if binds_beyond_loopback(self.bind_host):
            return True
        return is_loopback_name(name) or name == self.bind_host.lower().strip("[]")


@dataclass(frozen=True)
class SigV4:
    access_key: str
    region: str
    service: str
    signed_headers: tuple[str, ...]


def parse_sigv4(authorization: str | None) -> SigV4 | None:
    """The credential scope of a SigV4 Authorization header, or None when it has not its shape."""
    if not authorization:
        return None
    found = _SIGV4.fullmatch(authorization.strip())
    if found is None:
        return None
    signed = tuple(found["signed"].split(";"))
    if "host" not in signed:
        return None
    return SigV4(found["key"], found["region"], found["service"], signed)


def same_origin(origin: str, host_header: str | None, scheme: str = "http") -> bool:
    return bool(host_header) and origin.lower() == f"{scheme}://{host_header}".lower()


def generate_secret() -> str:
    return secrets.token_urlsafe(24)


def secret_matches(offered: str | None, secret: str) -> bool:
    return bool(offered) and hmac.compare_digest(str(offered).encode(), secret.encode())


def banner_lines(bind_host: str, endpoint: str, secret: str | None) -> list[str]:
    """What the banner says about exposure; empty for a loopback-only port. For the banner."""
    if not binds_beyond_loopback(bind_host) or secret is None:
        return []
    return [
        f"  WARNING          --host {bind_host} serves this port to other machines; "
        "only the sign-up form and its API are open without the shared secret",
        f"  shared secret    {secret}",
        f"  simulator        {endpoint}/simulator.html?{SECRET_QUERY}={secret}",
        f"  AWS clients      AWS_ACCESS_KEY_ID={secret} (or header X-Local-Secret: {secret})",
    ]
