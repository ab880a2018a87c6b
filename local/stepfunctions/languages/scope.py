"""What a path can see while a state runs: its input, the context object and variables."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import PathError
from . import jsonpath


@dataclass
class Scope:
    data: Any
    context: dict[str, Any]
    variables: dict[str, Any] = field(default_factory=dict)

    def with_data(self, data: Any) -> Scope:
        return Scope(data, self.context, self.variables)

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
