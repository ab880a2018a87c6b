"""The engine's layout holds: SQL only in the store, query languages independent of the
engine (so neither imports the other in a cycle)."""

from __future__ import annotations

import ast
import pathlib

import local.stepfunctions

PACKAGE = pathlib.Path(local.stepfunctions.__file__).parent


def _modules() -> list[pathlib.Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_only_the_store_runs_sql() -> None:
    offenders = []
    for path in _modules():
        if path.name == "store.py" and path.parent == PACKAGE:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr in ("execute", "executescript"):
                offenders.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    assert offenders == []


def test_languages_import_nothing_of_the_engine() -> None:
    allowed = {"errors", "timestamps"}  # leaf modules of the package
    offenders = []
    for path in sorted((PACKAGE / "languages").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 2:
                names = [node.module] if node.module else [a.name for a in node.names]
                offenders += [f"{path.name}: {n}" for n in names if n not in allowed]
    assert offenders == []
