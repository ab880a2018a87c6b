from __future__ import annotations

from typing import Any

import pytest

from local.stepfunctions.languages import choice
from local.stepfunctions.languages.scope import Scope

DATA = {"s": "hello", "n": 5, "b": True, "t": "2024-01-02T03:04:05Z", "nil": None, "other": 5}


def check(rule: dict[str, Any]) -> bool:
    return choice.evaluate(rule, Scope(DATA, {}, {"v": 5}))


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ({"Variable": "$.s", "StringEquals": "hello"}, True),
        ({"Variable": "$.s", "StringLessThan": "world"}, True),
        ({"Variable": "$.n", "NumericGreaterThanEquals": 5}, True),
        ({"Variable": "$.n", "NumericEqualsPath": "$.other"}, True),
        ({"Variable": "$.n", "NumericEqualsPath": "$v"}, True),
        ({"Variable": "$.s", "NumericEquals": 5}, False),
        ({"Variable": "$.b", "BooleanEquals": True}, True),
        ({"Variable": "$.t", "TimestampLessThan": "2025-01-01T00:00:00Z"}, True),
        ({"Variable": "$.t", "TimestampEquals": "2024-01-02T04:04:05+01:00"}, True),
        ({"Variable": "$.missing", "IsPresent": False}, True),
        ({"Variable": "$.nil", "IsNull": True}, True),
        ({"Variable": "$.n", "IsNumeric": True}, True),
        ({"Variable": "$.s", "IsString": True}, True),
        ({"Variable": "$.b", "IsBoolean": True}, True),
        ({"Variable": "$.t", "IsTimestamp": True}, True),
        ({"Variable": "$.s", "StringMatches": "h*o"}, True),
        ({"Variable": "$.s", "StringMatches": "h\\*o"}, False),
        (
            {
                "And": [
                    {"Variable": "$.n", "NumericEquals": 5},
                    {"Variable": "$.b", "IsBoolean": True},
                ]
            },
            True,
        ),
        (
            {
                "Or": [
                    {"Variable": "$.n", "NumericEquals": 1},
                    {"Variable": "$.s", "StringEquals": "x"},
                ]
            },
            False,
        ),
        ({"Not": {"Variable": "$.n", "NumericEquals": 1}}, True),
    ],
)
def test_rules(rule: dict[str, Any], expected: bool) -> None:
    assert check(rule) is expected


def test_string_matches_escapes() -> None:
    assert choice.string_matches("a*b", "a\\*b")
    assert not choice.string_matches("axb", "a\\*b")
    assert choice.string_matches("log-2024.txt", "log-*.txt")
