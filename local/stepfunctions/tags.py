"""Tags as the Step Functions API takes them: AWS's limits and characters."""

from __future__ import annotations

import re
from typing import Any

from .errors import ApiError

MAX_TAGS = 50  # per resource (Step Functions quotas: "Maximum number of tags")
MAX_KEY = 128
MAX_VALUE = 256
# The model: "Unicode letters, digits, white space, or these symbols: _ . : / = + - @".
_ALLOWED = re.compile(r"^[\w\s.:/=+\-@]*$")


def _invalid(message: str) -> ApiError:
    return ApiError("ValidationException", f"1 validation error detected: {message}")


def check_key(key: object, where: str) -> str:
    if not isinstance(key, str) or not 1 <= len(key) <= MAX_KEY:
        raise _invalid(
            f"Value at '{where}' failed to satisfy constraint: Member must have length "
            f"between 1 and {MAX_KEY}"
        )
    if not _ALLOWED.match(key):
        raise _invalid(
            f"Value at '{where}' failed to satisfy constraint: Member must satisfy regular "
            r"expression pattern: ^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$"
        )
    return key


def check_tags(tags: object) -> dict[str, str]:
    """The `tags` member of TagResource/CreateStateMachine as {key: value}, in order."""
    if not isinstance(tags, list):
        raise _invalid("Value at 'tags' failed to satisfy constraint: Member must be a list")
    out: dict[str, str] = {}
    for i, tag in enumerate(tags, 1):
        if not isinstance(tag, dict):
            raise _invalid(f"Value at 'tags.{i}' failed to satisfy constraint: not a Tag")
        key = check_key(tag.get("key"), f"tags.{i}.member.key")
        value: Any = tag.get("value", "")
        if not isinstance(value, str) or len(value) > MAX_VALUE:
            raise _invalid(
                f"Value at 'tags.{i}.member.value' failed to satisfy constraint: Member must "
                f"have length less than or equal to {MAX_VALUE}"
            )
        if not _ALLOWED.match(value):
            raise _invalid(
                f"Value at 'tags.{i}.member.value' failed to satisfy constraint: Member must "
                r"satisfy regular expression pattern: ^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$"
            )
        out[key] = value
    return out


def check_count(resource_arn: str, tags: dict[str, str]) -> None:
    if len(tags) > MAX_TAGS:
        raise ApiError(
            "TooManyTags",
            f"Too many tags: a resource can have at most {MAX_TAGS} tags",
            resourceName=resource_arn,
        )


def as_list(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"key": k, "value": v} for k, v in tags.items()]
