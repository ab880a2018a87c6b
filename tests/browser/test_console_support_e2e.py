"""The console as a support person uses it, nothing stubbed: the local runtime's pages, its
console API behind the sign-in, the registration workflow and the SMS sandbox. No
page.route(): every answer on the page is the runtime's own.

Part one: the agent actions and the reports, each checked where a person would look (the
page) and where the effect lands (the SMS sandbox, Step Functions). Part two: the four
questions support staff get (docs/support-console.md), one test each, answered by finding the
number as the caller reads it out and reading the answer in words on the page.

The runtime runs with a 6 s resend cooldown and CarrierLookup=true (the sandbox answers
LANDLINE for +1 NPA 555-0180..0189); the expiry question has its own runtime with a 3 s
confirmation window, so the other sign-ups here do not expire under the tests.
"""

from __future__ import annotations

import csv
import io
import json
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from tests.browser.a11y import check_axe
from tests.browser.test_console_e2e import find, sign_in
from tests.browser.test_console_pages import node_statuses
from tests.support.console import add_user
from tests.support.runtime import LocalRuntime, wait_for

pytestmark = pytest.mark.browser

AGENT = "ada-agent"
VIEWER = "val-viewer"
COOLDOWN = 6
WINDOW = 3
KEYS = ["signedUp", "texted", "confirmed", "expired", "optedOut", "rejected"]


def _started(tmp: Path, parameters: dict[str, str]) -> LocalRuntime:
    rt = LocalRuntime(tmp / "runtime", parameters).start()
    try:
        add_user(rt, AGENT, "agent")
        add_user(rt, VIEWER, "viewer")
    except BaseException:
        rt.stop()
        raise
    return rt


@pytest.fixture(scope="module")
def rt(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRuntime]:
    runtime = _started(
        tmp_path_factory.mktemp("support"),
        {"ResendCooldownSeconds": str(COOLDOWN), "CarrierLookup": "true"},
    )
    try:
        yield runtime
    finally:
        runtime.stop()


def typed(number: str) -> str:
    """+12063400201 as a caller reads it out: (206) 340-0201."""
    return f"({number[2:5]}) {number[5:8]}-{number[8:]}"


def pending(rt: LocalRuntime, number: str) -> str:
    """A real sign-up, texted and waiting for its reply; its registration ID."""
    texts_before = len(rt.messages(number, "outbound"))
    status, body = rt.signup(number)
    assert status == 202, body
    registration = str(body["registrationId"])
    # This registration's own text and execution: a number signed up before already has both,
    # and a YES sent before the new text is out finds no task token to answer.
    wait_for(
        lambda: len(rt.messages(number, "outbound")) > texts_before, what=f"the text to {number}"
    )
    wait_for(
        lambda: registration in str((rt.contact(number) or {}).get("executionArn")),
        what="the execution's ARN",
    )
    return registration


def open_signup(page: Page, rt: LocalRuntime, number: str, user: str = AGENT) -> None:
    """Signs in, finds the number as typed, opens its page."""
    sign_in(page, rt, user)
    find(page, typed(number))
    page.locator("#results tbody tr").first.get_by_role("link").click()
    expect(page.locator("#steps tbody tr").first).to_be_visible()


def act(page: Page, button: str, title: str, why: str) -> None:
    page.locator("#action-buttons").get_by_role("button", name=button, exact=True).click()
    dialog = page.get_by_role("dialog", name=title)
    expect(dialog).to_be_visible()
    dialog.get_by_label("Reason (required)").fill(why)
    dialog.locator("#action-confirm").click()
    expect(dialog).to_be_hidden()


def ledger_entry(page: Page, kind: str) -> Locator:
    return page.locator(f'#ledger .ledger__entry[data-type="{kind}"]').last


def texts_out(rt: LocalRuntime, number: str) -> list[str]:
    return [m["body"] for m in rt.messages(number, "outbound")]


def execution_status(rt: LocalRuntime, number: str) -> str:
    arn = (rt.contact(number) or {})["executionArn"]
    return str(rt.sfn().describe_execution(executionArn=arn)["status"])


# --- part one: the actions and the reports ---


def test_an_agent_cancels_a_waiting_signup(rt: LocalRuntime, page: Page) -> None:
    number = "+12063400201"
    pending(rt, number)
    open_signup(page, rt, number)
    expect(page.locator("#outcome")).to_have_text(re.compile(r"^Waiting for a reply"))
    why = "Caller says it is not their number"
    act(page, "Cancel sign-up", "Cancel this sign-up?", why)

    expect(page.locator("#action-result")).to_have_text("The sign-up was cancelled.")
    expect(page.locator("#outcome")).to_have_text(f"Cancelled by {AGENT}: {why}")
    expect(page.locator("#status-badge .badge")).to_have_text("Expired")
    entry = ledger_entry(page, "expired")
    expect(entry).to_contain_text("an agent cancelled the sign-up")
    expect(entry).to_contain_text(f"By{AGENT}")  # <dt>By</dt><dd>…</dd>, no space between
    expect(entry).to_contain_text(why)
    # The graph ends where the execution stopped: the wait cancelled, nothing after it ran.
    statuses = node_statuses(page)
    assert statuses["SendConfirmation"] == "cancelled", statuses
    for later in ["OptIn", "Confirmed", "Expire", "Expired"]:
        assert statuses[later] == "notStarted", (later, statuses)
    expect(page.locator("#execution-facts")).to_contain_text("Execution ABORTED")
    expect(page.locator('#history tr[data-type="ExecutionAborted"]')).to_have_count(1)
    expect(page.locator("#live-note")).to_be_empty()
    assert execution_status(rt, number) == "ABORTED"
    assert (rt.contact(number) or {})["optedIn"] is False
    check_axe(page, rt.base_url)


def ask_resend(page: Page, why: str) -> Locator:
    """Opens the resend dialog, gives the reason, confirms; the dialog."""
    page.locator("#action-buttons").get_by_role("button", name="Resend confirmation").click()
    dialog = page.get_by_role("dialog", name="Resend the confirmation text?")
    dialog.get_by_label("Reason (required)").fill(why)
    dialog.locator("#action-confirm").click()
    return dialog


def test_an_agent_resends_after_the_cooldown(rt: LocalRuntime, page: Page) -> None:
    number = "+12063400202"
    pending(rt, number)
    texted = time.monotonic()
    open_signup(page, rt, number)
    first = texts_out(rt, number)
    assert len(first) == 1, first
    time.sleep(max(0.0, texted + COOLDOWN + 0.5 - time.monotonic()))
    dialog = ask_resend(page, "Caller never got the first text")
    expect(dialog).to_be_hidden()
    expect(page.locator("#action-result")).to_have_text("The confirmation text was sent again.")
    wait_for(lambda: len(texts_out(rt, number)) == 2, what="the second text")
    sent = texts_out(rt, number)
    assert sent[1] == first[0], sent  # the same confirmation text, again
    expect(page.locator("#conversation .bubble--outbound")).to_have_count(2)
    entry = ledger_entry(page, "resend_requested")
    expect(entry).to_contain_text(f"By{AGENT}")
    expect(entry).to_contain_text("Caller never got the first text")
    expect(entry).to_contain_text("Sourceconsole")
    expect(page.locator("#outcome")).to_have_text(re.compile(r"^Waiting for a reply"))

    # Straight after a text the cooldown holds: the dialog counts down and stays open,
    # nothing goes out meanwhile, and at zero the same dialog resends.
    dialog = ask_resend(page, "Still nothing, says the caller")
    countdown = dialog.locator("#action-cooldown")
    expect(countdown).to_have_text(re.compile(rf"^You can resend in 0:0[0-{COOLDOWN}]\.$"))
    confirm = dialog.locator("#action-confirm")
    expect(confirm).to_be_disabled()
    assert len(texts_out(rt, number)) == 2
    expect(dialog.locator("#action-error")).to_have_text(
        "The wait is over: you can resend now.", timeout=(COOLDOWN + 5) * 1000
    )
    assert len(texts_out(rt, number)) == 2
    confirm.click()
    expect(dialog).to_be_hidden()
    wait_for(lambda: len(texts_out(rt, number)) == 3, what="the third text")
    expect(page.locator("#conversation .bubble--outbound")).to_have_count(3)
    assert execution_status(rt, number) == "RUNNING"
    expect(page.locator('#ledger .ledger__entry[data-type="resend_requested"]')).to_have_count(2)
    # The person can still confirm: the workflow waits on as before.
    rt.text_in(number, "YES")
    expect(page.locator("#outcome")).to_have_text(re.compile(r"^Confirmed by reply 'YES'"))
    heading = entry.locator(".ledger__head strong").inner_text()
    assert heading == "Confirmation resent", heading


def test_an_agent_opts_a_number_out_and_no_text_goes_out(rt: LocalRuntime, page: Page) -> None:
    number = "+12063400203"
    pending(rt, number)
    open_signup(page, rt, number)
    why = "Caller asked on the phone never to be texted"
    act(page, "Opt out", "Opt this number out?", why)

    expect(page.locator("#outcome")).to_have_text(f"Opted out while pending by {AGENT}: {why}")
    expect(page.locator("#status-badge .badge")).to_have_text("Opted out")
    entry = ledger_entry(page, "opted_out")
    expect(entry).to_contain_text(f"By{AGENT}")
    expect(entry).to_contain_text(why)
    expect(page.locator("#live-note")).to_be_empty()
    assert execution_status(rt, number) != "RUNNING"
    # No goodbye text, and a YES now opts nothing in and is not answered with a welcome.
    rt.text_in(number, "YES")
    time.sleep(2)
    assert len(texts_out(rt, number)) == 1, texts_out(rt, number)
    contact = rt.contact(number) or {}
    assert contact["status"] == "OPTED_OUT" and contact["optedIn"] is False, contact
    # The number is on the SMS service's opt-out list: a send to it is refused there too.
    sms = rt.sms()
    with pytest.raises(sms.exceptions.ConflictException):
        sms.send_text_message(DestinationPhoneNumber=number, MessageBody="test")


def _today_row(page: Page) -> dict[str, int]:
    today = datetime.now(UTC).date().isoformat()
    row = page.locator("#funnel tbody tr", has=page.locator(f'time[datetime="{today}"]'))
    expect(row).to_have_count(1)
    return dict(zip(KEYS, [int(v) for v in row.locator("td").all_inner_texts()], strict=True))


def test_the_reports_count_todays_signups(rt: LocalRuntime, page: Page) -> None:
    sign_in(page, rt, VIEWER)
    page.get_by_role("link", name="Reports").click()
    before = _today_row(page)
    confirmed, landline = "+12063400204", "+12065550182"
    pending(rt, confirmed)
    rt.text_in(confirmed, "yes")
    wait_for(lambda: (rt.contact(confirmed) or {}).get("status") == "CONFIRMED")
    status, body = rt.signup(landline)
    assert status == 202, body
    wait_for(lambda: (rt.contact(landline) or {}).get("status") == "REJECTED")

    page.reload()
    after = _today_row(page)
    moved = {k: after[k] - before[k] for k in KEYS}
    assert moved == {
        "signedUp": 2,
        "texted": 1,
        "confirmed": 1,
        "expired": 0,
        "optedOut": 0,
        "rejected": 1,
    }, (before, after)
    expect(page.locator("#funnel tfoot tr td").first).to_have_text(
        re.compile(r"^\d+$")
    )  # the totals row is drawn too
    check_axe(page, rt.base_url)


def test_a_viewer_downloads_the_list_as_csv_masked(rt: LocalRuntime, page: Page) -> None:
    numbers = ["+12063400205", "+12063400206"]
    for number in numbers:
        pending(rt, number)
    sign_in(page, rt, VIEWER)
    page.get_by_label("Status").select_option("PENDING")
    page.locator("#filters").get_by_role("button", name="Search").click()
    expect(page).to_have_url(re.compile(r"status=PENDING"))
    with page.expect_download() as download:
        page.get_by_role("link", name="Download this list (CSV)").click()
    text = Path(download.value.path()).read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows, text
    phones = [row.get("phoneNumber", "") for row in rows]
    for number in numbers:
        # Masked, and (as every cell starting with + = - @) neutralised against formulas.
        assert f"'{number[:5]}***{number[-4:]}" in phones, phones
        assert number[2:] not in text  # never whole, in no column
    assert {row["status"] for row in rows if row.get("status")} == {"PENDING"}, rows


# --- part two: the four questions ---


def test_q1_i_signed_up_and_never_got_the_text(
    rt: LocalRuntime, page: Page, screenshots: Path
) -> None:
    """A landline: CarrierLookup says so, the workflow rejects it before any text."""
    number = "+12065550181"
    status, body = rt.signup(number)
    assert status == 202, body
    wait_for(lambda: (rt.contact(number) or {}).get("status") == "REJECTED")
    sign_in(page, rt, VIEWER)
    find(page, "206 555 0181")
    row = page.locator("#results tbody tr").first
    expect(row.locator(".badge")).to_have_text("Rejected")
    row.get_by_role("link").click()
    expect(page.locator("#outcome")).to_have_text("Rejected: landline")
    # The render-done marker bench/console_page.py times: ms since the navigation began.
    expect(page.locator("#graph")).to_have_attribute("data-drawn-at", re.compile(r"^\d+\.\d$"))
    expect(page.locator("#conversation")).to_have_text("No texts were sent or received.")
    expect(ledger_entry(page, "rejected")).to_be_visible()
    statuses = node_statuses(page)
    assert statuses["Rejected"] == "failed", statuses  # a Fail state, as AWS draws it
    assert statuses["SendConfirmation"] == "notStarted", statuses
    assert texts_out(rt, number) == []
    check_axe(page, rt.base_url)
    page.screenshot(path=screenshots / "console-e2e-q1-rejected.png")


def test_q2_i_replied_yes_and_nothing_happened(
    rt: LocalRuntime, page: Page, screenshots: Path
) -> None:
    """The execution was stopped under the waiting sign-up: the page says so, Repair ends it."""
    number = "+12063400207"
    pending(rt, number)
    arn = (rt.contact(number) or {})["executionArn"]
    rt.sfn().stop_execution(executionArn=arn, error="Ops", cause="stopped by hand")
    open_signup(page, rt, number)
    expect(page.locator("#status-badge .badge")).to_have_text("Pending")
    expect(page.locator("#repair-note")).to_be_visible()
    expect(page.locator("#execution-facts")).to_contain_text("Execution ABORTED")
    buttons = [b.inner_text() for b in page.locator("#action-buttons button:visible").all()]
    assert buttons == ["Opt out", "Repair"], buttons
    page.screenshot(path=screenshots / "console-e2e-q2-stuck.png")
    why = "Caller replied YES, no answer: workflow was stopped"
    act(page, "Repair", "Repair this sign-up?", why)

    expect(page.locator("#outcome")).to_have_text("Expired: its execution ended (ABORTED)")
    expect(page.locator("#repair-note")).to_be_hidden()
    entry = ledger_entry(page, "expired")
    expect(entry).to_contain_text("its execution was no longer running")
    expect(entry).to_contain_text("ABORTED")
    expect(entry).to_contain_text(f"By{AGENT}")
    expect(entry).to_contain_text(why)
    assert (rt.contact(number) or {})["status"] == "EXPIRED"
    # As the guide says: the person signs up again, and this time YES confirms it.
    pending(rt, number)
    rt.text_in(number, "YES")
    wait_for(lambda: (rt.contact(number) or {}).get("status") == "CONFIRMED")
    find_again = page.get_by_role("link", name="All sign-ups")
    find_again.click()
    find(page, typed(number))
    page.locator("#results tbody tr").first.get_by_role("link").click()
    expect(page.locator("#outcome")).to_have_text(re.compile(r"^Confirmed by reply 'YES'"))


def test_q2_a_yes_that_reached_a_stopped_execution(rt: LocalRuntime, page: Page) -> None:
    """The YES did arrive, after the execution was stopped: its refused task token made the
    reply handler expire the sign-up by itself and tell the person; the page says so."""
    number = "+12063400210"
    pending(rt, number)
    arn = (rt.contact(number) or {})["executionArn"]
    rt.sfn().stop_execution(executionArn=arn, error="Ops", cause="stopped by hand")
    rt.text_in(number, "YES")
    wait_for(lambda: (rt.contact(number) or {}).get("status") == "EXPIRED", what="the expiry")
    wait_for(lambda: len(texts_out(rt, number)) == 2, what="the answer to the YES")
    assert "This sign-up is no longer open" in texts_out(rt, number)[1]
    open_signup(page, rt, number, VIEWER)
    expect(page.locator("#outcome")).to_have_text("Expired: its execution ended (ABORTED)")
    entry = ledger_entry(page, "expired")
    expect(entry).to_contain_text("its execution was no longer running")
    expect(entry).to_contain_text("ABORTED")
    expect(page.locator("#actions")).to_be_hidden()  # a viewer
    expect(page.locator("#conversation .bubble--outbound")).not_to_have_count(0)
    # The YES that found it stopped, and our "no longer open" answer, are both on record.
    expect(page.locator("#conversation .bubble--inbound")).to_have_text(re.compile("YES"))
    expect(page.locator("#conversation .bubble--outbound")).to_have_count(2)


def test_q4_prove_this_person_agreed(rt: LocalRuntime, page: Page, browser: Browser) -> None:
    """Signed up on the real form in this browser; the evidence download says how."""
    number = "+12063400208"
    page.goto(rt.base_url + "/")
    shown = page.locator("#disclosure-text")
    expect(shown).not_to_have_text("Loading the terms…")
    disclosure_text = shown.inner_text()
    page.get_by_label("First name").fill("Mary-Ann")
    page.get_by_label("Mobile number").fill(typed(number))
    page.get_by_role("checkbox").check()
    user_agent = str(page.evaluate("() => navigator.userAgent"))
    before = datetime.now(UTC)
    page.get_by_role("button", name="Text me a confirmation").click()
    expect(page.locator("#success")).to_be_visible()
    wait_for(lambda: rt.messages(number, "outbound"), what="the confirmation text")
    rt.text_in(number, "Yes!")
    wait_for(lambda: (rt.contact(number) or {}).get("status") == "CONFIRMED")
    status, disclosure = rt.get("/disclosure")
    assert status == 200, disclosure

    open_signup(page, rt, number)
    expect(page.locator("#outcome")).to_have_text(re.compile(r"^Confirmed by reply 'Yes!'"))
    requested = ledger_entry(page, "requested")
    expect(requested).to_contain_text(user_agent)
    expect(requested).to_contain_text(f"{rt.base_url}/")
    with page.expect_download() as download:
        page.get_by_role("button", name="Download evidence (JSON)").click()
    record = json.loads(Path(download.value.path()).read_text(encoding="utf-8"))
    assert record["kind"] == "sms-consent-evidence"
    assert record["signup"]["phoneNumber"] == number  # an agent's download: whole
    events = {e["type"]: e for e in record["ledger"]}
    evidence = events["requested"]["details"]["evidence"]
    assert evidence["userAgent"] == user_agent, evidence
    assert evidence["ip"] == "127.0.0.1", evidence
    assert evidence["page"].startswith(f"{rt.base_url}/"), evidence
    assert evidence["channel"] == "web", evidence
    captured = datetime.fromisoformat(evidence["capturedAt"].replace("Z", "+00:00"))
    assert before <= captured <= datetime.now(UTC), evidence
    assert evidence["disclosure"]["version"] == disclosure["version"], evidence
    assert " ".join(evidence["disclosure"]["text"].split()) == " ".join(disclosure_text.split()), (
        evidence,
        disclosure_text,
    )
    assert events["confirmed"]["details"]["reply"] == "Yes!", events["confirmed"]
    assert [m["direction"] for m in record["conversation"]] == ["outbound", "inbound", "outbound"]
    # The text we sent, exactly as the phone got it, with the id the SMS service gave it.
    texted = rt.messages(number, "outbound")[0]
    sent = events["confirmation_sent"]["details"]
    assert (sent["text"], sent["messageId"]) == (texted["body"], texted["messageId"]), sent
    expect(ledger_entry(page, "confirmation_sent")).to_contain_text(texted["messageId"])

    # A viewer's download of the same record has the number masked, and only masked.
    viewer = browser.new_context(viewport={"width": 1280, "height": 860})
    try:
        other = viewer.new_page()
        open_signup(other, rt, number, VIEWER)
        with other.expect_download() as download:
            other.get_by_role("button", name="Download evidence (JSON)").click()
        masked = Path(download.value.path()).read_text(encoding="utf-8")
        assert json.loads(masked)["signup"]["phoneNumber"] == "+1206***0208"
        assert number[2:] not in masked
    finally:
        viewer.close()


@pytest.fixture
def short_window(tmp_path: Path) -> Iterator[LocalRuntime]:
    runtime = _started(tmp_path, {"ConfirmationWindowSeconds": str(WINDOW)})
    try:
        yield runtime
    finally:
        runtime.stop()


def test_q3_why_did_this_number_expire(
    short_window: LocalRuntime, page: Page, screenshots: Path
) -> None:
    rt = short_window
    number = "+12063400209"
    pending(rt, number)
    confirmation = texts_out(rt, number)[0]
    wait_for(lambda: (rt.contact(number) or {}).get("status") == "EXPIRED", timeout=20)
    sign_in(page, rt, VIEWER)
    find(page, "+1 206 340 0209")
    row = page.locator("#results tbody tr").first
    expect(row.locator(".badge")).to_have_text("Expired")
    expect(row.locator(".unanswered blockquote")).to_have_text(confirmation)
    row.get_by_role("link").click()
    expect(page.locator("#outcome")).to_have_text(re.compile(r"^Expired: no reply in \d+ s$"))
    entry = ledger_entry(page, "expired")
    expect(entry).to_contain_text("no reply before the confirmation window closed")
    statuses = node_statuses(page)
    assert statuses["SendConfirmation"] == "caughtError", statuses
    for name in ["Expire", "Expired"]:
        assert statuses[name] == "succeeded", (name, statuses)
    assert statuses["OptIn"] == "notStarted", statuses
    expect(page.locator('#history tr[data-type="TaskTimedOut"]')).to_have_count(1)
    assert "3400209" not in page.locator("#main").inner_text()  # a viewer: masked
    check_axe(page, rt.base_url)
    page.screenshot(path=screenshots / "console-e2e-q3-expired.png")
