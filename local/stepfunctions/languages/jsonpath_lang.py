"""JSONPath, the default query language: InputPath/Parameters/ResultSelector/ResultPath/
OutputPath, payload templates and `States.*` intrinsics."""

from __future__ import annotations

from typing import Any

from .. import errors
from ..errors import PathError, StatesError
from ..timestamps import parse_timestamp
from . import choice, payload
from .base import MapPlan, QueryLanguage
from .intrinsics import dumps_compact
from .jsonpath import JsonPathSyntaxError
from .scope import Scope


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


class JsonPathLanguage(QueryLanguage):
    def _effective_input(self, state: dict[str, Any], scope: Scope) -> Any:
        data = payload.input_path(state, scope)
        if "Parameters" in state:
            data = payload.render(state["Parameters"], scope.with_data(data))
        return data

    def _finish(
        self, state: dict[str, Any], scope: Scope, result: Any, assign_source: Any
    ) -> tuple[Any, Any]:
        assign = self._assign(state.get("Assign"), scope.with_data(assign_source))
        combined = payload.result_path(state, scope.data, result)
        out = payload.output_path(state, scope.with_data(combined))
        return out, assign

    def _assign(self, template: Any, scope: Scope) -> Any:
        if not template:
            return None
        return payload.render(template, scope)

    def pass_state(self, state: dict[str, Any], scope: Scope) -> tuple[Any, Any, Any]:
        result = state["Result"] if "Result" in state else self._effective_input(state, scope)
        out, assign = self._finish(state, scope, result, result)
        return result, out, assign

    def choice_state(self, state: dict[str, Any], scope: Scope) -> tuple[str, Any, Any]:
        data = payload.input_path(state, scope)
        inner = scope.with_data(data)
        for rule in state.get("Choices", []):
            if choice.evaluate(rule, inner):
                assign = self._assign(rule.get("Assign"), inner)
                return rule["Next"], payload.output_path(state, inner), assign
        if "Default" not in state:
            raise StatesError(errors.NO_CHOICE_MATCHED, "No Matches!")
        assign = self._assign(state.get("Assign"), inner)
        return state["Default"], payload.output_path(state, inner), assign

    def wait_state(self, state: dict[str, Any], scope: Scope, now: float) -> tuple[float, Any, Any]:
        data = payload.input_path(state, scope)
        inner = scope.with_data(data)
        if "Seconds" in state:
            due = now + float(state["Seconds"])
        elif "Timestamp" in state:
            ts = parse_timestamp(state["Timestamp"])
            if ts is None:
                raise StatesError(errors.RUNTIME, f"Invalid timestamp: {state['Timestamp']}")
            due = ts.timestamp()
        elif "SecondsPath" in state:
            path = state["SecondsPath"]
            value = self._resolve(path, inner)
            if not _is_int(value) and not (isinstance(value, float) and value.is_integer()):
                raise StatesError(
                    errors.RUNTIME,
                    f"The SecondsPath parameter cannot be parsed as a long value: {path} == "
                    f"{dumps_compact(value)}",
                )
            if value < 0:
                raise StatesError(
                    errors.RUNTIME,
                    f"The SecondsPath parameter references a negative value: {path} == {value}",
                )
            due = now + float(value)
        elif "TimestampPath" in state:
            path = state["TimestampPath"]
            value = self._resolve(path, inner)
            ts = parse_timestamp(value)
            if ts is None:
                shown = value if isinstance(value, str) else dumps_compact(value)
                raise StatesError(
                    errors.RUNTIME,
                    "The TimestampPath parameter does not reference a valid ISO-8601 extended "
                    f"offset date-time format string: {path} == {shown}",
                )
            due = ts.timestamp()
        else:
            due = now
        assign = self._assign(state.get("Assign"), inner)
        return due, payload.output_path(state, inner), assign

    def _resolve(self, path: str, scope: Scope) -> Any:
        try:
            return scope.resolve(path)
        except (PathError, JsonPathSyntaxError) as e:
            raise StatesError(errors.RUNTIME, f"Invalid path '{path}' : {e}") from e

    def succeed_state(self, state: dict[str, Any], scope: Scope) -> Any:
        data = payload.input_path(state, scope)
        return payload.output_path(state, scope.with_data(data))

    def fail_state(self, state: dict[str, Any], scope: Scope) -> tuple[str | None, str | None]:
        error = state.get("Error")
        cause = state.get("Cause")
        if "ErrorPath" in state:
            error = self._string_field(state["ErrorPath"], scope, "ErrorPath")
        if "CausePath" in state:
            cause = self._string_field(state["CausePath"], scope, "CausePath")
        return error, cause

    def _string_field(self, expr: str, scope: Scope, field: str) -> str:
        value = payload.evaluate_expression(expr, scope, field)
        if not isinstance(value, str):
            raise StatesError(
                errors.RUNTIME,
                f"The {field} field must reference a string, but references {dumps_compact(value)}",
            )
        return value

    def task_arguments(self, state: dict[str, Any], scope: Scope) -> Any:
        return self._effective_input(state, scope)

    def task_timeouts(
        self, state: dict[str, Any], scope: Scope
    ) -> tuple[float | None, float | None]:
        data = payload.input_path(state, scope)
        inner = scope.with_data(data)
        return (
            self._seconds(state, "TimeoutSeconds", inner),
            self._seconds(state, "HeartbeatSeconds", inner),
        )

    def _seconds(self, state: dict[str, Any], name: str, scope: Scope) -> float | None:
        if name in state:
            return float(state[name])
        path = state.get(f"{name}Path")
        if path is None:
            return None
        value = self._resolve(path, scope)
        if not _is_int(value) or value <= 0:
            raise StatesError(
                errors.RUNTIME,
                f"The {name}Path parameter must reference a positive integer: {path} == "
                f"{dumps_compact(value)}",
            )
        return float(value)

    def task_output(self, state: dict[str, Any], scope: Scope, result: Any) -> tuple[Any, Any]:
        if "ResultSelector" in state:
            result = payload.render(state["ResultSelector"], scope.with_data(result))
        return self._finish(state, scope, result, result)

    def catch_output(
        self, catcher: dict[str, Any], scope: Scope, error_output: dict[str, Any]
    ) -> tuple[Any, Any]:
        assign = self._assign(catcher.get("Assign"), scope.with_data(error_output))
        path = catcher.get("ResultPath", "$")
        return payload.apply_result_path(path, scope.data, error_output), assign

    def parallel_input(self, state: dict[str, Any], scope: Scope) -> Any:
        return self._effective_input(state, scope)

    def map_plan(self, state: dict[str, Any], scope: Scope) -> MapPlan:
        data = payload.input_path(state, scope)
        inner = scope.with_data(data)
        items_path = state.get("ItemsPath", "$")
        items = self._resolve(items_path, inner)
        if not isinstance(items, list):
            raise StatesError(
                errors.RUNTIME,
                f"Map state input must be an array but was: {dumps_compact(items)}",
            )
        max_conc: Any = state.get("MaxConcurrency", 0)
        if "MaxConcurrencyPath" in state:
            path = state["MaxConcurrencyPath"]
            raw = self._resolve(path, inner)
            max_conc = parse_int(raw)
            if max_conc is None or max_conc < 0:
                shown = raw if isinstance(raw, str) else dumps_compact(raw)
                raise StatesError(
                    errors.RUNTIME,
                    f'The MaxConcurrencyPath field refers to value "{shown}" which is not a '
                    f"valid integer: {path}",
                )
        count = state.get("ToleratedFailureCount")
        if "ToleratedFailureCountPath" in state:
            count = self._resolve(state["ToleratedFailureCountPath"], inner)
        pct = state.get("ToleratedFailurePercentage")
        if "ToleratedFailurePercentagePath" in state:
            pct = self._resolve(state["ToleratedFailurePercentagePath"], inner)
        return MapPlan(items, int(max_conc or 0), count, pct)

    def map_item_input(self, state: dict[str, Any], scope: Scope, item: Any) -> Any:
        template = state.get("ItemSelector", state.get("Parameters"))
        if template is None:
            return item
        data = payload.input_path(state, scope)
        return payload.render(template, scope.with_data(data))


def parse_int(raw: Any) -> int | None:
    """A whole number given as a number or a numeric string (a `*Path` field's value); None
    otherwise."""
    if _is_int(raw):
        return int(raw)
    if isinstance(raw, float) and raw.is_integer():
        return int(raw)
    if isinstance(raw, str):
        try:
            return int(raw.strip())
        except ValueError:
            return None
    return None


JSONPATH = JsonPathLanguage()
