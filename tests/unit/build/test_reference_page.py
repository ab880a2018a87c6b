"""The reference page web/docs/partner-api/index.html is the OpenAPI document rendered by
tools/render_openapi.py, current, and names every operation."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[3]


def renderer() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "render_openapi", REPO / "tools/render_openapi.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def document() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(
        (REPO / "functions/optin/api/partner-openapi.json").read_text()
    )
    return loaded


def test_the_committed_page_is_current() -> None:
    assert renderer().main(["--check"]) == 0, "run: python tools/render_openapi.py"


def test_a_changed_document_makes_the_page_stale() -> None:
    doc = document()
    doc["paths"]["/v1/signups"]["post"]["summary"] = "something else"
    page = (REPO / "web/docs/partner-api/index.html").read_text()
    assert renderer().render(doc) != page


def test_every_operation_and_schema_is_on_the_page() -> None:
    doc = document()
    page = renderer().render(doc)
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            assert f'id="op-{operation["operationId"]}"' in page
            assert f'{method.upper()}</span> <code class="path">{path}</code>' in page
    for name in doc["components"]["schemas"]:
        assert f'id="schema-{name}"' in page


@pytest.mark.parametrize("markup", ["<script", " style=", "onload=", "http://", "https://cdn"])
def test_the_page_needs_nothing_the_csp_refuses(markup: str) -> None:
    page = (REPO / "web/docs/partner-api/index.html").read_text()
    links = re.findall(r'(?:href|src)="([^"]+)"', page)
    assert all(not link.startswith(("http:", "https:", "//")) for link in links), links
    if markup == "http://":
        return  # server URLs appear as text in <code>, never as something loaded
    assert markup not in page


def test_descriptions_are_escaped() -> None:
    rendered = renderer().text("a <b> & `x<y>`")
    assert rendered == "<p>a &lt;b&gt; &amp; <code>x&lt;y&gt;</code></p>"
