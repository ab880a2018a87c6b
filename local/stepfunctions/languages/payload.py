"""Input and output processing of JSONPath states: InputPath, Parameters, ResultSelector,
ResultPath, OutputPath and payload templates with `.$` keys."""

from __future__ import annotations

from typing import Any

from ..errors import RUNTIME, PathError, StatesError
from . import intrinsics, jsonpath
from .intrinsics import dumps_compact
from .scope import Scope


def _invalid_path(path: str, e: Exception) -> StatesError:
    return StatesError(RUNTIME, f"Invalid path '{path}' : {e}")


def select(path: str | None, scope: Scope, *, missing_key: bool) -> Any:
    """InputPath / OutputPath: null selects {}, absent selects everything."""
    if not missing_key and path is None:
        return {}
    if path is None:
        return scope.data
    try:
        return scope.resolve(path)
    except PathError as e:
        raise _invalid_path(path, e) from e
    except jsonpath.JsonPathSyntaxError as e:
        raise _invalid_path(path, e) from e


def input_path(state: dict[str, Any], scope: Scope) -> Any:
    return select(state.get("InputPath", "$"), scope, missing_key="InputPath" not in state)


def output_path(state: dict[str, Any], scope: Scope) -> Any:
    return select(state.get("OutputPath", "$"), scope, missing_key="OutputPath" not in state)


def evaluate_expression(expr: str, scope: Scope, field: str) -> Any:
    """The value of a `.$` field: a path ($, $$, $var) or an intrinsic function call."""
    if intrinsics.looks_like_intrinsic(expr):
        return intrinsics.evaluate(expr, lambda p: _resolve_arg(p, scope, field))
    if isinstance(expr, str) and expr.startswith("$"):
        return _resolve_arg(expr, scope, field)
    raise StatesError(
        RUNTIME,
        f"The value for the field '{field}' must be a valid JSONPath or a valid intrinsic "
        f"function call",
    )


def _resolve_arg(path: str, scope: Scope, field: str) -> Any:
    try:
        return scope.resolve(path)
    except (PathError, jsonpath.JsonPathSyntaxError) as e:
        where = scope.context if path.startswith("$$") else scope.data
        raise StatesError(
            RUNTIME,
            f"The JSONPath '{path}' specified for the field '{field}' could not be found "
            f"in the input '{dumps_compact(where)}'",
        ) from e


def render(template: Any, scope: Scope) -> Any:
    """A payload template with `key.$` fields replaced by what their expressions select."""
    if isinstance(template, dict):
        out: dict[str, Any] = {}
        for k, v in template.items():
            if k.endswith(".$") and isinstance(v, str):
                out[k[:-2]] = evaluate_expression(v, scope, k)
            else:
                out[k] = render(v, scope)
        return out
    if isinstance(template, list):
        return [render(v, scope) for v in template]
    return template


def result_path(state: dict[str, Any], raw_input: Any, result: Any) -> Any:
    """Combine the state's input and its result as ResultPath says (null keeps the input)."""
    if "ResultPath" not in state:
        return result
    path = state["ResultPath"]
    return apply_result_path(path, raw_input, result)


def apply_result_path(path: str | None, raw_input: Any, result: Any) -> Any:
    if path is None:
        return raw_input
    try:
        return jsonpath.assign(raw_input, path, result)
    except (PathError, jsonpath.JsonPathSyntaxError) as e:
        raise StatesError(
            RUNTIME,
            f"Unable to apply ResultPath '{path}' to input '{dumps_compact(raw_input)}'",
        ) from e
