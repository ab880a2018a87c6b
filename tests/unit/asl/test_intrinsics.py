from __future__ import annotations

from typing import Any

import pytest

from local.stepfunctions.errors import StatesError
from local.stepfunctions.languages import intrinsics
from local.stepfunctions.languages.scope import Scope

SCOPE = Scope(
    {"s": "a,b,,c", "n": 3, "arr": [1, 2, 2, 3], "obj": {"k": [1]}, "f": 1.5},
    {"Execution": {"Id": "arn:x"}},
    {"v": "var"},
)


def ev(expr: str) -> Any:
    return intrinsics.evaluate(expr, SCOPE.resolve)


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("States.Format('x={} y={}', $.n, $.s)", "x=3 y=a,b,,c"),
        ("States.Format('{}', $.obj)", "{k=[1]}"),
        (r"States.Format('esc \{\} {}', $v)", "esc {} var"),
        ("States.StringToJson('{\"a\": 1}')", {"a": 1}),
        ("States.JsonToString($.obj)", '{"k":[1]}'),
        ("States.Array(1, 'two', $.n, null, true)", [1, "two", 3, None, True]),
        ("States.ArrayPartition($.arr, 3)", [[1, 2, 2], [3]]),
        ("States.ArrayContains($.arr, 3)", True),
        ("States.ArrayRange(1, 9, 2)", [1, 3, 5, 7, 9]),
        ("States.ArrayGetItem($.arr, 1)", 2),
        ("States.ArrayLength($.arr)", 4),
        ("States.ArrayUnique($.arr)", [1, 2, 3]),
        ("States.Base64Encode('hi')", "aGk="),
        ("States.Base64Decode('aGk=')", "hi"),
        ("States.Hash('input data', 'MD5')", "812f45842bc6d66ee14572ce20db8e86"),
        ("States.JsonMerge($.obj, States.StringToJson('{\"z\":1}'), false)", {"k": [1], "z": 1}),
        ("States.MathAdd($.f, -1)", 1),
        ("States.StringSplit($.s, ',')", ["a", "b", "c"]),
        ("States.Format('{}', $$.Execution.Id)", "arn:x"),
    ],
)
def test_functions(expr: str, expected: Any) -> None:
    assert ev(expr) == expected


def test_uuid_and_random() -> None:
    assert len(ev("States.UUID()")) == 36
    assert 1 <= ev("States.MathRandom(1, 10)") < 10


def test_bad_calls_are_runtime_errors() -> None:
    with pytest.raises(StatesError) as e:
        ev("States.ArrayGetItem($.arr, 10)")
    assert e.value.error == "States.Runtime"
    with pytest.raises(StatesError):
        ev("States.Nope(1)")
