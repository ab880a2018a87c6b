"""Every Handler in template.yaml imports as Lambda would import it: a fresh interpreter with only
the function's CodeUri and the packages the zip carries on the path, and the function's
environment from the template. A handler that needs the repo root (local/, tests/), a dev-only
package, or a module or attribute that is not there fails here rather than on its first event.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
from packaging.utils import canonicalize_name

from tests.unit.build import cfn
from tests.unit.build.test_pins import RUNTIME, closure, requirement_lines

# Runs in the child: refuse top-level imports that are neither stdlib, nor in the CodeUri,
# nor from a distribution the zip carries; then import the handler and check it is callable.
_CHILD = r"""
import importlib, importlib.abc, json, sys
code_uri, handler, allowed = sys.argv[1], sys.argv[2], set(json.loads(sys.argv[3]))

# The interpreter's own directories: stdlib, lib-dynload (with -I, all but site-packages).
own = [entry for entry in sys.path if "site-packages" not in entry]

class ZipOnly(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        top = name.partition(".")[0]
        if top in allowed or top in sys.builtin_module_names:
            return None
        if importlib.machinery.PathFinder.find_spec(top, [code_uri, *own]) is not None:
            return None
        raise ModuleNotFoundError(f"{top} is not in the Lambda zip", name=top)

sys.meta_path.insert(0, ZipOnly())
sys.path.insert(0, code_uri)
module_name, _, attribute = handler.rpartition(".")
try:
    module = importlib.import_module(module_name)
    target = getattr(module, attribute)
    result = {"ok": callable(target), "error": "" if callable(target) else "not callable"}
except BaseException as error:
    result = {"ok": False, "error": f"{type(error).__name__}: {error}"}
print(json.dumps(result))
"""


@dataclass(frozen=True)
class Function:
    name: str
    handler: str
    code_uri: Path
    environment: dict[str, str]


def functions(template: dict[str, Any]) -> list[Function]:
    found = []
    for name, resource in cfn.resources(template, "AWS::Serverless::Function").items():
        handler = cfn.function_property(template, resource, "Handler")
        code_uri = cfn.function_property(template, resource, "CodeUri")
        variables = dict(
            (cfn.function_property(template, {}, "Environment") or {}).get("Variables") or {}
        )
        own = (resource.get("Properties") or {}).get("Environment") or {}
        variables.update(own.get("Variables") or {})
        found.append(
            Function(
                name=name,
                handler=str(handler),
                code_uri=cfn.ROOT / str(code_uri),
                # A !Ref or !GetAtt is only known once deployed; the import must not need it.
                environment={
                    key: value if isinstance(value, str) else f"placeholder-{key}"
                    for key, value in variables.items()
                },
            )
        )
    return found


def allowed_top_level_modules() -> list[str]:
    """Top-level import names of the distributions functions/requirements.txt puts in the zip."""
    zipped = closure(requirement_lines(RUNTIME.read_text()))
    return sorted(
        module
        for module, distributions in metadata.packages_distributions().items()
        if any(canonicalize_name(d) in zipped for d in distributions)
    )


def start_import(function: Function, allowed: list[str]) -> subprocess.Popen[str]:
    env = {
        # What Lambda's runtime sets for every function.
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_LAMBDA_FUNCTION_NAME": function.name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "LAMBDA_TASK_ROOT": str(function.code_uri),
        "_HANDLER": function.handler,
        "TZ": ":UTC",
        "PATH": "/usr/bin:/bin",
        **function.environment,
    }
    return subprocess.Popen(
        [
            sys.executable,
            "-I",
            "-c",
            _CHILD,
            str(function.code_uri),
            function.handler,
            json.dumps(allowed),
        ],
        cwd=function.code_uri,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def import_results(targets: list[Function]) -> dict[str, dict[str, Any]]:
    allowed = allowed_top_level_modules()
    # All at once: each is a cold interpreter importing powertools, pydantic and botocore.
    running = {f.name: start_import(f, allowed) for f in targets}
    results = {}
    for name, process in running.items():
        out, err = process.communicate(timeout=60)
        lines = out.strip().splitlines()
        results[name] = json.loads(lines[-1]) if lines else {"ok": False, "error": err[-2000:]}
    return results


TEMPLATE_FUNCTIONS = functions(cfn.load())


@pytest.fixture(scope="module")
def results() -> Iterator[dict[str, dict[str, Any]]]:
    yield import_results(TEMPLATE_FUNCTIONS)


def test_the_template_has_functions() -> None:
    assert len(TEMPLATE_FUNCTIONS) >= 5


@pytest.mark.parametrize("function", TEMPLATE_FUNCTIONS, ids=lambda f: f.name)
def test_handler_imports(function: Function, results: dict[str, dict[str, Any]]) -> None:
    assert results[function.name] == {"ok": True, "error": ""}, function.handler


def _fake(handler: str, tmp_path: Path) -> Function:
    return Function("Fake", handler, tmp_path, {})


def test_a_missing_module_a_missing_attribute_and_a_dev_only_import_fail(
    tmp_path: Path,
) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "ok.py").write_text("def handler(event, context):\n    return 1\n")
    (tmp_path / "pkg" / "dev.py").write_text("import moto\n\ndef handler(e, c):\n    pass\n")
    (tmp_path / "pkg" / "repo.py").write_text("import local\n\ndef handler(e, c):\n    pass\n")
    (tmp_path / "pkg" / "value.py").write_text("handler = 3\n")
    cases = {
        "ok": "pkg.ok.handler",
        "module": "pkg.nothere.handler",
        "attribute": "pkg.ok.missing",
        "dev": "pkg.dev.handler",
        "repo": "pkg.repo.handler",
        "value": "pkg.value.handler",
    }
    out = import_results([Function(k, v, tmp_path, {}) for k, v in cases.items()])
    assert out["ok"] == {"ok": True, "error": ""}
    assert "No module named 'pkg.nothere'" in out["module"]["error"]
    assert "AttributeError" in out["attribute"]["error"]
    assert "moto is not in the Lambda zip" in out["dev"]["error"]
    assert "local is not in the Lambda zip" in out["repo"]["error"]
    assert out["value"] == {"ok": False, "error": "not callable"}


def test_globals_supply_handler_and_code_uri_and_refs_become_placeholders() -> None:
    template = {
        "Globals": {
            "Function": {
                "CodeUri": "functions/",
                "Environment": {"Variables": {"A": "1", "T": {"Ref": "Table"}}},
            }
        },
        "Resources": {
            "F": {
                "Type": "AWS::Serverless::Function",
                "Properties": {
                    "Handler": "m.h",
                    "Environment": {"Variables": {"B": {"Fn::GetAtt": "X.Arn"}}},
                },
            },
            "T": {"Type": "AWS::DynamoDB::Table"},
        },
    }
    [function] = functions(template)
    assert function.handler == "m.h"
    assert function.code_uri == cfn.ROOT / "functions/"
    assert function.environment == {"A": "1", "T": "placeholder-T", "B": "placeholder-B"}
