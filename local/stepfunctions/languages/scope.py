"""What a path can see while a state runs: its input, the context object and variables."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..errors import PathError
from . import jsonpath

Context = dict[str, Any]


class Scope:
    """The context object may be given as a function that builds it: most states never read
    `$$`, and building it (the execution's input parsed, two timestamps formatted) was a
    tenth of a Pass state's CPU. It is built at most once per scope, on first use."""

    __slots__ = ("_context", "_make_context", "data", "variables")

    def __init__(
        self,
        data: Any,
        context: Context | Callable[[], Context],
        variables: dict[str, Any] | None = None,
    ) -> None:
        self.data = data
        self.variables: dict[str, Any] = variables if variables is not None else {}
        self._context: Context | None = None
        self._make_context: Callable[[], Context] | None = None
        if callable(context):
            self._make_context = context
        else:
            self._context = context

    @property
    def context(self) -> Context:
        if self._context is None:
            assert self._make_context is not None
            self._context = self._make_context()
        return self._context

    def with_data(self, data: Any) -> Scope:
        return Scope(data, self._context or self._make_context or {}, self.variables)

    def resolve(self, path: str) -> Any:
        """The value at a path: `$...` reads data, `$$...` the context, `$name...` a variable."""
        p = jsonpath.compile_path(path)
        if p.root == "$":
            return jsonpath.evaluate(p, self.data)
        if p.root == "$$":
            return jsonpath.evaluate(p, self.context)
        if p.root not in self.variables:
            raise PathError(f"Variable '{p.root}' is not defined")
        return jsonpath.evaluate(p, self.variables[p.root])
