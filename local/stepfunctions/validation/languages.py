"""The engine's parsers the checks need, imported in one place: the engine's languages are
moving into a package of their own, and only this module has to follow them."""

from __future__ import annotations

import jsonata
from jsonata import jexception

from ..languages.choice import COMPARISONS
from ..languages.intrinsics import (
    FUNCTIONS,
    Call,
    IntrinsicSyntaxError,
    PathArg,
    looks_like_intrinsic,
)
from ..languages.intrinsics import parse as parse_intrinsic
from ..languages.jsonpath import JsonPathSyntaxError, compile_path
from ..timestamps import parse_timestamp

__all__ = [
    "COMPARISONS",
    "intrinsic_problem",
    "is_timestamp",
    "jsonata_expression",
    "jsonata_problem",
    "jsonpath_problem",
    "looks_like_intrinsic",
    "reference_path_problem",
]


def jsonpath_problem(text: str) -> str | None:
    """None when `text` is a JSONPath the engine evaluates, else why not."""
    try:
        compile_path(text)
    except (JsonPathSyntaxError, ValueError) as e:
        return str(e) or "invalid JSONPath"
    return None


def reference_path_problem(text: str) -> str | None:
    """A Reference Path: a JSONPath that names one node (no wildcard, filter or slice)."""
    try:
        path = compile_path(text)
    except (JsonPathSyntaxError, ValueError) as e:
        return str(e) or "invalid JSONPath"
    return None if path.definite else "not a Reference Path"


def intrinsic_problem(text: str) -> str | None:
    try:
        call = parse_intrinsic(text)
    except (IntrinsicSyntaxError, ValueError, IndexError) as e:
        return str(e) or "invalid intrinsic function call"
    return _call_problem(call)


def _call_problem(call: Call) -> str | None:
    """An unknown function or a path argument that does not parse, nested calls included."""
    if call.name not in FUNCTIONS:
        return f"unknown intrinsic function {call.name}"
    for arg in call.args:
        problem = (
            _call_problem(arg)
            if isinstance(arg, Call)
            else jsonpath_problem(arg.path)
            if isinstance(arg, PathArg)
            else None
        )
        if problem:
            return problem
    return None


def jsonata_expression(value: object) -> str | None:
    """The expression inside a `{% ... %}` string, else None."""
    if isinstance(value, str):
        s = value.strip()
        if s.startswith("{%") and s.endswith("%}") and len(s) >= 4:
            return s[2:-2].strip()
    return None


def jsonata_problem(expression: str) -> str | None:
    try:
        jsonata.Jsonata(expression)
    except jexception.JException as e:
        return str(e)
    except Exception as e:  # the parser raises plain errors on some inputs
        return f"{type(e).__name__}: {e}"
    return None


def is_timestamp(text: str) -> bool:
    return parse_timestamp(text) is not None
