"""A hostile page on another origin tries to use a support agent's console session (issue 7,
item 6): it reads /console/api/session with the agent's cookie, signs the browser in as the
attacker (a no-cors fetch, a CORS fetch, a plain HTML form: login CSRF) and signs the agent out
(DELETE, CORS and no-cors). Nothing may be readable and nothing may be acted on.

Two hostile origins: another port of 127.0.0.1 (same site as the console: the SameSite=Strict
cookie IS sent, so CORS and the Origin checks must hold by themselves) and localhost (another
site: the cookie is not even sent).
"""

from __future__ import annotations

import functools
import http.server
import json
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page

from tests.support.aws import local_client
from tests.support.runtime import LocalRuntime
from tests.support.serving import QUICK_SHUTDOWN

pytestmark = pytest.mark.browser

POOL = "us-east-1_ConsoleUserPool"
PASSWORD = "Correct-Horse-7-battery"
ATTACKER_PASSWORD = "Mallory-Owns-9-this"

ATTACK = """<!doctype html>
<html><head><title>cute cats</title></head><body>
<iframe name="sink"></iframe>
<form id="login" method="POST" action="{target}/console/api/session" enctype="text/plain"
      target="sink">
  <input name='{{"username": "mallory", "password": "{password}", "x": "' value='"}}'>
</form>
<script>
(async () => {{
  const T = "{target}/console/api/session";
  const creds = JSON.stringify({{ username: "mallory", password: "{password}" }});
  const results = {{}};
  const attempt = async (name, run) => {{
    try {{ results[name] = await run(); }} catch (e) {{ results[name] = "blocked"; }}
  }};
  await attempt("read", async () => (await fetch(T, {{ credentials: "include" }})).text());
  await attempt("noCorsSignIn", async () => {{
    await fetch(T, {{ method: "POST", mode: "no-cors", credentials: "include",
                      headers: {{ "Content-Type": "text/plain" }}, body: creds }});
    return "sent";
  }});
  await attempt("corsSignIn", async () => (await fetch(T, {{
    method: "POST", credentials: "include",
    headers: {{ "Content-Type": "application/json" }}, body: creds }})).status);
  await attempt("corsSignOut", async () => (await fetch(T, {{
    method: "DELETE", credentials: "include",
    headers: {{ "Content-Type": "application/json" }} }})).status);
  await attempt("noCorsSignOut", async () => {{
    await fetch(T, {{ method: "DELETE", mode: "no-cors", credentials: "include" }});
    return "sent";
  }});
  window.results = results;
  document.getElementById("login").submit();
  document.title = "fired";
}})();
</script>
</body></html>
"""


@pytest.fixture(scope="module")
def rt(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRuntime]:
    runtime = LocalRuntime(tmp_path_factory.mktemp("console") / "rt")
    runtime.start()
    admin = local_client("cognito-idp", runtime.base_url)
    for name, password in (("victim", PASSWORD), ("mallory", ATTACKER_PASSWORD)):
        admin.admin_create_user(UserPoolId=POOL, Username=name, MessageAction="SUPPRESS")
        admin.admin_set_user_password(
            UserPoolId=POOL, Username=name, Password=password, Permanent=True
        )
        admin.admin_add_user_to_group(UserPoolId=POOL, Username=name, GroupName="agent")
    try:
        yield runtime
    finally:
        runtime.stop()


@pytest.fixture(params=["127.0.0.1", "localhost"], ids=["same-site", "cross-site"])
def hostile_page(request: pytest.FixtureRequest, tmp_path: Path, rt: LocalRuntime) -> Iterator[str]:
    site = tmp_path / "hostile"
    site.mkdir()
    attack = ATTACK.format(target=rt.base_url, password=ATTACKER_PASSWORD)
    (site / "index.html").write_text(attack)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.RequestHandlerClass.log_message = lambda *_args: None  # type: ignore[method-assign]
    threading.Thread(target=server.serve_forever, kwargs=QUICK_SHUTDOWN, daemon=True).start()
    try:
        yield f"http://{request.param}:{server.server_address[1]}/"
    finally:
        server.shutdown()


def on_own_origin(page: Page, rt: LocalRuntime, script: str) -> Any:
    """Runs `script` (an async function body) on a page of the console's own origin."""
    page.goto(rt.base_url + "/")
    return page.evaluate(f"async () => {{ {script} }}")


WHO = """
  const r = await fetch("/console/api/session", { credentials: "same-origin" });
  return { status: r.status, body: await r.json() };
"""


def test_a_hostile_page_can_neither_read_nor_act_with_the_agents_session(
    rt: LocalRuntime, hostile_page: str, page: Page
) -> None:
    # The agent signs in on the console's own origin, as the console's page does.
    signed_in = on_own_origin(
        page,
        rt,
        f"""
        const r = await fetch("/console/api/session", {{
          method: "POST", headers: {{ "Content-Type": "application/json" }},
          body: JSON.stringify({{ username: "victim", password: "{PASSWORD}" }}) }});
        return {{ status: r.status, body: await r.json(), cookies: document.cookie }};
        """,
    )
    assert signed_in["status"] == 200 and signed_in["body"]["username"] == "victim"
    assert "console_session" not in signed_in["cookies"]  # HttpOnly: no script reads it
    assert on_own_origin(page, rt, WHO)["body"] == {"username": "victim", "role": "agent"}

    # The state-changing requests that reached the runtime, and what it answered them.
    refused: list[int] = []
    page.on(
        "response",
        lambda r: (
            refused.append(r.status)
            if r.url.startswith(rt.base_url) and r.request.method not in ("GET", "HEAD", "OPTIONS")
            else None
        ),
    )
    page.goto(hostile_page)
    page.wait_for_function("document.title === 'fired'")
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(1000)  # time for anything that got through to land
    results = page.evaluate("window.results")

    # Nothing readable: the session is behind CORS, which grants no other origin.
    assert results["read"] == "blocked", results
    assert "victim" not in json.dumps(results)
    # The CORS sign-in and sign-out die at the preflight; DELETE cannot be sent no-cors.
    assert results["corsSignIn"] == "blocked" and results["corsSignOut"] == "blocked"
    assert results["noCorsSignOut"] == "blocked"
    # What did reach the runtime (the no-cors POST, the form) was refused, not served.
    assert refused and all(code in (401, 403, 405) for code in refused), refused

    # Nothing acted on: the agent is still signed in as herself, and no token was ever
    # issued to the attacker's account.
    assert on_own_origin(page, rt, WHO) == {
        "status": 200,
        "body": {"username": "victim", "role": "agent"},
    }
    with sqlite3.connect(rt.data_dir / "cognito.db") as db:
        issued = db.execute("SELECT COUNT(*) FROM tokens WHERE user_key = 'mallory'").fetchone()
    assert issued == (0,)

    # The test can fail: the same sign-out from the console's own page does sign out.
    signed_out = on_own_origin(
        page,
        rt,
        """
        const r = await fetch("/console/api/session", {
          method: "DELETE", headers: { "Content-Type": "application/json" } });
        return r.status;
        """,
    )
    assert signed_out == 200
    assert on_own_origin(page, rt, WHO)["status"] == 401
