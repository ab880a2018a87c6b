"""Choice rules of JSONPath Choice states: comparisons, Is* tests and And/Or/Not."""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

from ..errors import RUNTIME, PathError, StatesError
from ..timestamps import parse_timestamp
from .jsonpath import JsonPathSyntaxError
from .scope import Scope

_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "Equals": operator.eq,
    "LessThan": operator.lt,
    "GreaterThan": operator.gt,
    "LessThanEquals": operator.le,
    "GreaterThanEquals": operator.ge,
}
_KINDS = ("String", "Numeric", "Boolean", "Timestamp")
COMPARISONS: frozenset[str] = frozenset(
    {f"{k}{op}" for k in _KINDS for op in _OPS if not (k == "Boolean" and op != "Equals")}
    | {f"{k}{op}Path" for k in _KINDS for op in _OPS if not (k == "Boolean" and op != "Equals")}
    | {"StringMatches", "IsNull", "IsPresent", "IsNumeric", "IsString", "IsBoolean"}
    | {"IsTimestamp"}
)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def string_matches(value: str, pattern: str) -> bool:
    """`*` matches any run of characters; `\\*` and `\\\\` are literal."""
    memo: dict[tuple[int, int], bool] = {}
    tokens: list[tuple[str, str]] = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            tokens.append(("lit", pattern[i + 1]))
            i += 2
        elif c == "*":
            tokens.append(("star", "*"))
            i += 1
        else:
            tokens.append(("lit", c))
            i += 1

    def match(ti: int, vi: int) -> bool:
        key = (ti, vi)
        if key in memo:
            return memo[key]
        if ti == len(tokens):
            res = vi == len(value)
        elif tokens[ti][0] == "star":
            res = match(ti + 1, vi) or (vi < len(value) and match(ti, vi + 1))
        else:
            res = vi < len(value) and value[vi] == tokens[ti][1] and match(ti + 1, vi + 1)
        memo[key] = res
        return res

    return match(0, 0)


def _compare(kind: str, op: str, value: Any, expected: Any) -> bool:
    fn = _OPS[op]
    if kind == "String":
        return isinstance(value, str) and isinstance(expected, str) and fn(value, expected)
    if kind == "Numeric":
        return _is_number(value) and _is_number(expected) and fn(value, expected)
    if kind == "Boolean":
        return isinstance(value, bool) and isinstance(expected, bool) and value == expected
    a, b = parse_timestamp(value), parse_timestamp(expected)
    return a is not None and b is not None and fn(a, b)


def evaluate(rule: dict[str, Any], scope: Scope) -> bool:
    if "And" in rule:
        return all(evaluate(r, scope) for r in rule["And"])
    if "Or" in rule:
        return any(evaluate(r, scope) for r in rule["Or"])
    if "Not" in rule:
        return not evaluate(rule["Not"], scope)
    variable = rule.get("Variable")
    op = next((k for k in rule if k in COMPARISONS), None)
    if variable is None or op is None:
        raise StatesError(RUNTIME, f"Invalid Choice rule: {rule}")
    try:
        value = scope.resolve(variable)
        present = True
    except (PathError, JsonPathSyntaxError):
        value, present = None, False
    expected = rule[op]
    if op == "IsPresent":
        return present == bool(expected)
    if not present:
        raise StatesError(
            RUNTIME,
            f"Invalid path '{variable}': The choice state's condition path references "
            f"an invalid value.",
        )
    if op == "IsNull":
        return (value is None) == bool(expected)
    if op == "IsNumeric":
        return _is_number(value) == bool(expected)
    if op == "IsString":
        return isinstance(value, str) == bool(expected)
    if op == "IsBoolean":
        return isinstance(value, bool) == bool(expected)
    if op == "IsTimestamp":
        return (parse_timestamp(value) is not None) == bool(expected)
    if op == "StringMatches":
        return (
            isinstance(value, str) and isinstance(expected, str) and string_matches(value, expected)
        )
    if op.endswith("Path"):
        try:
            expected = scope.resolve(expected)
        except (PathError, JsonPathSyntaxError) as e:
            raise StatesError(
                RUNTIME,
                f"Invalid path '{expected}': The choice state's condition path "
                f"references an invalid value.",
            ) from e
        op = op[: -len("Path")]
    kind = next(k for k in _KINDS if op.startswith(k))
    return _compare(kind, op[len(kind) :], value, expected)
