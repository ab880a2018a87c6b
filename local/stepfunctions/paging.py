"""Pages of a list operation: AWS's nextToken (opaque to the caller; here the offset) and
maxResults (0 to 1000, 0 meaning the default), for every List operation."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .errors import ApiError


def page_token(offset: int) -> str:
    return base64.b64encode(json.dumps({"o": offset}).encode()).decode()


def page_offset(token: Any) -> int:
    if token is None:
        return 0
    try:
        return int(json.loads(base64.b64decode(str(token)))["o"])
    except (ValueError, KeyError, TypeError) as e:
        raise ApiError("InvalidToken", f"Invalid Token: '{token}'") from e


def max_results(req: dict[str, Any], default: int = 100) -> int:
    n = req.get("maxResults") or default
    if not isinstance(n, int) or n < 0 or n > 1000:
        raise ApiError("ValidationException", "maxResults must be between 0 and 1000")
    return n or default


@dataclass(frozen=True)
class Page:
    """The page a List request asks for. Its store query fetches `fetch` rows, one more than
    the page, so `answer` knows whether a next page exists without counting."""

    limit: int
    offset: int

    @property
    def fetch(self) -> int:
        return self.limit + 1

    def next_token(self) -> str:
        return page_token(self.offset + self.limit)

    def answer(
        self, key: str, rows: Sequence[Any], item: Callable[[Any], Any] = lambda row: row
    ) -> dict[str, Any]:
        """`{key: [item(row), ...]}` for the rows of this page, with `nextToken` when `rows`
        (up to `fetch` of them from the offset on) hold more."""
        out: dict[str, Any] = {key: [item(row) for row in rows[: self.limit]]}
        if len(rows) > self.limit:
            out["nextToken"] = self.next_token()
        return out


def requested(req: dict[str, Any], default: int = 100) -> Page:
    return Page(max_results(req, default), page_offset(req.get("nextToken")))
