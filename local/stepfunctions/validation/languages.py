"""The engine's parsers the checks need, imported in one place: the engine's languages are
moving into a package of their own, and only this module has to follow them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jsonata
from jsonata import jexception
from jsonata.parser import Parser

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
    "Node",
    "intrinsic_problem",
    "is_timestamp",
    "jsonata_expression",
    "jsonata_problem",
    "jsonpath_problem",
    "looks_like_intrinsic",
    "parse_jsonata",
    "reference_path_problem",
    "syntax_tree",
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
    return _illegal_escape(text) or _call_problem(call)


# What a backslash may escape in an intrinsic's string literal; AWS refuses any other (`\"` was
# refused on AWS, localstack's test_illegal_escapes)
LITERAL_ESCAPES = "'{}\\"


def _illegal_escape(text: str) -> str | None:
    in_literal = False
    pos = 0
    while pos < len(text):
        ch = text[pos]
        if in_literal and ch == "\\":
            escaped = text[pos + 1 : pos + 2]
            if not escaped or escaped not in LITERAL_ESCAPES:
                return f"illegal escape \\{escaped} in a string literal"
            pos += 2
            continue
        if ch == "'":
            in_literal = not in_literal
        pos += 1
    return None


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
    """The expression inside a `{% ... %}` string, else None. Spaces around the delimiters make
    it a literal string, as on AWS (the engine reads it the same way)."""
    if isinstance(value, str) and len(value) >= 4 and value[:2] == "{%" and value[-2:] == "%}":
        return value[2:-2].strip()
    return None


def jsonata_problem(expression: str) -> str | None:
    return parse_jsonata(expression)[1]


def parse_jsonata(expression: str) -> tuple[Any, str | None]:
    """(the expression's syntax tree, None), or (None, the parser's message without its code,
    as AWS words it)."""
    try:
        return jsonata.Jsonata(expression).ast, None
    except jexception.JException as e:
        return None, str(e)
    except Exception as e:  # the parser raises plain errors on some inputs
        return None, f"{type(e).__name__}: {e}"


@dataclass(frozen=True)
class Node:
    """One node of a JSONata syntax tree: its kind ("path", "name", "variable", "binary", ...),
    its value and its children by the parser's attribute name ("steps", "lhs", "arguments"...),
    read from the parser's own objects."""

    kind: str | None
    value: Any
    fields: tuple[tuple[str, tuple[Node, ...]], ...]

    def field(self, name: str) -> tuple[Node, ...]:
        return next((nodes for key, nodes in self.fields if key == name), ())

    @property
    def steps(self) -> tuple[Node, ...]:
        return self.field("steps")

    @property
    def children(self) -> tuple[Node, ...]:
        return tuple(node for _, nodes in self.fields for node in nodes)


# Parser attributes that point back up or sideways, never to a child
_NOT_CHILDREN = frozenset({"symbol_table", "lexer", "node"})


def syntax_tree(ast: Any) -> Node:
    fields: list[tuple[str, tuple[Node, ...]]] = []
    for key, value in vars(ast).items():
        if key.startswith("_") or key in _NOT_CHILDREN:
            continue
        nodes = tuple(syntax_tree(item) for item in _flatten(value))
        if nodes:
            fields.append((key, nodes))
    return Node(getattr(ast, "type", None), getattr(ast, "value", None), tuple(fields))


def _is_symbol(value: Any) -> bool:
    return isinstance(value, Parser.Symbol)


def _flatten(value: Any) -> list[Any]:
    if _is_symbol(value):
        return [value]
    if isinstance(value, (list, tuple)):
        return [leaf for item in value for leaf in _flatten(item)]
    return []


def is_timestamp(text: str) -> bool:
    return parse_timestamp(text) is not None
