"""The JSONata query language (QueryLanguage: "JSONata"): `{% expr %}` strings in Arguments,
Output, Assign, Items, ItemSelector, Condition, Seconds, Timestamp, Error, Cause, ...;
`$states.input`, `$states.result`, `$states.errorOutput` and `$states.context`; variables
as `$name`. Step Functions' own JSONata functions ($partition, $range, $hash, $random,
$uuid, $parse) are registered on every expression."""

from __future__ import annotations

import hashlib
import json
import math
import random
import threading
import uuid
from functools import lru_cache
from typing import Any

import jsonata
from jsonata import jexception
from jsonata.utils import Utils

from .. import errors
from ..errors import StatesError
from ..timestamps import parse_timestamp
from .base import MapPlan, QueryLanguage
from .intrinsics import dumps_compact
from .scope import Scope

_UNDEFINED = object()
_local = threading.local()


def _expr(value: Any) -> str | None:
    """The expression inside a `{% ... %}` string, else None (a literal)."""
    if isinstance(value, str):
        s = value
        if s.startswith("{%") and s.endswith("%}") and len(s) >= 4:
            return s[2:-2].strip()
    return None


def _partition(arr: Any, size: Any) -> Any:
    if not isinstance(arr, list) or not isinstance(size, (int, float)) or size <= 0:
        raise StatesError(errors.QUERY_EVALUATION_ERROR, "$partition needs an array and size > 0")
    n = int(size)
    return [arr[i : i + n] for i in range(0, len(arr), n)]


def _range(start: Any, end: Any, step: Any) -> Any:
    s, e, st = int(start), int(end), int(step)
    out = list(range(s, e + (1 if st > 0 else -1), st))
    # JSONata collapses singleton sequences; AWS's $range returns the lone number
    return out[0] if len(out) == 1 else out


def _hash(data: Any, algorithm: Any) -> str:
    names = {"MD5": "md5", "SHA-1": "sha1", "SHA-256": "sha256", "SHA-384": "sha384"}
    names["SHA-512"] = "sha512"
    text = data if isinstance(data, str) else dumps_compact(data)
    return hashlib.new(names[str(algorithm)], text.encode()).hexdigest()


def _random(seed: Any = None) -> float:
    return random.Random(seed).random() if seed is not None else random.random()


def _parse(text: Any) -> Any:
    return json.loads(text)


@lru_cache(maxsize=1024)
def _compile_cached(expr: str, thread: int) -> jsonata.Jsonata:
    compiled = jsonata.Jsonata(expr)
    compiled.set_output_convert_nulls(False)
    compiled.register_lambda("partition", _partition)
    compiled.register_lambda("range", _range)
    compiled.register_lambda("hash", _hash)
    compiled.register_lambda("random", _random)
    compiled.register_lambda("uuid", lambda: str(uuid.uuid4()))
    compiled.register_lambda("parse", _parse)
    return compiled


def _is_function(value: Any) -> bool:
    """Anything that is not JSON (functions, parser nodes) is an unsupported result."""
    if value is None or value is Utils.NULL_VALUE or isinstance(value, (str, int, float)):
        return False
    if isinstance(value, dict):
        return any(_is_function(v) for v in value.values())
    if isinstance(value, list):
        return any(_is_function(v) for v in value)
    return True


def _jtype(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _normalise(value: Any) -> Any:
    """JSONata numbers come back as floats; integral ones are ints in JSON."""
    if isinstance(value, float) and value.is_integer() and math.isfinite(value):
        return int(value)
    if isinstance(value, dict):
        return {k: _normalise(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalise(v) for v in value]
    return value


class JsonataLanguage(QueryLanguage):
    def evaluate(self, expr: str, scope: Scope, field: str, extra: dict[str, Any]) -> Any:
        compiled = _compile_cached(expr, threading.get_ident())
        states = {"input": scope.data, "context": scope.context, **extra}
        bindings = {**scope.variables, "states": states}
        try:
            frame = compiled.create_frame()
            for k, v in bindings.items():
                # a bare None would read as "undefined"; a variable holding null is null
                frame.bind(k, Utils.NULL_VALUE if v is None else v)
            result = compiled.evaluate(None, frame)
        except StatesError:
            raise
        except (jexception.JException, Exception) as e:
            raise StatesError(
                errors.QUERY_EVALUATION_ERROR,
                f"The JSONata expression '{expr}' specified for the field '{field}' threw an "
                f"error during evaluation. {e}",
            ) from e
        if result is None:
            raise StatesError(
                errors.QUERY_EVALUATION_ERROR,
                f"The JSONata expression '{expr}' specified for the field '{field}' returned "
                f"nothing (undefined).",
            )
        if _is_function(result):
            raise StatesError(
                errors.QUERY_EVALUATION_ERROR,
                f"The JSONata expression '{expr}' specified for the field '{field}' returned an "
                f"unsupported result type.",
            )
        return _normalise(Utils.convert_nulls(result))

    def render(self, template: Any, scope: Scope, field: str, extra: dict[str, Any]) -> Any:
        expr = _expr(template)
        if expr is not None:
            return self.evaluate(expr, scope, field, extra)
        if isinstance(template, dict):
            return {k: self.render(v, scope, f"{field}/{k}", extra) for k, v in template.items()}
        if isinstance(template, list):
            return [self.render(v, scope, field, extra) for v in template]
        return template

    def _typed(
        self, state: dict[str, Any], key: str, scope: Scope, extra: dict[str, Any], want: str
    ) -> Any:
        template = state[key]
        value = self.render(template, scope, key, extra)
        expr = _expr(template)
        if expr is not None and _jtype(value) != want:
            raise StatesError(
                errors.QUERY_EVALUATION_ERROR,
                f"The JSONata expression '{expr}' specified for the field '{key}' returned an "
                f"unexpected result type. Expected '{want}', but was '{_jtype(value)}' for value: "
                f"{dumps_compact(value)}",
            )
        return value

    def _output(
        self, holder: dict[str, Any], scope: Scope, default: Any, extra: dict[str, Any]
    ) -> Any:
        if "Output" not in holder:
            return default
        return self.render(holder["Output"], scope, "Output", extra)

    def _assign(self, holder: dict[str, Any], scope: Scope, extra: dict[str, Any]) -> Any:
        if not holder.get("Assign"):
            return None
        return self.render(holder["Assign"], scope, "Assign", extra)

    def pass_state(self, state: dict[str, Any], scope: Scope) -> tuple[Any, Any, Any]:
        out = self._output(state, scope, scope.data, {})
        return out, out, self._assign(state, scope, {})

    def choice_state(self, state: dict[str, Any], scope: Scope) -> tuple[str, Any, Any]:
        for rule in state.get("Choices", []):
            cond = rule.get("Condition")
            value = self.render(cond, scope, "Condition", {})
            if not isinstance(value, bool):
                raise StatesError(
                    errors.QUERY_EVALUATION_ERROR,
                    f"The JSONata expression '{_expr(cond)}' specified for the field 'Condition' "
                    f"returned an unexpected result type. Expected 'boolean', but was "
                    f"'{_jtype(value)}' for value: {dumps_compact(value)}",
                )
            if value:
                out = self._output(rule, scope, scope.data, {})
                return rule["Next"], out, self._assign(rule, scope, {})
        if "Default" not in state:
            raise StatesError(errors.NO_CHOICE_MATCHED, "No Matches!")
        out = self._output(state, scope, scope.data, {})
        return state["Default"], out, self._assign(state, scope, {})

    def wait_state(self, state: dict[str, Any], scope: Scope, now: float) -> tuple[float, Any, Any]:
        if "Seconds" in state:
            seconds = self.render(state["Seconds"], scope, "Seconds", {})
            if not isinstance(seconds, int) or isinstance(seconds, bool) or seconds < 0:
                raise StatesError(
                    errors.QUERY_EVALUATION_ERROR,
                    f"The Seconds field must be a non-negative integer: {dumps_compact(seconds)}",
                )
            due = now + seconds
        elif "Timestamp" in state:
            value = self.render(state["Timestamp"], scope, "Timestamp", {})
            ts = parse_timestamp(value)
            if ts is None:
                shown = value if isinstance(value, str) else dumps_compact(value)
                raise StatesError(
                    errors.QUERY_EVALUATION_ERROR,
                    "The Timestamp field cannot be parsed as an ISO-8601 extended offset "
                    f"date-time format string: {shown}",
                )
            due = ts.timestamp()
        else:
            due = now
        out = self._output(state, scope, scope.data, {})
        return due, out, self._assign(state, scope, {})

    def succeed_state(self, state: dict[str, Any], scope: Scope) -> Any:
        return self._output(state, scope, scope.data, {})

    def fail_state(self, state: dict[str, Any], scope: Scope) -> tuple[str | None, str | None]:
        error = self.render(state["Error"], scope, "Error", {}) if "Error" in state else None
        cause = self.render(state["Cause"], scope, "Cause", {}) if "Cause" in state else None
        return error, cause

    def task_arguments(self, state: dict[str, Any], scope: Scope) -> Any:
        if "Arguments" not in state:
            return scope.data
        return self.render(state["Arguments"], scope, "Arguments", {})

    def task_timeouts(
        self, state: dict[str, Any], scope: Scope
    ) -> tuple[float | None, float | None]:
        out: list[float | None] = []
        for key in ("TimeoutSeconds", "HeartbeatSeconds"):
            if key not in state:
                out.append(None)
                continue
            value = self.render(state[key], scope, key, {})
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
                raise StatesError(
                    errors.QUERY_EVALUATION_ERROR,
                    f"The {key} field must be a positive integer: {dumps_compact(value)}",
                )
            out.append(float(value))
        return out[0], out[1]

    def task_output(self, state: dict[str, Any], scope: Scope, result: Any) -> tuple[Any, Any]:
        extra = {"result": result}
        out = self._output(state, scope, result, extra)
        return out, self._assign(state, scope, extra)

    def catch_output(
        self, catcher: dict[str, Any], scope: Scope, error_output: dict[str, Any]
    ) -> tuple[Any, Any]:
        extra = {"errorOutput": error_output}
        out = self._output(catcher, scope, error_output, extra)
        return out, self._assign(catcher, scope, extra)

    def parallel_input(self, state: dict[str, Any], scope: Scope) -> Any:
        return self.task_arguments(state, scope)

    def map_plan(self, state: dict[str, Any], scope: Scope) -> MapPlan:
        has_items = "Items" in state
        items = self._typed(state, "Items", scope, {}, "array") if has_items else scope.data
        if not isinstance(items, list):
            raise StatesError(
                errors.QUERY_EVALUATION_ERROR,
                f"Map state input must be an array but was: {dumps_compact(items)}",
            )
        max_conc = 0
        if "MaxConcurrency" in state:
            max_conc = int(self.render(state["MaxConcurrency"], scope, "MaxConcurrency", {}))
        count = pct = None
        if "ToleratedFailureCount" in state:
            count = self.render(state["ToleratedFailureCount"], scope, "ToleratedFailureCount", {})
        if "ToleratedFailurePercentage" in state:
            pct = self.render(
                state["ToleratedFailurePercentage"], scope, "ToleratedFailurePercentage", {}
            )
        return MapPlan(items, max_conc, count, pct)

    def map_item_input(self, state: dict[str, Any], scope: Scope, item: Any) -> Any:
        if "ItemSelector" not in state:
            return item
        return self.render(state["ItemSelector"], scope, "ItemSelector", {})


JSONATA = JsonataLanguage()
