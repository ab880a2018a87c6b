"""Pages of a list operation: AWS's nextToken (opaque to the caller; here the offset) and
maxResults (0 to 1000, 0 meaning the default), for every List operation."""

from __future__ import annotations

import base64
import json
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
