"""What AWS operations the adapters call, read from their source, and which tests exercise them.

An adapter names its service once, in a literal (`session_client("dynamodb")`, `boto3.client(…)`),
its own or imported from another adapter module, and calls operations on a client: directly
(`self._client().put_item(…)`, `client.query(…)`), through `getattr(client, "op")`, or through
a dispatch helper (`getattr(self._client(), method)` inside `_call(self, operation, …)`), whose
callers must then pass the operation as a literal, PascalCase or snake_case, as their first
argument. Anything this cannot read is reported, not skipped: a call it cannot see is a call
no test is known to validate.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import botocore.session
from botocore import xform_name

_SERVICE_FACTORIES = frozenset({"session_client", "client", "resource"})
_STUB_METHODS = frozenset({"add_response", "add_client_error"})
# Client methods that are not operations (get_paginator("op") is read for its operation).
_CLIENT_HELPERS = frozenset(
    {"close", "can_paginate", "get_waiter", "generate_presigned_url", "generate_presigned_post"}
)


@dataclass(frozen=True)
class OperationCall:
    module: str  # optin.adapters.x
    service: str
    operation: str  # the model's PascalCase name
    method: str  # boto3's snake_case name
    caller: str  # Class.method or function that makes the call
    line: int


@dataclass
class Adapter:
    module: str
    path: Path
    services: set[str] = field(default_factory=set)
    calls: list[OperationCall] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    # caller -> callers' names it invokes on self (for "which public method reaches this call")
    self_calls: dict[str, set[str]] = field(default_factory=dict)

    def public_methods_reaching(self, call: OperationCall) -> set[str]:
        owner = call.caller.rpartition(".")[0]
        reached = {call.caller}
        changed = True
        while changed:
            changed = False
            for caller, callees in self.self_calls.items():
                if caller not in reached and any(f"{owner}.{c}" in reached for c in callees):
                    reached.add(caller)
                    changed = True
        return {
            name.rpartition(".")[2]
            for name in reached
            if not name.rpartition(".")[2].startswith("_")
        }


def _name(node: ast.AST) -> str:
    if isinstance(node, ast.Call):
        return _name(node.func)
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Name):
        return node.id
    return ""


def _is_client(node: ast.AST) -> bool:
    return "client" in _name(node).lower()


def _service_literal(node: ast.AST) -> str | None:
    if (
        isinstance(node, ast.Call)
        and _name(node.func) in _SERVICE_FACTORIES
        and node.args
        and isinstance(node.args[0], ast.Constant)
        and isinstance(node.args[0].value, str)
    ):
        return node.args[0].value
    return None


def _functions(tree: ast.Module) -> Iterator[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]]:
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield node.name, node
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    yield f"{node.name}.{item.name}", item


class _Model:
    def __init__(self) -> None:
        self._session = botocore.session.get_session()
        self._names: dict[str, dict[str, str]] = {}

    def operations(self, service: str) -> dict[str, str]:
        """snake_case and PascalCase spellings -> PascalCase name."""
        if service not in self._names:
            names = self._session.get_service_model(service).operation_names
            self._names[service] = {n: n for n in names} | {xform_name(n): n for n in names}
        return self._names[service]


def read_adapters(paths: Iterable[Path], package: str = "optin.adapters") -> list[Adapter]:
    model = _Model()
    trees = {f"{package}.{p.stem}": (p, ast.parse(p.read_text(), str(p))) for p in paths}
    # Module-level `NAME = session_client("svc")`, importable by other adapter modules.
    exported: dict[tuple[str, str], str] = {}
    for module, (_, tree) in trees.items():
        for node in tree.body:
            if isinstance(node, ast.Assign) and (service := _service_literal(node.value)):
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        exported[(module, target.id)] = service

    adapters = []
    for module, (path, tree) in trees.items():
        adapter = Adapter(module, path)
        for node in ast.walk(tree):
            if service := _service_literal(node):
                adapter.services.add(service)
            if isinstance(node, ast.ImportFrom) and node.module:
                for alias in node.names:
                    if (node.module, alias.name) in exported:
                        adapter.services.add(exported[(node.module, alias.name)])
        _read_calls(adapter, tree)
        if adapter.calls or adapter.problems:
            _resolve(adapter, model)
        adapters.append(adapter)
    return adapters


@dataclass(frozen=True)
class _RawCall:
    name: str
    caller: str
    line: int


def _read_calls(adapter: Adapter, tree: ast.Module) -> None:
    raw: list[_RawCall] = []
    dispatchers: dict[str, str] = {}  # helper function name -> caller that defines it
    for caller, function in _functions(tree):
        adapter.self_calls[caller] = set()
        for node in ast.walk(function):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            if (
                isinstance(func, ast.Attribute)
                and isinstance(func.value, ast.Name)
                and func.value.id == "self"
            ):
                adapter.self_calls[caller].add(func.attr)
            if isinstance(func, ast.Attribute) and _is_client(func.value):
                first = node.args[0] if node.args else None
                if func.attr == "get_paginator":
                    if isinstance(first, ast.Constant) and isinstance(first.value, str):
                        raw.append(_RawCall(first.value, caller, node.lineno))
                    else:
                        adapter.problems.append(
                            f"{adapter.module}:{node.lineno}: get_paginator without a literal"
                        )
                elif not func.attr.startswith("_") and func.attr not in _CLIENT_HELPERS:
                    raw.append(_RawCall(func.attr, caller, node.lineno))
            elif _name(func) == "getattr" and len(node.args) >= 2 and _is_client(node.args[0]):
                name = node.args[1]
                if isinstance(name, ast.Constant) and isinstance(name.value, str):
                    raw.append(_RawCall(name.value, caller, node.lineno))
                else:
                    dispatchers[caller.rpartition(".")[2]] = caller
    # A dispatch helper's callers name the operation as their first argument.
    for caller, function in _functions(tree):
        for node in ast.walk(function):
            if not (isinstance(node, ast.Call) and _name(node.func) in dispatchers):
                continue
            if isinstance(node.func, ast.Attribute) and _name(node.func.value) not in {"self"}:
                continue
            first = node.args[0] if node.args else None
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                raw.append(_RawCall(first.value, caller, node.lineno))
            elif dispatchers[_name(node.func)] != caller:
                adapter.problems.append(
                    f"{adapter.module}:{node.lineno}: {_name(node.func)}(…) is called without a "
                    "literal operation name; this check cannot tell what it calls"
                )
    adapter.calls = [  # resolved in _resolve; keep the raw names until then
        OperationCall(adapter.module, "", r.name, r.name, r.caller, r.line) for r in raw
    ]


def _resolve(adapter: Adapter, model: _Model) -> None:
    if len(adapter.services) != 1:
        adapter.problems.append(
            f"{adapter.module}: calls AWS operations but names {len(adapter.services)} services "
            f"({sorted(adapter.services)}); this check needs exactly one per adapter module"
        )
        adapter.calls = []
        return
    [service] = adapter.services
    operations = model.operations(service)
    resolved = []
    for call in adapter.calls:
        operation = operations.get(call.operation)
        if operation is None:
            adapter.problems.append(
                f"{adapter.module}:{call.line}: {call.operation} is not an operation of "
                f"{service} in botocore's service model"
            )
            continue
        resolved.append(
            OperationCall(
                adapter.module, service, operation, xform_name(operation), call.caller, call.line
            )
        )
    adapter.calls = resolved


# --- the tests' side -------------------------------------------------------------------------


@dataclass(frozen=True)
class SuiteFile:
    path: Path
    stubbed: frozenset[str]  # snake_case operations given to Stubber.add_response/_client_error
    moto: bool
    imports: frozenset[str]  # modules imported
    called: frozenset[str]  # every `x.name(` called in the file


def read_tests(paths: Iterable[Path], moto_helpers: Iterable[str] = ()) -> list[SuiteFile]:
    helpers = set(moto_helpers)
    found = []
    for path in paths:
        tree = ast.parse(path.read_text(), str(path))
        imports: set[str] = set()
        stubbed: set[str] = set()
        called: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                imports.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module:
                imports.add(node.module)
                imports.update(f"{node.module}.{alias.name}" for alias in node.names)
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                called.add(node.func.attr)
                first = node.args[0] if node.args else None
                if (
                    node.func.attr in _STUB_METHODS
                    and isinstance(first, ast.Constant)
                    and isinstance(first.value, str)
                ):
                    stubbed.add(first.value)
        moto = any(m == "moto" or m.startswith("moto.") or m in helpers for m in imports)
        found.append(
            SuiteFile(path, frozenset(stubbed), moto, frozenset(imports), frozenset(called))
        )
    return found


def moto_helper_modules(support: Path, package: str = "tests.support") -> set[str]:
    """Helper modules that bring moto with them (a test importing one is moto-backed)."""
    helpers = set()
    for path in support.glob("*.py"):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            if any(n == "moto" or n.startswith("moto.") for n in names):
                helpers.add(f"{package}.{path.stem}")
    return helpers


def evidence(adapter: Adapter, call: OperationCall, tests: Iterable[SuiteFile]) -> list[str]:
    """The tests that validate this call against botocore's model: a Stubber given the
    operation, or a moto-backed test that imports the adapter and calls a public method from
    which the call is reached."""
    reaching = adapter.public_methods_reaching(call)
    found = []
    for test in tests:
        if call.method in test.stubbed:
            found.append(f"{test.path.name} (Stubber)")
        elif (
            test.moto
            and any(m == adapter.module or m.startswith(f"{adapter.module}.") for m in test.imports)
            and reaching & test.called
        ):
            found.append(f"{test.path.name} (moto: {', '.join(sorted(reaching & test.called))})")
    return found
