"""JSONPath as Step Functions evaluates it (Jayway semantics).

Paths start at `$` (the data), `$$` (the context object) or `$name` (a variable).
A *definite* path (only names and indices) yields one value or raises PathError; an
*indefinite* one (wildcards, slices, filters, deep scan, unions) yields a list.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from ..errors import PathError

_MISSING = object()


@dataclass(frozen=True)
class Seg:
    kind: str  # name | index | wildcard | slice | union | filter | deep | length
    value: Any = None


@dataclass(frozen=True)
class CompiledPath:
    text: str
    root: str  # "$", "$$" or a variable name
    segments: tuple[Seg, ...] = field(default_factory=tuple)

    @property
    def definite(self) -> bool:
        return all(s.kind in ("name", "index", "length") for s in self.segments)


class JsonPathSyntaxError(ValueError):
    pass


_NAME_RE = re.compile(r"[^.\[\]()\s]+")
_VAR_RE = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")


@lru_cache(maxsize=4096)
def compile_path(text: str) -> CompiledPath:
    if not isinstance(text, str) or not text.startswith("$"):
        raise JsonPathSyntaxError(f"not a path: {text!r}")
    if text.startswith("$$"):
        root, pos = "$$", 2
    elif len(text) > 1 and (m := _VAR_RE.match(text)):
        root, pos = m.group(1), m.end()
    else:
        root, pos = "$", 1
    segs: list[Seg] = []
    n = len(text)
    while pos < n:
        c = text[pos]
        if text.startswith("..", pos):
            pos += 2
            if pos < n and text[pos] == "*":
                segs.append(Seg("deep", None))
                pos += 1
            elif pos < n and text[pos] == "[":
                segs.append(Seg("deep", None))
            else:
                m = _NAME_RE.match(text, pos)
                if not m:
                    raise JsonPathSyntaxError(text)
                segs.append(Seg("deep", m.group(0)))
                pos = m.end()
        elif c == ".":
            pos += 1
            if pos < n and text[pos] == "*":
                segs.append(Seg("wildcard"))
                pos += 1
                continue
            m = _NAME_RE.match(text, pos)
            if not m:
                raise JsonPathSyntaxError(text)
            name = m.group(0)
            pos = m.end()
            if name == "length" and text.startswith("()", pos):
                segs.append(Seg("length"))
                pos += 2
            else:
                segs.append(Seg("name", name))
        elif c == "[":
            seg, pos = _parse_bracket(text, pos + 1)
            segs.append(seg)
        elif c.isspace():
            pos += 1
        else:
            raise JsonPathSyntaxError(text)
    return CompiledPath(text, root, tuple(segs))


def _parse_quoted(text: str, pos: int) -> tuple[str, int]:
    quote = text[pos]
    pos += 1
    out = []
    while pos < len(text):
        c = text[pos]
        # Jayway only unescapes the quote itself and backslashes; other backslashes are literal
        if c == "\\" and pos + 1 < len(text) and text[pos + 1] in (quote, "\\"):
            out.append(text[pos + 1])
            pos += 2
            continue
        if c == quote:
            return "".join(out), pos + 1
        out.append(c)
        pos += 1
    raise JsonPathSyntaxError(text)


def _parse_bracket(text: str, pos: int) -> tuple[Seg, int]:
    end_err = JsonPathSyntaxError(text)
    while pos < len(text) and text[pos].isspace():
        pos += 1
    if pos >= len(text):
        raise end_err
    c = text[pos]
    if c == "?":
        depth, i = 0, pos + 1
        in_q: str | None = None
        while i < len(text):
            ch = text[i]
            if in_q:
                if ch == "\\":
                    i += 1
                elif ch == in_q:
                    in_q = None
            elif ch in "'\"":
                in_q = ch
            elif ch == "(":
                depth += 1
            elif ch == ")":
                depth -= 1
                if depth == 0:
                    break
            i += 1
        expr = text[pos + 2 : i] if text[pos + 1] == "(" else text[pos + 1 : i]
        j = i + 1
        while j < len(text) and text[j].isspace():
            j += 1
        if j >= len(text) or text[j] != "]":
            raise end_err
        return Seg("filter", _parse_filter(expr)), j + 1
    if c == "*":
        close = text.index("]", pos)
        return Seg("wildcard"), close + 1
    if c in "'\"":
        names = []
        while True:
            name, pos = _parse_quoted(text, pos)
            names.append(name)
            while pos < len(text) and text[pos].isspace():
                pos += 1
            if pos < len(text) and text[pos] == ",":
                pos += 1
                while text[pos].isspace():
                    pos += 1
                continue
            if pos < len(text) and text[pos] == "]":
                pos += 1
                break
            raise end_err
        if len(names) == 1:
            return Seg("name", names[0]), pos
        return Seg("union", tuple(names)), pos
    close = text.find("]", pos)
    if close < 0:
        raise end_err
    body = text[pos:close].strip()
    try:
        if ":" in body:
            parts = [p.strip() for p in body.split(":")]
            nums = tuple(int(p) if p else None for p in parts)
            return Seg("slice", nums), close + 1
        if "," in body:
            return Seg("union", tuple(int(p) for p in body.split(","))), close + 1
        return Seg("index", int(body)), close + 1
    except ValueError as e:
        raise JsonPathSyntaxError(text) from e


# ---- filter expressions: a tiny recursive-descent parser over tokens ----

_FTOK = re.compile(
    r"\s*(?:(?P<num>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)|(?P<str>'(?:\\.|[^'])*'|\"(?:\\.|[^\"])*\")"
    r"|(?P<op>==|!=|<=|>=|=~|&&|\|\||[<>!()])|(?P<path>[@$][^\s=!<>&|()]*)"
    r"|(?P<word>true|false|null)|(?P<re>/(?:\\.|[^/])*/[a-z]*))"
)


def _tokenize_filter(expr: str) -> list[tuple[str, str]]:
    toks = []
    pos = 0
    while pos < len(expr):
        if expr[pos:].strip() == "":
            break
        m = _FTOK.match(expr, pos)
        if not m or m.end() == pos:
            raise JsonPathSyntaxError(expr)
        kind = m.lastgroup or ""
        toks.append((kind, m.group(kind)))
        pos = m.end()
    return toks


def _parse_filter(expr: str) -> Any:
    toks = _tokenize_filter(expr)
    pos = 0

    def peek() -> tuple[str, str] | None:
        return toks[pos] if pos < len(toks) else None

    def take() -> tuple[str, str]:
        nonlocal pos
        t = toks[pos]
        pos += 1
        return t

    def parse_or() -> Any:
        left = parse_and()
        while (t := peek()) and t == ("op", "||"):
            take()
            left = ("or", left, parse_and())
        return left

    def parse_and() -> Any:
        left = parse_unary()
        while (t := peek()) and t == ("op", "&&"):
            take()
            left = ("and", left, parse_unary())
        return left

    def parse_unary() -> Any:
        t = peek()
        if t == ("op", "!"):
            take()
            return ("not", parse_unary())
        if t == ("op", "("):
            take()
            inner = parse_or()
            take()
            return inner
        left = parse_operand()
        t = peek()
        if t and t[0] == "op" and t[1] in ("==", "!=", "<", "<=", ">", ">=", "=~"):
            take()
            return ("cmp", t[1], left, parse_operand())
        return ("exists", left)

    def parse_operand() -> Any:
        kind, val = take()
        if kind == "num":
            return ("lit", float(val) if any(ch in val for ch in ".eE") else int(val))
        if kind == "str":
            return ("lit", _unquote(val))
        if kind == "word":
            return ("lit", {"true": True, "false": False, "null": None}[val])
        if kind == "re":
            body, _, flags = val[1:].rpartition("/")
            return ("re", re.compile(body, re.IGNORECASE if "i" in flags else 0))
        if kind == "path":
            return ("path", val)
        raise JsonPathSyntaxError(expr)

    result = parse_or()
    if pos != len(toks):
        raise JsonPathSyntaxError(expr)
    return result


def _unquote(s: str) -> str:
    body = s[1:-1]
    return re.sub(r"\\(.)", r"\1", body)


def _eval_filter(node: Any, item: Any, root: Any) -> Any:
    op = node[0]
    if op == "or":
        return _truthy(_eval_filter(node[1], item, root)) or _truthy(
            _eval_filter(node[2], item, root)
        )
    if op == "and":
        return _truthy(_eval_filter(node[1], item, root)) and _truthy(
            _eval_filter(node[2], item, root)
        )
    if op == "not":
        return not _truthy(_eval_filter(node[1], item, root))
    if op == "exists":
        return _operand(node[1], item, root) is not _MISSING
    if op == "cmp":
        a = _operand(node[2], item, root)
        b = _operand(node[3], item, root)
        if a is _MISSING or b is _MISSING:
            return False
        return _compare(node[1], a, b)
    raise JsonPathSyntaxError(str(node))


def _truthy(v: Any) -> bool:
    return v is not _MISSING and bool(v)


def _operand(node: Any, item: Any, root: Any) -> Any:
    if node[0] == "lit" or node[0] == "re":
        return node[1]
    text = node[1]
    base = item if text.startswith("@") else root
    p = compile_path("$" + text[1:])
    found = _walk(p.segments, base, root)
    if not found:
        return _MISSING
    return found[0] if p.definite else found


def _compare(op: str, a: Any, b: Any) -> bool:
    if op == "=~":
        return isinstance(a, str) and isinstance(b, re.Pattern) and bool(b.fullmatch(a))
    if op == "==":
        return _same(a, b)
    if op == "!=":
        return not _same(a, b)
    num = (int, float)
    ok = (
        isinstance(a, num)
        and isinstance(b, num)
        and not isinstance(a, bool)
        and not isinstance(b, bool)
    ) or (isinstance(a, str) and isinstance(b, str))
    if not ok:
        return False
    return bool({"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op])


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) != isinstance(b, bool):
        return False
    return bool(a == b)


# ---- evaluation ----


def _walk(segs: tuple[Seg, ...], value: Any, root: Any) -> list[Any]:
    current = [value]
    for seg in segs:
        nxt: list[Any] = []
        for v in current:
            _apply(seg, v, root, nxt)
        current = nxt
    return current


def _apply(seg: Seg, v: Any, root: Any, out: list[Any]) -> None:
    k = seg.kind
    if k == "name":
        if isinstance(v, dict) and seg.value in v:
            out.append(v[seg.value])
    elif k == "index":
        if isinstance(v, list):
            i = seg.value
            if -len(v) <= i < len(v):
                out.append(v[i])
    elif k == "wildcard":
        if isinstance(v, dict):
            out.extend(v.values())
        elif isinstance(v, list):
            out.extend(v)
    elif k == "slice":
        if isinstance(v, list):
            start, stop, *rest = seg.value
            step = rest[0] if rest and rest[0] else None
            out.extend(v[slice(start, stop, step)])
    elif k == "union":
        for key in seg.value:
            in_list = isinstance(key, int) and isinstance(v, list) and -len(v) <= key < len(v)
            if in_list or (isinstance(key, str) and isinstance(v, dict) and key in v):
                out.append(v[key])
    elif k == "filter":
        items = v if isinstance(v, list) else list(v.values()) if isinstance(v, dict) else []
        out.extend(it for it in items if _truthy(_eval_filter(seg.value, it, root)))
    elif k == "deep":
        _deep(seg.value, v, out)
    elif k == "length" and isinstance(v, (list, dict, str)):
        out.append(len(v))


def _deep(name: str | None, v: Any, out: list[Any]) -> None:
    if isinstance(v, dict):
        if name is None:
            out.extend(v.values())
        elif name in v:
            out.append(v[name])
        for child in v.values():
            _deep(name, child, out)
    elif isinstance(v, list):
        if name is None:
            out.extend(v)
        for child in v:
            _deep(name, child, out)


def normalized(path: CompiledPath) -> str:
    """Jayway's normalised form, used in AWS's error texts: $['a']['b'][0]."""
    parts = ["$"]
    for s in path.segments:
        if s.kind == "name":
            parts.append(f"['{s.value}']")
        elif s.kind == "index":
            parts.append(f"[{s.value}]")
        elif s.kind == "length":
            parts.append(".length()")
        else:
            parts.append("[*]")
    return "".join(parts)


def evaluate(path: str | CompiledPath, data: Any) -> Any:
    """Value(s) a path selects in data (the path's root is data). Raises PathError."""
    p = compile_path(path) if isinstance(path, str) else path
    found = _walk(p.segments, data, data)
    if p.definite:
        if not found:
            raise PathError(f"No results for path: {normalized(p)}")
        return found[0]
    return found


def exists(path: str, data: Any) -> bool:
    try:
        evaluate(path, data)
    except PathError:
        return False
    return True


def assign(data: Any, path: str, value: Any) -> Any:
    """Data with value written at a reference path (ResultPath); creates missing objects."""
    p = compile_path(path)
    if p.root != "$" or not all(s.kind in ("name", "index") for s in p.segments):
        raise JsonPathSyntaxError(path)
    if not p.segments:
        return value
    if not isinstance(data, (dict, list)):
        raise PathError(f"Unable to apply ResultPath '{path}' to input")
    result = _copy_container(data)
    target = result
    for i, seg in enumerate(p.segments):
        last = i == len(p.segments) - 1
        if seg.kind == "name":
            if not isinstance(target, dict):
                raise PathError(f"Unable to apply ResultPath '{path}' to input")
            if last:
                target[seg.value] = value
            else:
                child = target.get(seg.value)
                if child is not None and not isinstance(child, (dict, list)):
                    raise PathError(f"Unable to apply ResultPath '{path}' to input")
                child = _copy_container(child) if child is not None else {}
                target[seg.value] = child
                target = child
        else:
            if not isinstance(target, list) or not (-len(target) <= seg.value < len(target)):
                raise PathError(f"Unable to apply ResultPath '{path}' to input")
            if last:
                target[seg.value] = value
            else:
                child = target[seg.value]
                child = _copy_container(child) if isinstance(child, (dict, list)) else {}
                target[seg.value] = child
                target = child
    return result


def _copy_container(v: Any) -> Any:
    return dict(v) if isinstance(v, dict) else list(v)
