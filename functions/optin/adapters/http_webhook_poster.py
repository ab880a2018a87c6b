"""POSTs a webhook with urllib3 (pinned in functions/requirements.txt; boto3 depends on it).

SSRF: the host name is resolved here, every address it resolves to is checked
(domain/webhooks.py `refused_address`: private, loopback, link-local including the metadata
service, reserved), and the connection goes to the checked address itself, with the host
name kept for TLS (SNI and certificate check) and the Host header, so a DNS answer that
changes between the check and the connect cannot redirect the request. Redirects are not
followed (a 3xx is a failed attempt). `allow_private` (WebhookAllowPrivateTargets) turns the
address check off, for a developer's receiver on localhost.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from urllib.parse import urlsplit

import urllib3

from optin.domain.webhooks import TIMEOUT_SECONDS, refused_address
from optin.ports.webhooks import PostResult

# Only the status line matters; a partner's long answer is not read into memory.
_MAX_ERROR_TEXT = 200


def _short(error: Exception) -> str:
    return f"{type(error).__name__}: {error}"[:_MAX_ERROR_TEXT]


class HttpWebhookPoster:
    def __init__(self, *, allow_private: bool, timeout: float = TIMEOUT_SECONDS) -> None:
        self._allow_private = allow_private
        self._timeout = timeout

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> PostResult:
        started = time.monotonic()

        def elapsed() -> int:
            return int((time.monotonic() - started) * 1000)

        parts = urlsplit(url)
        host = parts.hostname or ""
        https = parts.scheme == "https"
        port = parts.port or (443 if https else 80)
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as error:
            return PostResult(None, f"DNS: {_short(error)}", elapsed())
        addresses = [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]
        if not addresses:
            return PostResult(None, f"DNS: {host} has no address", elapsed())
        if not self._allow_private:
            for address in addresses:
                reason = refused_address(address)
                if reason:
                    return PostResult(
                        None,
                        f"Refused: {host} resolves to {reason} ({address}); webhooks go to "
                        "public addresses only.",
                        elapsed(),
                        permanent=True,
                    )
        target = str(addresses[0])
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        netloc_host = f"[{host}]" if ":" in host else host
        default_port = port == (443 if https else 80)
        request_headers = {
            **headers,
            "Host": netloc_host if default_port else f"{netloc_host}:{port}",
        }
        timeout = urllib3.Timeout(connect=self._timeout, read=self._timeout)
        pool: urllib3.HTTPConnectionPool
        if https:
            pool = urllib3.HTTPSConnectionPool(
                target,
                port,
                timeout=timeout,
                retries=False,
                server_hostname=host,
                assert_hostname=host,
                cert_reqs="CERT_REQUIRED",
            )
        else:
            pool = urllib3.HTTPConnectionPool(target, port, timeout=timeout, retries=False)
        try:
            with pool:
                response = pool.urlopen(
                    "POST",
                    path,
                    body=body,
                    headers=request_headers,
                    redirect=False,
                    retries=False,
                    preload_content=False,
                    assert_same_host=False,
                )
                status = response.status
                response.release_conn()
        except urllib3.exceptions.HTTPError as error:
            return PostResult(None, _short(error), elapsed())
        except OSError as error:
            return PostResult(None, _short(error), elapsed())
        error_text = None if 200 <= status < 300 else f"HTTP {status}"
        return PostResult(status, error_text, elapsed())
