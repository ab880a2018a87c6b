"""A hostile page on another local origin tries to forge a double opt-in (issue 6, point 3).

The trial's attack: a page the developer happens to open (here on another port of this machine,
which a browser treats as same-site but cross-origin) fires no-cors fetches at the runtime's
Lambda Invoke API (CreateContact, then OptIn), texts "YES" in through the sandbox with fetch
and with a plain HTML form, and tries UpdateStateMachine. The runtime runs with an external
Step Functions, the only set-up in which it serves the Invoke API at all. The contact must stay
as it was: PENDING, no reply recorded, no welcome text.
"""

from __future__ import annotations

import functools
import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page

from tests.integration.test_external_stepfunctions import EngineProcess
from tests.support.runtime import LocalRuntime, wait_for
from tests.support.serving import QUICK_SHUTDOWN

pytestmark = pytest.mark.browser

VICTIM = "+12063400155"

ATTACK = """<!doctype html>
<html><head><title>cute cats</title></head><body>
<iframe name="sink"></iframe>
<form id="form" method="POST" action="{target}/sandbox/inbound" enctype="text/plain" target="sink">
  <input name='{{"from": "{phone}", "body": "YES", "x": "' value='"}}'>
</form>
<script>
(async () => {{
  const T = "{target}";
  const send = (path, body, headers) => fetch(T + path, {{
    method: "POST", mode: "no-cors", credentials: "include", headers: headers || {{}},
    body: JSON.stringify(body)
  }}).catch(() => null);
  const contact = {{ phoneNumber: "{phone}", registrationId: "forged" }};
  await send("/2015-03-31/functions/CreateContactFunction/invocations", contact);
  await send("/2015-03-31/functions/OptInFunction/invocations", contact,
             {{ "Content-Type": "application/json" }});
  await send("/sandbox/inbound", {{ from: "{phone}", body: "YES" }},
             {{ "Content-Type": "text/plain" }});
  await send("/", {{ stateMachineArn: "x", definition: "{{}}" }},
             {{ "Content-Type": "text/plain",
                "X-Amz-Target": "AWSStepFunctions.UpdateStateMachine" }});
  document.getElementById("form").submit();
  document.title = "fired";
}})();
</script>
</body></html>
"""


@pytest.fixture
def external_runtime(tmp_path: Path) -> Iterator[LocalRuntime]:
    runtime = LocalRuntime(tmp_path / "rt")
    engine = EngineProcess(tmp_path / "sfn.db", runtime.base_url)
    runtime.env["LOCAL_STEPFUNCTIONS_ENDPOINT"] = engine.url
    runtime.start()
    try:
        yield runtime
    finally:
        runtime.stop()
        engine.stop()


@pytest.fixture
def hostile_origin(tmp_path: Path, external_runtime: LocalRuntime) -> Iterator[str]:
    site = tmp_path / "hostile"
    site.mkdir()
    (site / "index.html").write_text(ATTACK.format(target=external_runtime.base_url, phone=VICTIM))
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.RequestHandlerClass.log_message = lambda *_args: None  # type: ignore[method-assign]
    threading.Thread(target=server.serve_forever, kwargs=QUICK_SHUTDOWN, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()


def test_a_page_on_another_origin_cannot_forge_the_opt_in(
    external_runtime: LocalRuntime, hostile_origin: str, page: Page
) -> None:
    rt = external_runtime
    status, body = rt.signup(VICTIM)
    assert status == 202, body
    wait_for(lambda: rt.messages(VICTIM, "outbound"), what="the confirmation text")
    before = rt.contact(VICTIM)
    assert before is not None and before["status"] == "PENDING"

    refused: list[int] = []
    page.on(
        "response",
        lambda r: refused.append(r.status) if r.url.startswith(rt.base_url) else None,
    )
    page.goto(hostile_origin)
    page.wait_for_function("document.title === 'fired'")
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(1500)  # time for anything that got through to run

    after = rt.contact(VICTIM)
    assert after is not None and after["status"] == "PENDING", json.dumps(after)
    assert rt.messages(VICTIM, "inbound") == []
    assert len(rt.messages(VICTIM, "outbound")) == 1  # the confirmation only, no welcome
    # The form post is a navigation the page could see: it was refused, not served.
    assert refused and all(code in (403, 404, 405, 415) for code in refused), refused

    # The same forged reply from the developer's own side goes through: the test can fail.
    rt.text_in(VICTIM, "YES")
    wait_for(lambda: (c := rt.contact(VICTIM)) and c["status"] == "CONFIRMED", what="CONFIRMED")
