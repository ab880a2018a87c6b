"""The partner API's reference page (/docs/partner-api/, rendered from the OpenAPI document)
in chromium through the local runtime: every operation is on it and reachable from the
contents, its stylesheet loads under the runtime's Content-Security-Policy, nothing is refused,
and axe-core finds nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import ConsoleMessage, Page, expect

from tests.browser.a11y import check_axe
from tests.support.runtime import REPO_ROOT, LocalRuntime

pytestmark = pytest.mark.browser
DOCUMENT = REPO_ROOT / "functions" / "optin" / "api" / "partner-openapi.json"


@pytest.fixture(scope="module")
def reference_runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRuntime]:
    rt = LocalRuntime(Path(tmp_path_factory.mktemp("reference")) / "runtime")
    rt.start()
    try:
        yield rt
    finally:
        rt.stop()


def operations() -> list[tuple[str, str, str]]:
    doc = json.loads(DOCUMENT.read_text())
    return [
        (op["operationId"], method.upper(), path)
        for path, item in doc["paths"].items()
        for method, op in item.items()
        if method != "parameters"
    ]


def test_the_reference_page_shows_every_operation(
    page: Page, reference_runtime: LocalRuntime
) -> None:
    refused: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text or message.type == "error":
            refused.append(message.text)

    page.on("console", on_console)
    base = reference_runtime.base_url
    # Without the slash the runtime (and the web distribution) send the browser to the folder.
    response = page.goto(f"{base}/docs/partner-api")
    assert response is not None and response.ok
    assert page.url == f"{base}/docs/partner-api/"
    expect(page.get_by_role("heading", level=1)).to_contain_text("partner API")
    assert len(operations()) >= 5
    for op_id, method, path in operations():
        section = page.locator(f"#op-{op_id}")
        expect(section.locator("h3")).to_have_text(f"{method} {path}")
        link = page.locator(f'nav a[href="#op-{op_id}"]')
        expect(link).to_have_text(f"{method} {path}")
    # The stylesheet loaded (a coloured method badge), so the CSP let it through.
    badge = page.locator("#op-createSignup .method")
    assert badge.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(29, 122, 70)"
    # The contents link to an operation on the page.
    page.locator('nav a[href="#op-getSignup"]').click()
    assert page.url.endswith("#op-getSignup")
    expect(page.locator("#op-getSignup")).to_be_in_viewport()
    check_axe(page, base)
    assert refused == []
