"""Intrinsic functions (States.Format, States.Array, ...): parser and evaluator."""

from __future__ import annotations

import base64
import hashlib
import json
import math
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from ..errors import RUNTIME, PathError, StatesError

Resolver = Callable[[str], Any]  # evaluates a path argument ($..., $$..., $var...)


@dataclass(frozen=True)
class Call:
    name: str
    args: tuple[Any, ...]


@dataclass(frozen=True)
class PathArg:
    path: str


@dataclass(frozen=True)
class Literal:
    value: Any


class IntrinsicSyntaxError(ValueError):
    pass


def looks_like_intrinsic(text: str) -> bool:
    return isinstance(text, str) and text.startswith("States.") and text.rstrip().endswith(")")


@lru_cache(maxsize=2048)
def parse(text: str) -> Call:
    call, pos = _parse_call(text, 0)
    if text[pos:].strip():
        raise IntrinsicSyntaxError(text)
    return call


def _skip_ws(text: str, pos: int) -> int:
    while pos < len(text) and text[pos].isspace():
        pos += 1
    return pos


def _parse_call(text: str, pos: int) -> tuple[Call, int]:
    open_ = text.find("(", pos)
    if open_ < 0:
        raise IntrinsicSyntaxError(text)
    name = text[pos:open_].strip()
    pos = _skip_ws(text, open_ + 1)
    args: list[Any] = []
    if pos < len(text) and text[pos] == ")":
        return Call(name, ()), pos + 1
    while True:
        arg, pos = _parse_arg(text, pos)
        args.append(arg)
        pos = _skip_ws(text, pos)
        if pos >= len(text):
            raise IntrinsicSyntaxError(text)
        if text[pos] == ",":
            pos = _skip_ws(text, pos + 1)
            continue
        if text[pos] == ")":
            return Call(name, tuple(args)), pos + 1
        raise IntrinsicSyntaxError(text)


def _parse_arg(text: str, pos: int) -> tuple[Any, int]:
    c = text[pos]
    if c == "'":
        out: list[str] = []
        pos += 1
        while pos < len(text):
            ch = text[pos]
            if ch == "\\" and pos + 1 < len(text):
                # \{ and \} stay escaped: they only mean something to States.Format
                nxt = text[pos + 1]
                out.append("\\" + nxt if nxt in "{}" else nxt)
                pos += 2
                continue
            if ch == "'":
                return Literal("".join(out)), pos + 1
            out.append(ch)
            pos += 1
        raise IntrinsicSyntaxError(text)
    if c == "$":
        depth, i = 0, pos
        quote: str | None = None
        while i < len(text):
            ch = text[i]
            if quote:
                if ch == quote:
                    quote = None
            elif ch in "'\"" and depth > 0:
                quote = ch
            elif ch in "[(":
                depth += 1
            elif ch in "])":
                if depth == 0:
                    break
                depth -= 1
            elif ch == "," and depth == 0:
                break
            i += 1
        return PathArg(text[pos:i].strip()), i
    if text.startswith("States.", pos):
        return _parse_call(text, pos)
    end = pos
    while end < len(text) and text[end] not in ",)":
        end += 1
    token = text[pos:end].strip()
    if token == "true":
        return Literal(True), end
    if token == "false":
        return Literal(False), end
    if token == "null":
        return Literal(None), end
    try:
        num = float(token) if any(x in token for x in ".eE") else int(token)
    except ValueError as e:
        raise IntrinsicSyntaxError(text) from e
    return Literal(num), end


def evaluate(text: str, resolve: Resolver) -> Any:
    try:
        call = parse(text)
    except (IntrinsicSyntaxError, IndexError) as e:
        raise StatesError(RUNTIME, f"Invalid intrinsic function call: {text}") from e
    return _eval(call, resolve)


def _eval(node: Any, resolve: Resolver) -> Any:
    if isinstance(node, Literal):
        return node.value
    if isinstance(node, PathArg):
        return resolve(node.path)
    fn = FUNCTIONS.get(node.name)
    if fn is None:
        raise StatesError(RUNTIME, f"Unknown intrinsic function: {node.name}")
    args = [_eval(a, resolve) for a in node.args]
    try:
        return fn(*args)
    except StatesError:
        raise
    except PathError:
        raise
    except Exception as e:
        raise StatesError(RUNTIME, f"{node.name} failed: {e}") from e


def _fail(msg: str) -> StatesError:
    return StatesError(RUNTIME, msg)


def java_str(v: Any) -> str:
    """How AWS (Java) renders a value inside States.Format: maps as {k=v}, lists as [a, b]."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return v
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}={java_str(x)}" for k, x in v.items()) + "}"
    if isinstance(v, list):
        return "[" + ", ".join(java_str(x) for x in v) + "]"
    return str(v)


def _format(template: Any, *args: Any) -> str:
    if not isinstance(template, str):
        raise _fail("States.Format's first argument must be a string")
    out: list[str] = []
    i = 0
    k = 0
    while i < len(template):
        ch = template[i]
        if ch == "\\" and i + 1 < len(template):
            out.append(template[i + 1])
            i += 2
            continue
        if template.startswith("{}", i):
            if k >= len(args):
                raise _fail("Number of arguments in States.Format does not match template")
            out.append(java_str(args[k]))
            k += 1
            i += 2
            continue
        out.append(ch)
        i += 1
    if k != len(args):
        raise _fail("Number of arguments in States.Format does not match template")
    return "".join(out)


def _string_to_json(s: Any) -> Any:
    if not isinstance(s, str):
        raise _fail("States.StringToJson needs a string")
    if not s.strip():
        return None
    return json.loads(s)


def dumps_compact(v: Any) -> str:
    return json.dumps(v, separators=(",", ":"), ensure_ascii=False)


def _is_int(v: Any) -> bool:
    return (isinstance(v, int) and not isinstance(v, bool)) or (
        isinstance(v, float) and v.is_integer()
    )


def _partition(arr: Any, size: Any) -> list[Any]:
    if not isinstance(arr, list) or not _is_int(size) or size <= 0:
        raise _fail("States.ArrayPartition needs an array and a positive integer")
    n = int(size)
    return [arr[i : i + n] for i in range(0, len(arr), n)]


def _range(start: Any, end: Any, step: Any) -> list[int]:
    if not (_is_int(start) and _is_int(end) and _is_int(step)) or step == 0:
        raise _fail("States.ArrayRange needs integer arguments and a non-zero step")
    s, e, st = int(start), int(end), int(step)
    out = list(range(s, e + (1 if st > 0 else -1), st))
    if len(out) > 1000:
        raise _fail("States.ArrayRange produces more than 1000 items")
    return out


def _get_item(arr: Any, idx: Any) -> Any:
    if not isinstance(arr, list) or not _is_int(idx):
        raise _fail("States.ArrayGetItem needs an array and an integer index")
    i = int(idx)
    if not 0 <= i < len(arr):
        raise _fail(f"Index {i} out of bounds for length {len(arr)}")
    return arr[i]


def _unique(arr: Any) -> list[Any]:
    if not isinstance(arr, list):
        raise _fail("States.ArrayUnique needs an array")
    seen: list[Any] = []
    for x in arr:
        if not any(_json_equal(x, y) for y in seen):
            seen.append(x)
    return seen


def _json_equal(a: Any, b: Any) -> bool:
    if isinstance(a, bool) != isinstance(b, bool):
        return False
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_json_equal(x, y) for x, y in zip(a, b, strict=True))
    return (type(a) is type(b) and a == b) or (_num(a) and _num(b) and a == b)


def _num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _contains(arr: Any, v: Any) -> bool:
    if not isinstance(arr, list):
        raise _fail("States.ArrayContains needs an array")
    return any(_json_equal(x, v) for x in arr)


def _b64encode(s: Any) -> str:
    if not isinstance(s, str):
        raise _fail("States.Base64Encode needs a string")
    if len(s) > 10000:
        raise _fail("States.Base64Encode input exceeds 10000 characters")
    return base64.b64encode(s.encode()).decode()


def _b64decode(s: Any) -> str:
    if not isinstance(s, str):
        raise _fail("States.Base64Decode needs a string")
    return base64.b64decode(s.encode()).decode()


_HASHES = {"MD5": "md5", "SHA-1": "sha1", "SHA-256": "sha256", "SHA-384": "sha384"}
_HASHES["SHA-512"] = "sha512"


def _hash(data: Any, algorithm: Any) -> str:
    if algorithm not in _HASHES:
        raise _fail(f"Unsupported hash algorithm: {algorithm}")
    text = data if isinstance(data, str) else dumps_compact(data)
    return hashlib.new(_HASHES[algorithm], text.encode()).hexdigest()


def _merge(a: Any, b: Any, deep: Any) -> dict[str, Any]:
    if not isinstance(a, dict) or not isinstance(b, dict):
        raise _fail("States.JsonMerge needs two objects")
    if deep is not False:
        raise _fail("States.JsonMerge supports only shallow merges (false)")
    return {**a, **b}


def java_round(x: float) -> int:
    """Java's Math.round: halves go up (towards positive infinity)."""
    return math.floor(x + 0.5)


def _math_add(a: Any, b: Any) -> int:
    if not (_num(a) and _num(b)):
        raise _fail("States.MathAdd needs numbers")
    return java_round(a) + java_round(b)


def _math_random(start: Any, end: Any, seed: Any = None) -> int:
    if not (_num(start) and _num(end)):
        raise _fail("States.MathRandom needs numbers")
    rng = random.Random(seed) if seed is not None else random
    return rng.randrange(int(start), int(end)) if int(end) > int(start) else int(start)


def _split(s: Any, delims: Any) -> list[str]:
    if not isinstance(s, str) or not isinstance(delims, str):
        raise _fail("States.StringSplit needs two strings")
    parts = [s]
    for d in delims:
        parts = [p for part in parts for p in part.split(d)]
    return [p for p in parts if p]


def _array_length(arr: Any) -> int:
    if not isinstance(arr, list):
        raise _fail("States.ArrayLength needs an array")
    return len(arr)


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "States.Format": _format,
    "States.StringToJson": _string_to_json,
    "States.JsonToString": dumps_compact,
    "States.Array": lambda *a: list(a),
    "States.ArrayPartition": _partition,
    "States.ArrayContains": _contains,
    "States.ArrayRange": _range,
    "States.ArrayGetItem": _get_item,
    "States.ArrayLength": _array_length,
    "States.ArrayUnique": _unique,
    "States.Base64Encode": _b64encode,
    "States.Base64Decode": _b64decode,
    "States.Hash": _hash,
    "States.JsonMerge": _merge,
    "States.MathRandom": _math_random,
    "States.MathAdd": _math_add,
    "States.StringSplit": _split,
    "States.UUID": lambda: str(uuid.uuid4()),
}
