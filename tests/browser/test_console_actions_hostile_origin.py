"""A hostile page tries the agent actions with a signed-in agent's session: a plain HTML form
(text/plain, so no preflight), a no-cors fetch, and a CORS fetch with JSON. None may cancel,
expire or opt out the waiting sign-up, nor resend its text; the same request from the
console's own page does act (so the test can fail).

Two hostile origins, as in test_console_hostile_origin.py: another port of 127.0.0.1 (same
site: the SameSite=Strict cookie is sent, so the Origin checks must hold by themselves) and
localhost (another site: the cookie is not sent at all).
"""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page

from tests.support.aws import local_client
from tests.support.numbers import new_us_number
from tests.support.runtime import LocalRuntime, wait_for
from tests.support.serving import QUICK_SHUTDOWN

pytestmark = pytest.mark.browser

POOL = "us-east-1_ConsoleUserPool"
PASSWORD = "Correct-Horse-7-battery"

ATTACK = """<!doctype html>
<html><head><title>cute cats</title></head><body>
<iframe name="sink"></iframe>
<form id="form" method="POST" action="{base}/cancel" enctype="text/plain" target="sink">
  <input name='{{"reason": "cats", "x": "' value='"}}'>
</form>
<script>
(async () => {{
  const base = "{base}";
  const body = JSON.stringify({{ reason: "cats" }});
  const results = {{}};
  const attempt = async (name, run) => {{
    try {{ results[name] = await run(); }} catch (e) {{ results[name] = "blocked"; }}
  }};
  await attempt("noCorsExpire", async () => {{
    await fetch(base + "/expire", {{ method: "POST", mode: "no-cors", credentials: "include",
      headers: {{ "Content-Type": "text/plain" }}, body }});
    return "sent";
  }});
  await attempt("corsOptOut", async () => (await fetch(base + "/opt-out", {{
    method: "POST", credentials: "include",
    headers: {{ "Content-Type": "application/json" }}, body }})).status);
  await attempt("noCorsResend", async () => {{
    await fetch(base + "/resend", {{ method: "POST", mode: "no-cors", credentials: "include",
      body }});
    return "sent";
  }});
  window.results = results;
  document.getElementById("form").submit();
  document.title = "fired";
}})();
</script>
</body></html>
"""


@pytest.fixture(scope="module")
def rt(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRuntime]:
    runtime = LocalRuntime(
        tmp_path_factory.mktemp("actions") / "rt", parameters={"ResendCooldownSeconds": "0"}
    )
    runtime.start()
    admin = local_client("cognito-idp", runtime.base_url)
    admin.admin_create_user(UserPoolId=POOL, Username="victim", MessageAction="SUPPRESS")
    admin.admin_set_user_password(
        UserPoolId=POOL, Username="victim", Password=PASSWORD, Permanent=True
    )
    admin.admin_add_user_to_group(UserPoolId=POOL, Username="victim", GroupName="agent")
    try:
        yield runtime
    finally:
        runtime.stop()


def waiting_signup(rt: LocalRuntime) -> tuple[str, str]:
    phone = new_us_number()
    status, body = rt.signup(phone)
    assert status == 202, body
    wait_for(
        lambda: (rt.contact(phone) or {}).get("sendCount") == 1 or None,
        what="the confirmation text on record",
    )
    return phone, str(body["registrationId"])


def on_own_origin(page: Page, rt: LocalRuntime, script: str) -> Any:
    page.goto(rt.base_url + "/")
    return page.evaluate(f"async () => {{ {script} }}")


@pytest.fixture(params=["127.0.0.1", "localhost"], ids=["same-site", "cross-site"])
def host(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_a_hostile_page_cannot_act_on_a_sign_up_with_the_agents_session(
    rt: LocalRuntime, host: str, tmp_path: Path, page: Page
) -> None:
    phone, registration = waiting_signup(rt)
    signed_in = on_own_origin(
        page,
        rt,
        f"""
        const r = await fetch("/console/api/session", {{
          method: "POST", headers: {{ "Content-Type": "application/json" }},
          body: JSON.stringify({{ username: "victim", password: "{PASSWORD}" }}) }});
        return r.status;
        """,
    )
    assert signed_in == 200

    base = f"{rt.base_url}/console/api/signups/{registration}"
    site = tmp_path / "hostile"
    site.mkdir()
    (site / "index.html").write_text(ATTACK.format(base=base))
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.RequestHandlerClass.log_message = lambda *_args: None  # type: ignore[method-assign]
    threading.Thread(target=server.serve_forever, kwargs=QUICK_SHUTDOWN, daemon=True).start()
    answered: list[int] = []
    page.on(
        "response",
        lambda r: (
            answered.append(r.status)
            if r.url.startswith(base) and r.request.method == "POST"
            else None
        ),
    )
    try:
        page.goto(f"http://{host}:{server.server_address[1]}/")
        page.wait_for_function("document.title === 'fired'")
        page.wait_for_load_state("networkidle")
        page.wait_for_timeout(1000)  # time for anything that got through to land
        results = page.evaluate("window.results")
    finally:
        server.shutdown()

    assert results["corsOptOut"] == "blocked", results  # dies at the preflight
    assert answered and all(code in (401, 403) for code in answered), answered
    contact = rt.contact(phone)
    assert contact is not None
    assert contact["status"] == "PENDING" and contact["sendCount"] == 1
    assert len(rt.messages(phone, "outbound")) == 1

    # The same action from the console's own page, with the same session, does act.
    done = on_own_origin(
        page,
        rt,
        f"""
        const r = await fetch("/console/api/signups/{registration}/cancel", {{
          method: "POST", headers: {{ "Content-Type": "application/json" }},
          body: JSON.stringify({{ reason: "the person asked" }}) }});
        return {{ status: r.status, body: await r.json() }};
        """,
    )
    assert done["status"] == 200, done
    assert done["body"]["signup"]["status"] == "EXPIRED"
