"""A small JSON client for the partner API and the local runtime's routes (standard library:
nothing to configure, and each error becomes a CliError with the API's code and sentence)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

from optin_cli.errors import CliError

TIMEOUT_SECONDS = 15.0


@dataclass(frozen=True)
class Response:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


class ApiError(CliError):
    """The API answered with an error: its status, code and sentence."""

    def __init__(self, status: int, code: str, message: str, retry_after: float | None = None):
        super().__init__(message, code=code)
        self.status = status
        self.retry_after = retry_after


def _error_of(status: int, body: Any) -> tuple[str, str]:
    """(code, message) from the project's two error shapes, {"error": "code", "message"} and
    {"error": {"code", "message"}}, or API Gateway's {"message"}."""
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            return str(error.get("code") or f"http_{status}"), str(error.get("message") or "")
        if isinstance(error, str):
            return error, str(body.get("message") or "")
        if isinstance(body.get("message"), str):
            return f"http_{status}", body["message"]
    return f"http_{status}", f"The server answered HTTP {status}."


@dataclass
class Client:
    base_url: str
    api_key: str | None = None
    timeout: float = TIMEOUT_SECONDS

    def url(self, path: str, query: dict[str, Any] | None = None) -> str:
        query = {k: v for k, v in (query or {}).items() if v is not None}
        return self.base_url.rstrip("/") + path + (f"?{urlencode(query)}" if query else "")

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        query: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        key_required: bool = True,
    ) -> Response:
        sent = {"Accept": "application/json", **(headers or {})}
        if key_required:
            if not self.api_key:
                raise CliError(
                    "Give an API key with --api-key or OPTIN_API_KEY (optin keys create NAME).",
                    code="no_api_key",
                )
            sent["x-api-key"] = self.api_key
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            sent["Content-Type"] = "application/json"
        request = urllib.request.Request(
            self.url(path, query), data=data, headers=sent, method=method
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:
                return Response(answer.status, _json(answer.read()), dict(answer.headers))
        except urllib.error.HTTPError as error:
            payload = _json(error.read())
            code, message = _error_of(error.code, payload)
            retry = error.headers.get("Retry-After") if error.headers else None
            raise ApiError(error.code, code, message, _seconds(retry)) from None
        except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
            reason = getattr(error, "reason", error)
            raise CliError(
                f"No answer from {self.base_url} ({reason}); is the runtime running (make run)?",
                code="unreachable",
            ) from None


def path_part(value: str) -> str:
    return quote(value, safe="")


def _json(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return {"message": raw[:200].decode(errors="replace")}


def _seconds(raw: str | None) -> float | None:
    try:
        return float(raw) if raw else None
    except ValueError:
        return None
