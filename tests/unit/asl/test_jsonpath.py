from __future__ import annotations

import pytest

from local.stepfunctions.errors import PathError
from local.stepfunctions.languages import jsonpath

DATA = {
    "a": {"b": [1, 2, 3], "c": None},
    "items": [{"v": 1, "s": "x"}, {"v": 5, "s": "y"}, {"s": "z"}],
    "odd key": 7,
}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("$", DATA),
        ("$.a.b", [1, 2, 3]),
        ("$.a.b[0]", 1),
        ("$.a.b[-1]", 3),
        ("$.a.c", None),
        ("$['odd key']", 7),
        ("$.a['b'][1]", 2),
        ("$.a.b.length()", 3),
    ],
)
def test_definite_paths(path: str, expected: object) -> None:
    assert jsonpath.evaluate(path, DATA) == expected


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("$.items[*].v", [1, 5]),
        ("$.a.b[1:]", [2, 3]),
        ("$.a.b[:1]", [1]),
        ("$.items[?(@.v > 2)].s", ["y"]),
        ("$.items[?(@.s == 'z')]", [{"s": "z"}]),
        ("$..v", [1, 5]),
        ("$.a.b[0,2]", [1, 3]),
        ("$.nothing[*]", []),
    ],
)
def test_indefinite_paths_return_lists(path: str, expected: object) -> None:
    assert jsonpath.evaluate(path, DATA) == expected


def test_missing_path_raises_with_normalised_path() -> None:
    with pytest.raises(PathError, match=r"No results for path: \$\['a'\]\['x'\]"):
        jsonpath.evaluate("$.a.x", DATA)


def test_assign_creates_objects_and_does_not_mutate() -> None:
    original = {"x": 1}
    out = jsonpath.assign(original, "$.deep.er.path", 2)
    assert out == {"x": 1, "deep": {"er": {"path": 2}}}
    assert original == {"x": 1}
    assert jsonpath.assign(original, "$", 5) == 5


def test_assign_into_non_object_fails() -> None:
    with pytest.raises(PathError):
        jsonpath.assign({"x": 1}, "$.x.y", 2)


def test_variable_root() -> None:
    p = jsonpath.compile_path("$var.a[0]")
    assert p.root == "var"
    assert jsonpath.compile_path("$$.Execution.Id").root == "$$"
