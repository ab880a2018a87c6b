"""The support console's pages (web/console/) in chromium, served by the real local runtime.

The console API behind them is answered by `page.route()` with fixtures in the shared
contract's shapes (tests/browser/console_fixtures.py), so these tests pin what the pages do
with each answer: the sign-in form and its errors, the list's filters and paging, a sign-up's
graph and its live colours, the evidence download. axe-core (vendored) must find nothing on
each view, and the runtime's Content-Security-Policy must refuse nothing the pages load.

Screenshots: BROWSER_SCREENSHOTS=docs/img pytest tests/browser/test_console_pages.py writes
the docs/img/console-*.png the support guide uses.
"""

from __future__ import annotations

import json
import re
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import ConsoleMessage, Page, expect

from tests.browser.a11y import check_axe, contrast
from tests.browser.console_fixtures import (
    DEFINITION,
    STATE_NAMES,
    FakeConsoleApi,
    Signup,
    all_signups,
    confirmed_signup,
    execution_arn,
    expired_signup,
    pending_signup,
    pending_then_confirmed,
    rejected_signup,
    stopped_signup,
)
from tests.support.runtime import LocalRuntime, wait_for

pytestmark = pytest.mark.browser

# The colours graph.js gives each status (AWS console's), as cytoscape reports them.
FILLS = {
    "notStarted": "rgb(255,255,255)",
    "inProgress": "rgb(9,114,211)",
    "succeeded": "rgb(3,127,12)",
    "failed": "rgb(217,21,21)",
    "caughtError": "rgb(248,146,86)",
    "cancelled": "rgb(95,107,122)",
}


@pytest.fixture(scope="module")
def console_runtime(shared_runtime: LocalRuntime) -> LocalRuntime:
    # It serves the pages; page.route() answers their API calls.
    return shared_runtime


@pytest.fixture
def csp_violations(page: Page) -> list[str]:
    """What the page's Content-Security-Policy refused, as chromium reports it."""
    refused: list[str] = []

    def seen(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text:
            refused.append(message.text)

    page.on("console", seen)
    return refused


@pytest.fixture
def api(page: Page) -> FakeConsoleApi:
    fake = FakeConsoleApi()
    page.route("**/console/api/**", fake.handle)
    return fake


def viewer(api: FakeConsoleApi) -> None:
    api.session = {"username": "sam", "role": "viewer"}


def rendered(page: Page) -> dict[str, Any]:
    """The drawn graph as graph.js reports it (node ids, status, fill as cytoscape renders)."""
    return page.evaluate(
        """async () => {
            const m = await import(new URL('js/graph.js', document.baseURI).href);
            return m.renderedGraph(document.getElementById('graph'));
        }"""
    )


def node_statuses(page: Page) -> dict[str, str]:
    return {n["id"]: n["status"] for n in rendered(page)["nodes"]}


def open_signup(page: Page, runtime: LocalRuntime, api: FakeConsoleApi, signup: Signup) -> None:
    api.details[signup.registration_id] = signup.detail()
    page.goto(f"{runtime.base_url}/console/signup.html?id={signup.registration_id}")
    expect(page.locator("#outcome")).to_have_text(signup.outcome)
    expect(page.locator("#steps tbody tr").first).to_be_visible()


# --- serving ---


def test_runtime_serves_the_console_with_its_types_and_csp(console_runtime: LocalRuntime) -> None:
    base = console_runtime.base_url

    def lower(items: Any) -> dict[str, str]:
        return {k.lower(): v for k, v in items}

    def get(path: str) -> tuple[int, dict[str, str], bytes]:
        request = urllib.request.Request(base + path)
        opener = urllib.request.build_opener(NoRedirect)
        try:
            with opener.open(request) as response:
                return response.status, lower(response.headers.items()), response.read()
        except urllib.error.HTTPError as error:
            return error.code, lower(error.headers.items()), error.read()

    status, headers, body = get("/console/")
    assert status == 200 and b'id="signin-form"' in body
    assert "script-src 'self'" in headers["content-security-policy"]
    assert "unsafe-eval" not in headers["content-security-policy"]
    status, headers, _ = get("/console")
    assert (status, headers["location"]) == (308, "/console/")
    for path, kind in [
        ("/console/js/graph-status.js", "javascript"),
        ("/vendor/cytoscape/cytoscape.esm.min.mjs", "javascript"),
        ("/vendor/cytoscape-dagre/cytoscape-dagre.min.mjs", "javascript"),
        ("/console/css/console.css", "text/css"),
    ]:
        status, headers, _ = get(path)
        assert status == 200, path
        assert kind in headers["content-type"], (path, headers["content-type"])
    status, _, body = get("/console/nothing-here.js")
    assert status == 404 and json.loads(body)["error"]["code"] == "not_found"


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


# --- the pure module, run in the browser (no Node, no build step) ---


def test_graph_status_module_cases(
    console_runtime: LocalRuntime, page: Page, api: FakeConsoleApi
) -> None:
    page.goto(f"{console_runtime.base_url}/console/")
    out = page.evaluate(
        """async ([definition, confirmed, expired, stopped, rejected, pending]) => {
            const m = await import(new URL('js/graph-status.js', document.baseURI).href);
            const statuses = (h, s) => {
                const v = m.executionView(definition, h, {executionStatus: s});
                return Object.fromEntries(Object.entries(v.states).map(([k, e]) => [k, e.status]));
            };
            const graph = m.graphOf(definition);
            const confirmedView = m.executionView(definition, confirmed, {});
            const validate = confirmedView.steps.find(s => s.name === 'ValidateNumber');
            const expiredView = m.executionView(definition, expired, {});
            // An execution stopped by StopExecution while it waited for the reply.
            const t = pending[pending.length - 1].timestamp;
            const aborted = pending.concat([{id: pending.length + 1, type: 'ExecutionAborted',
                timestamp: t, executionAbortedEventDetails: {}}]);
            // An error nothing catches: the state and the execution fail.
            const uncaught = pending.concat([
                {id: pending.length + 1, type: 'TaskFailed', timestamp: t,
                 taskFailedEventDetails: {error: 'Undeliverable', cause: 'carrier said no'}},
                {id: pending.length + 2, type: 'ExecutionFailed', timestamp: t,
                 executionFailedEventDetails: {error: 'Undeliverable', cause: 'carrier said no'}}]);
            const uncaughtView = m.executionView(definition, uncaught, {});
            return {
                nodes: graph.nodes.map(n => n.id),
                edges: graph.edges.map(e => e.id),
                confirmed: statuses(confirmed),
                confirmedPath: confirmedView.path,
                validateRetries: validate.retries,
                validateStatus: validate.status,
                expired: statuses(expired),
                expiredPath: expiredView.path.edges,
                stopped: statuses(stopped),
                rejected: statuses(rejected),
                pending: statuses(pending, 'RUNNING'),
                aborted: statuses(aborted),
                uncaught: statuses(uncaught),
                uncaughtStep: uncaughtView.steps.find(s => s.name === 'SendConfirmation'),
                empty: statuses([], null),
                durations: [m.formatDuration(850), m.formatDuration(4200),
                            m.formatDuration(185000), m.formatDuration(7380000)],
            };
        }""",
        [
            DEFINITION,
            confirmed_signup().history,
            expired_signup().history,
            stopped_signup().history,
            rejected_signup().history,
            pending_signup().history,
        ],
    )
    assert out["nodes"] == ["__start__", *STATE_NAMES, "__end__"]
    assert {
        "__start__->LoadSettings#start",
        "Acceptable?->CreateContact#choice",
        "Acceptable?->Rejected#default",
        "CreateContact->AlreadyInProgress#catch",
        "SendConfirmation->OptIn#next",
        "SendConfirmation->Expire#catch",
        "SendConfirmation->Cancelled#catch",
        "Confirmed->__end__#end",
        "Rejected->__end__#end",
    } <= set(out["edges"])

    on_path = ["LoadSettings", "ValidateNumber", "Acceptable?", "CreateContact"]
    assert all(out["confirmed"][s] == "succeeded" for s in [*on_path, "SendConfirmation"])
    assert out["confirmed"]["OptIn"] == out["confirmed"]["Confirmed"] == "succeeded"
    assert out["confirmed"]["Expire"] == out["confirmed"]["Rejected"] == "notStarted"
    assert out["confirmed"]["__end__"] == "succeeded"
    # One Lambda.Unknown, retried: the step succeeded with one retry and no error left.
    assert (out["validateRetries"], out["validateStatus"]) == (1, "succeeded")
    assert out["confirmedPath"]["nodes"] == [
        "__start__", *on_path, "SendConfirmation", "OptIn", "Confirmed", "__end__"
    ]  # fmt: skip
    assert "SendConfirmation->OptIn#next" in out["confirmedPath"]["edges"]
    assert "Acceptable?->CreateContact#choice" in out["confirmedPath"]["edges"]

    assert out["expired"]["SendConfirmation"] == "caughtError"
    assert out["expired"]["Expire"] == out["expired"]["Expired"] == "succeeded"
    assert out["expired"]["OptIn"] == "notStarted"
    assert "SendConfirmation->Expire#catch" in out["expiredPath"]
    assert "SendConfirmation->OptIn#next" not in out["expiredPath"]

    assert out["stopped"]["SendConfirmation"] == "caughtError"
    assert out["stopped"]["Cancelled"] == "succeeded"
    assert out["stopped"]["Expire"] == "notStarted"

    assert out["rejected"]["Rejected"] == "failed"
    assert out["rejected"]["ValidateNumber"] == "succeeded"
    assert out["rejected"]["CreateContact"] == "notStarted"
    assert out["rejected"]["__end__"] == "failed"

    assert out["pending"]["SendConfirmation"] == "inProgress"
    assert out["pending"]["OptIn"] == "notStarted"
    assert out["pending"]["__end__"] == "notStarted"
    assert out["aborted"]["SendConfirmation"] == "cancelled"
    assert out["aborted"]["__end__"] == "cancelled"
    assert out["uncaught"]["SendConfirmation"] == "failed"
    assert out["uncaughtStep"]["error"] == "Undeliverable"
    assert out["uncaught"]["__end__"] == "failed"
    assert set(out["empty"].values()) == {"notStarted"}
    assert out["durations"] == ["850 ms", "4.2 s", "3 min 5 s", "2 h 3 min"]


# --- sign in ---


def test_sign_in_form_on_401_with_errors_beside_their_field(
    console_runtime: LocalRuntime,
    page: Page,
    api: FakeConsoleApi,
    screenshots: Path,
    csp_violations: list[str],
) -> None:
    api.pages = [[s.summary() for s in all_signups()]]
    page.goto(f"{console_runtime.base_url}/console/")
    expect(page.get_by_role("heading", name="Sign in to the support console")).to_be_visible()
    expect(page.locator("#signups")).to_be_hidden()
    expect(page.get_by_role("button", name="Sign out")).to_be_hidden()

    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#username-error")).to_have_text("Enter your username.")
    expect(page.get_by_label("Username")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Username")).to_be_focused()
    assert not [r for r in api.requests if r[0] == "POST"], "an empty form was sent"

    page.get_by_label("Username").fill("sam")
    page.get_by_label("Password").fill("wrong password")
    page.get_by_role("button", name="Sign in").click()
    # The server's sentence, beside the password, not a generic banner.
    expect(page.locator("#password-error")).to_have_text(
        "That username and password do not match an account."
    )
    expect(page.locator("#signin-error")).to_be_empty()
    expect(page.get_by_label("Password")).to_have_attribute("aria-invalid", "true")
    check_axe(page, console_runtime.base_url)
    page.screenshot(path=screenshots / "console-signin.png", full_page=True)

    page.get_by_label("Password").fill(api.password)
    page.get_by_label("Password").press("Enter")
    expect(page.locator("#user-name")).to_have_text("sam")
    expect(page.locator("#user-role")).to_contain_text("viewer")
    expect(page.locator("#results tbody tr")).to_have_count(5)
    posts = [r for r in api.requests if r[0] == "POST" and r[1] == "session"]
    assert json.loads(posts[-1][3] or "{}") == {"username": "sam", "password": api.password}

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in to the support console")).to_be_visible()
    expect(page.locator("#user-bar")).to_be_hidden()
    assert ("DELETE", "session") in [(r[0], r[1]) for r in api.requests]
    assert csp_violations == []


# --- the list ---


def test_list_renders_and_filters_and_paging_send_the_right_query(
    console_runtime: LocalRuntime,
    page: Page,
    api: FakeConsoleApi,
    screenshots: Path,
    csp_violations: list[str],
) -> None:
    viewer(api)
    signups = all_signups()
    api.pages = [[s.summary() for s in signups[:3]], [s.summary() for s in signups[3:]]]
    page.goto(f"{console_runtime.base_url}/console/")
    rows = page.locator("#results tbody tr")
    expect(rows).to_have_count(3)
    first = signups[0]
    link = rows.first.get_by_role("link")
    expect(link).to_have_text(first.phone)  # masked for a viewer, as the API sent it
    expect(link).to_have_attribute("href", f"signup.html?id={first.registration_id}")
    expect(rows.first).to_contain_text("Waiting for a reply: 23 h left")
    expect(rows.first).to_contain_text("Partner API")
    expect(rows.first.locator(".badge")).to_have_text("Pending")
    assert api.list_queries()[-1] == {"limit": ["25"]}
    check_axe(page, console_runtime.base_url)
    page.screenshot(path=screenshots / "console-list.png", full_page=True)

    page.get_by_label("Search").fill("(206) 340-0131")
    page.get_by_label("Status").select_option("CONFIRMED")
    page.get_by_label("Outcome").select_option("confirmed")
    page.get_by_label("Channel").select_option("web")
    page.get_by_label("Last change from").fill("2026-11-01")
    page.get_by_label("Last change to").fill("2026-11-30")
    page.get_by_role("button", name="Search", exact=True).click()
    wanted = {
        "q": ["(206) 340-0131"],
        "status": ["CONFIRMED"],
        "outcome": ["confirmed"],
        "channel": ["web"],
        "from": ["2026-11-01"],
        "to": ["2026-11-30"],
        "limit": ["25"],
    }
    expect(page.locator("#result-count")).to_contain_text("Showing 1–3")
    assert api.list_queries()[-1] == wanted
    assert "status=CONFIRMED" in page.url  # the search is in the address bar

    page.get_by_role("button", name="Next page").click()
    expect(rows).to_have_count(2)
    expect(page.locator("#result-count")).to_contain_text("Showing 26–27 (last page)")
    assert api.list_queries()[-1] == {**wanted, "cursor": ["page-1"]}
    expect(page.get_by_role("button", name="Next page")).to_be_disabled()

    page.get_by_role("button", name="Previous page").click()
    expect(rows).to_have_count(3)
    assert api.list_queries()[-1] == wanted

    page.get_by_role("button", name="Clear").click()
    expect(page.get_by_label("Status")).to_have_value("")
    assert api.list_queries()[-1] == {"limit": ["25"]}
    assert csp_violations == []


# Worded as the console API words them (optin/handlers/console.py).
@pytest.mark.parametrize(
    ("code", "message", "field"),
    [
        ("invalid_status", "'status' must be one of PENDING, EXPIRED (or empty).", "status"),
        ("invalid_outcome", "'outcome' must be one of waiting, confirmed.", "outcome"),
        ("invalid_channel", "'channel' must be web or api.", "channel"),
        ("invalid_date", "'to' must be a date like 2026-11-01 or a time like …", "to"),
        ("invalid_date_range", "'from' must not be later than 'to'.", "from"),
        ("invalid_query", "That is not a phone number, registration ID or execution.", "q"),
    ],
)  # fmt: skip
def test_list_errors_are_shown_beside_their_field(
    console_runtime: LocalRuntime,
    page: Page,
    api: FakeConsoleApi,
    code: str,
    message: str,
    field: str,
) -> None:
    viewer(api)
    api.pages = [[]]
    api.list_error = (400, {"error": {"code": code, "message": message}})
    page.goto(f"{console_runtime.base_url}/console/?{field}=nonsense")
    expect(page.locator(f"#{field}-error")).to_have_text(message)
    expect(page.locator(f"#{field}")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#filters-error")).to_be_empty()
    if code == "invalid_date":
        check_axe(page, console_runtime.base_url)


def test_list_error_without_a_field_is_shown_above_the_form(
    console_runtime: LocalRuntime, page: Page, api: FakeConsoleApi
) -> None:
    viewer(api)
    sentence = "'limit' must be a whole number from 1 to 100."
    api.list_error = (400, {"error": {"code": "invalid_limit", "message": sentence}})
    page.goto(f"{console_runtime.base_url}/console/")
    expect(page.locator("#filters-error")).to_have_text(sentence)
    for field in ["q", "status", "outcome", "channel", "from", "to"]:
        expect(page.locator(f"#{field}-error")).to_be_empty()


# --- a sign-up ---


def test_waiting_execution_turns_succeeded_live(
    console_runtime: LocalRuntime,
    page: Page,
    api: FakeConsoleApi,
    screenshots: Path,
    csp_violations: list[str],
) -> None:
    viewer(api)
    pending = pending_signup()
    open_signup(page, console_runtime, api, pending)
    expect(page.locator("#live-note")).to_contain_text("updates every 2 seconds")

    drawn = rendered(page)
    assert {n["id"] for n in drawn["nodes"]} == {"__start__", *STATE_NAMES, "__end__"}
    statuses = {n["id"]: n["status"] for n in drawn["nodes"]}
    for name in ["LoadSettings", "ValidateNumber", "Acceptable?", "CreateContact"]:
        assert statuses[name] == "succeeded", name
    assert statuses["SendConfirmation"] == "inProgress"
    for name in ["OptIn", "Confirmed", "Expire", "Expired", "Cancelled", "Rejected"]:
        assert statuses[name] == "notStarted", name
    for node in drawn["nodes"]:
        assert node["fill"] == FILLS[node["status"]], node
    taken = {e["id"] for e in drawn["edges"] if e["taken"]}
    assert "CreateContact->SendConfirmation#next" in taken
    assert "SendConfirmation->OptIn#next" not in taken
    positions = {n["id"]: n["position"] for n in drawn["nodes"]}
    expect(page.locator('#steps tr[data-state="SendConfirmation"]')).to_contain_text("In progress")
    expect(page.locator("#legend li")).to_have_count(6)
    # A poll that brings nothing new rebuilds nothing (an open row, focus, a reader's place).
    page.locator("#conversation > li").first.evaluate("e => { e.dataset.marker = 'kept'; }")
    asked = api.detail_requests()
    for _ in range(40):
        if api.detail_requests() > asked + 1:
            break
        page.wait_for_timeout(100)
    assert api.detail_requests() > asked + 1, "the page stopped polling a RUNNING execution"
    expect(page.locator("#conversation > li").first).to_have_attribute("data-marker", "kept")
    check_axe(page, console_runtime.base_url)
    page.screenshot(path=screenshots / "console-signup-waiting.png", full_page=True)

    # The reply arrives: the next poll (every 2 s) gets the finished history.
    api.details[pending.registration_id] = pending_then_confirmed(pending).detail()
    expect(page.locator('#steps tr[data-state="Confirmed"]')).to_have_attribute(
        "data-status", "succeeded"
    )
    expect(page.locator("#outcome")).to_have_text("Confirmed by reply 'Y' 5 min after the text")
    after = rendered(page)
    statuses = {n["id"]: n["status"] for n in after["nodes"]}
    for name in ["SendConfirmation", "OptIn", "Confirmed", "__end__"]:
        assert statuses[name] == "succeeded", name
    for node in after["nodes"]:
        assert node["fill"] == FILLS[node["status"]], node
    # Recoloured in place: the same drawing, not a new layout.
    assert {n["id"]: n["position"] for n in after["nodes"]} == positions
    assert "SendConfirmation->OptIn#next" in {e["id"] for e in after["edges"] if e["taken"]}
    expect(page.locator("#live-note")).to_be_empty()

    # Finished: the page stops asking.
    asked = api.detail_requests()
    page.wait_for_timeout(2_600)
    assert api.detail_requests() == asked
    assert csp_violations == []


@pytest.mark.parametrize(
    ("make", "expected", "shot"),
    [
        (
            confirmed_signup,
            {"SendConfirmation": "succeeded", "OptIn": "succeeded", "Confirmed": "succeeded",
             "Expire": "notStarted"},
            "console-signup-confirmed.png",
        ),
        (
            expired_signup,
            {"SendConfirmation": "caughtError", "Expire": "succeeded", "Expired": "succeeded",
             "OptIn": "notStarted"},
            "console-signup-expired.png",
        ),
        (
            stopped_signup,
            {"SendConfirmation": "caughtError", "Cancelled": "succeeded", "Expire": "notStarted"},
            "console-signup-cancelled.png",
        ),
        (
            rejected_signup,
            {"Acceptable?": "succeeded", "Rejected": "failed", "CreateContact": "notStarted"},
            "console-signup-rejected.png",
        ),
    ],
)  # fmt: skip
def test_each_outcome_is_drawn_and_described(
    console_runtime: LocalRuntime,
    page: Page,
    api: FakeConsoleApi,
    screenshots: Path,
    csp_violations: list[str],
    make: Any,
    expected: dict[str, str],
    shot: str,
) -> None:
    viewer(api)
    signup: Signup = make()
    open_signup(page, console_runtime, api, signup)
    statuses = node_statuses(page)
    for name, status in expected.items():
        assert statuses[name] == status, (name, statuses)
    expect(page.locator("#phone-heading")).to_have_text(signup.phone)
    expect(page.locator("#live-note")).to_be_empty()
    # Every step that ran is a row of the step table, with its status in words.
    for name, status in expected.items():
        row = page.locator(f'#steps tr[data-state="{name}"]')
        if status == "notStarted":
            expect(row).to_have_count(0)
        else:
            expect(row).to_have_attribute("data-status", status)
    expect(page.locator("#history tbody tr[data-event-id]")).to_have_count(len(signup.history))
    expect(page.locator("#ledger > li")).to_have_count(len(signup.ledger))
    check_axe(page, console_runtime.base_url)
    page.screenshot(path=screenshots / shot, full_page=True)
    assert csp_violations == []


def test_steps_history_conversation_and_evidence(
    console_runtime: LocalRuntime, page: Page, api: FakeConsoleApi, tmp_path: Path
) -> None:
    viewer(api)
    signup = confirmed_signup()
    open_signup(page, console_runtime, api, signup)

    validate = page.locator('#steps tr[data-state="ValidateNumber"]')
    expect(validate.locator("td").nth(4)).to_have_text("1")  # retries: one Lambda.Unknown
    expect(validate.locator("td").nth(5)).to_have_text("—")  # retried away: no error left
    expect(page.locator('#history tr[data-type="TaskFailed"]')).to_have_class(
        re.compile("event--failed")
    )

    # An event row opens to its input/output, by keyboard too.
    toggle = page.locator('#history tr[data-type="TaskSubmitted"] button')
    details = page.locator(f"#{toggle.get_attribute('aria-controls')}")
    expect(details).to_be_hidden()
    toggle.focus()
    page.keyboard.press("Enter")
    expect(details).to_be_visible()
    expect(details).to_contain_text('"messageId": "msg-c296ab09-1"')
    expect(toggle).to_have_attribute("aria-expanded", "true")
    expect(toggle).to_be_focused()
    page.keyboard.press("Enter")
    expect(details).to_be_hidden()

    bubbles = page.locator("#conversation > li")
    expect(bubbles).to_have_count(3)
    expect(bubbles.nth(1)).to_contain_text("yes!")
    expect(bubbles.nth(1)).to_have_class(re.compile("bubble--inbound"))

    requested = page.locator('#ledger > li[data-type="requested"]')
    for shown in ["203.0.113.24", "Chrome/131.0", "https://signup.example.com/", "2026-11-01"]:
        expect(requested).to_contain_text(shown)
    expect(requested).to_contain_text("Consent is not a condition of purchase")

    with page.expect_download() as info:
        page.get_by_role("button", name="Download evidence (JSON)").click()
    download = info.value
    assert download.suggested_filename == f"consent-evidence-{signup.registration_id}.json"
    target = tmp_path / "evidence.json"
    download.save_as(target)
    record = json.loads(target.read_text())
    assert record["ledger"] == signup.ledger
    assert record["signup"] == signup.summary()
    assert record["conversation"] == signup.conversation
    assert record["ledger"][0]["details"]["evidence"]["ip"] == "203.0.113.24"


def test_signup_page_without_a_session_says_so(
    console_runtime: LocalRuntime, page: Page, api: FakeConsoleApi
) -> None:
    page.goto(f"{console_runtime.base_url}/console/signup.html?id=anything")
    expect(page.locator("#signin-needed")).to_be_visible()
    expect(page.locator("#signup")).to_be_hidden()
    assert api.detail_requests() == 0


def test_unknown_signup_shows_the_servers_sentence(
    console_runtime: LocalRuntime, page: Page, api: FakeConsoleApi
) -> None:
    viewer(api)
    page.goto(f"{console_runtime.base_url}/console/signup.html?id=no-such-id")
    expect(page.locator("#page-error")).to_have_text("There is no sign-up with this ID.")
    expect(page.locator("#signup")).to_be_hidden()


def test_inputs_and_focus_rings_have_3_to_1_contrast(
    console_runtime: LocalRuntime, page: Page, api: FakeConsoleApi
) -> None:
    """WCAG 1.4.11: a field's border and the focus ring stand out 3:1 from what is around."""
    viewer(api)
    api.pages = [[s.summary() for s in all_signups()]]
    page.goto(f"{console_runtime.base_url}/console/")
    expect(page.locator("#results tbody tr")).to_have_count(5)
    for selector in ["#q", "#status", "#outcome", "#channel", "#from", "#to"]:
        field = page.locator(selector)
        border = field.evaluate("e => getComputedStyle(e).borderTopColor")
        inside = field.evaluate("e => getComputedStyle(e).backgroundColor")
        card = field.evaluate("e => getComputedStyle(e.closest('.card')).backgroundColor")
        assert contrast(border, inside) >= 3 and contrast(border, card) >= 3, (selector, border)
        field.focus()
        page.keyboard.press("Shift+Tab")
        page.keyboard.press("Tab")  # focus by keyboard, so :focus-visible applies
        ring = field.evaluate("e => getComputedStyle(e).outlineColor")
        style = field.evaluate("e => getComputedStyle(e).outlineStyle")
        assert style == "solid" and contrast(ring, card) >= 3, (selector, ring, style)
    button = page.get_by_role("button", name="Search", exact=True)
    button.focus()
    ring = button.evaluate("e => getComputedStyle(e).outlineColor")
    page_bg = page.evaluate("() => getComputedStyle(document.body).backgroundColor")
    assert contrast(ring, page_bg) >= 3, ring


def engine_detail(runtime: LocalRuntime, phone: str, registration_id: str) -> dict[str, Any]:
    """A sign-up's page data as the console API assembles it (the API part's job), from the
    local engine's real DescribeStateMachine, DescribeExecution and GetExecutionHistory."""
    sfn = runtime.sfn()
    arn = execution_arn(registration_id)
    execution = sfn.describe_execution(executionArn=arn)
    machine = sfn.describe_state_machine(stateMachineArn=execution["stateMachineArn"])
    events = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
    history = json.loads(json.dumps(events, default=lambda value: value.isoformat()))
    contact = runtime.contact(phone) or {}
    created = datetime.fromisoformat(str(contact.get("createdAt", "2026-01-01T00:00:00+00:00")))
    signup = Signup(
        registration_id,
        phone,
        str(contact.get("status", "PENDING")),
        "",
        f"Status {contact.get('status')}",
        "web",
        created,
        created,
        execution["status"],
        history,
        list(contact.get("events", [])),
        [],
    )
    detail = signup.detail()
    detail["definition"] = json.loads(machine["definition"])
    detail["execution"]["stopDate"] = (
        execution["stopDate"].isoformat() if execution.get("stopDate") else None
    )
    return detail


def test_live_update_from_the_local_engines_own_history(
    console_runtime: LocalRuntime, page: Page, api: FakeConsoleApi
) -> None:
    """Real shapes, not hand-built ones: a sign-up on the local runtime, its history read
    through boto3 while it waits for the reply, then again after a real YES."""
    api.session = {"username": "ada", "role": "agent"}
    phone = "+12063400177"
    status, body = console_runtime.signup(phone)
    assert status == 202, body
    registration_id = str(body["registrationId"])
    wait_for(lambda: console_runtime.messages(phone, "outbound"), what="the confirmation text")
    api.details[registration_id] = engine_detail(console_runtime, phone, registration_id)
    page.goto(f"{console_runtime.base_url}/console/signup.html?id={registration_id}")
    waiting = page.locator('#steps tr[data-state="SendConfirmation"]')
    expect(waiting).to_have_attribute("data-status", "inProgress")
    statuses = node_statuses(page)
    assert statuses["CreateContact"] == "succeeded" and statuses["OptIn"] == "notStarted"

    console_runtime.text_in(phone, "yes")
    sfn = console_runtime.sfn()
    wait_for(
        lambda: (
            sfn.describe_execution(executionArn=execution_arn(registration_id))["status"]
            == "SUCCEEDED"
        ),
        what="the execution to succeed",
    )
    api.details[registration_id] = engine_detail(console_runtime, phone, registration_id)
    expect(page.locator('#steps tr[data-state="Confirmed"]')).to_have_attribute(
        "data-status", "succeeded"
    )
    statuses = node_statuses(page)
    for name in ["SendConfirmation", "OptIn", "Confirmed", "__end__"]:
        assert statuses[name] == "succeeded", (name, statuses)
    expect(page.locator("#ledger > li")).to_have_count(4)  # requested, sent, confirmed, welcome


def test_keyboard_from_search_to_a_signup_and_back(
    console_runtime: LocalRuntime, page: Page, api: FakeConsoleApi
) -> None:
    viewer(api)
    confirmed = confirmed_signup()
    api.pages = [[confirmed.summary()]]
    api.details[confirmed.registration_id] = confirmed.detail()
    page.goto(f"{console_runtime.base_url}/console/")
    expect(page.locator("#results tbody tr")).to_have_count(1)
    page.get_by_label("Search").focus()
    page.keyboard.type("206 340 0131")
    page.keyboard.press("Enter")  # submits the search form
    expect(page).to_have_url(re.compile(r"\?q=206\+340\+0131$"))
    assert api.list_queries()[-1]["q"] == ["206 340 0131"]
    page.locator("#results tbody a").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#outcome")).to_have_text(confirmed.outcome)
    page.get_by_role("link", name="← All sign-ups").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Sign-ups")).to_be_visible()
