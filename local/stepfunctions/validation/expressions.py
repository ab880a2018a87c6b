"""Every `{% %}` JSONata expression of a JSONata state, as AWS checks it at definition time:
it parses (INVALID_JSONATA_EXPRESSION, with the parser's message), and it reads only what the
States Language offers where it stands (UNSUPPORTED_JSONATA_EXPRESSION):

* `$states.errorOutput` only in a catcher's `Output` and `Assign`;
* `$states.result` of a Task, Map or Parallel state only in its top-level `Output` and
  `Assign` (what a Pass, Wait or Choice state may read is left unjudged);
* never `$$`, nor a field name read at the top level (`{% phone %}`, `{% a + 1 %}`,
  `{% $count(items) %}`): there is no input document outside `$states`. Inside a path step,
  a predicate, a sort or a function body a field name reads that step's context and is fine.

Undefined variables are not refused: AWS accepts `$doesNotExist` and fails the execution when
the state runs (recorded in the conformance corpus, assign.json)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .diagnostics import INVALID_JSONATA_EXPRESSION, UNSUPPORTED_JSONATA_EXPRESSION, Findings
from .languages import Node, jsonata_expression, parse_jsonata, syntax_tree

# Nested machines are checked as machines of their own
NESTED = ("Branches", "ItemProcessor", "Iterator")
RESULT_STATES = ("Task", "Map", "Parallel")
TOP_LEVEL_OUTPUTS = ("Output", "Assign")
RESULT = "result"
ERROR_OUTPUT = "errorOutput"


def check_state(state: dict[str, Any], at: str, findings: Findings) -> None:
    produces_result = state.get("Type") in RESULT_STATES
    for key, value in state.items():
        if key in NESTED:
            continue
        if key == "Catch" and isinstance(value, list):
            for i, catcher in enumerate(value):
                _check_catcher(catcher, f"{at}/Catch[{i}]", findings)
            continue
        offered = frozenset({RESULT}) if key in TOP_LEVEL_OUTPUTS else frozenset()
        for expression, where in _expressions(value, f"{at}/{key}"):
            _check(expression, where, offered, produces_result, findings)


def _check_catcher(catcher: Any, where: str, findings: Findings) -> None:
    if not isinstance(catcher, dict):
        return
    for key, value in catcher.items():
        offered = frozenset({ERROR_OUTPUT}) if key in TOP_LEVEL_OUTPUTS else frozenset()
        for expression, at in _expressions(value, f"{where}/{key}"):
            _check(expression, at, offered, True, findings)


def _expressions(value: Any, where: str) -> Iterator[tuple[str, str]]:
    """(expression, its location) for every `{% %}` string in a field's value."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _expressions(item, f"{where}/{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _expressions(item, f"{where}[{i}]")
    else:
        expression = jsonata_expression(value)
        if expression is not None:
            yield expression, where


def _check(
    expression: str,
    where: str,
    offered: frozenset[str],
    result_judged: bool,
    findings: Findings,
) -> None:
    """`offered`: the `$states` fields beyond input and context this place may read;
    `result_judged`: whether reading `$states.result` elsewhere is refused here (only in a state
    that produces a result, or its catchers)."""
    ast, problem = parse_jsonata(expression)
    if problem is not None:
        findings.error(INVALID_JSONATA_EXPRESSION, problem, where)
        return
    root = syntax_tree(ast)
    top = _top_level_name(root)
    if top is not None:
        # AWS's sentence
        findings.error(
            UNSUPPORTED_JSONATA_EXPRESSION,
            f"Reference to '{top}' at the top level is not supported.",
            where,
        )
    reported: set[str] = set()
    for node in _nodes(root):
        if node.kind == "variable" and node.value == "$" and "$$" not in reported:
            reported.add("$$")
            findings.error(
                UNSUPPORTED_JSONATA_EXPRESSION, "Reference to '$$' is not supported.", where
            )
        field = _states_field(node)
        if field is None or field in reported:
            continue
        judged = field == ERROR_OUTPUT or result_judged
        if judged and field not in offered:
            reported.add(field)
            # AWS's sentence for $states.errorOutput; the same form for $states.result
            findings.error(
                UNSUPPORTED_JSONATA_EXPRESSION, f"Field '$states.{field}' does not exist.", where
            )


def _nodes(node: Node) -> Iterator[Node]:
    yield node
    for child in node.children:
        yield from _nodes(child)


# Where a node's children are evaluated in the node's own context: operands, conditions,
# function arguments, constructors, blocks, bindings. A path's later steps, its predicates and
# sort terms, and a function body have a context of their own, where field names are allowed.
SAME_CONTEXT = {
    "binary": ("lhs", "rhs"),
    "apply": ("lhs", "rhs"),
    "condition": ("condition", "then", "else"),
    "function": ("arguments",),
    "partial": ("arguments",),
    "unary": ("expressions", "lhs_object", "expression"),
    "block": ("expressions",),
    "bind": ("rhs",),
}


def _top_level_name(node: Node) -> str | None:
    """The first field name read at the top level, where there is no input document."""
    if node.kind == "name":
        return str(node.value)
    if node.kind == "path":
        return _top_level_name(node.steps[0]) if node.steps else None
    for field in SAME_CONTEXT.get(str(node.kind), ()):
        for child in node.field(field):
            name = _top_level_name(child)
            if name is not None:
                return name
    return None


def _states_field(node: Node) -> str | None:
    """`result` / `errorOutput` when the node reads `$states.result` / `$states.errorOutput`."""
    steps = node.steps
    if node.kind != "path" or len(steps) < 2:
        return None
    first, second = steps[0], steps[1]
    if (first.kind, first.value) != ("variable", "states") or second.kind != "name":
        return None
    return second.value if second.value in (RESULT, ERROR_OUTPUT) else None
