"""The console's reads over a big store: 100,000 sign-ups in the local SQLite store, then the
list's first page, a search by a number as a person types it, and the 30-day funnel, each
timed 20 times through the runtime's front door (the authorizer and the console function's
worker included), as a signed-in agent's page asks them.

The store is filled directly through the SQLite adapter before the runtime starts (one save
per sign-up, of the contact as its transitions left it and every ledger event they
recorded, so the funnel's counters are kept as in production), in a realistic mix: most
confirmed, some expired, stopped, rejected, the last day's still pending. Not a test:
`python -m bench` runs it and prints the figures.
"""

from __future__ import annotations

import random
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

from bench.machine import describe
from optin.adapters.sqlite_contact_store import SqliteContactStore
from optin.domain import contact as t
from optin.domain.consent import ConsentEvent, ExpiryReason
from optin.domain.contact import Contact
from optin.domain.messages import confirmation, welcome
from optin.domain.settings import Settings
from tests.support.console import add_user, request, sign_in, token_of
from tests.support.runtime import LocalRuntime

SIGNUPS = 100_000
RUNS = 20
DAYS = 90
WINDOW = 24 * 3600
# Outcome mix of the sign-ups older than a day (the last day's are PENDING).
MIX = (("confirmed", 0.70), ("expired", 0.19), ("stopped", 0.07), ("rejected", 0.04))
AREAS = ("206", "253", "360", "425", "509")
MACHINE = "arn:aws:states:us-east-1:123456789012:execution:RegistrationStateMachine"


def _numbers(count: int, rng: random.Random) -> list[str]:
    """Distinct valid NANP numbers (exchange and line chosen so phonenumbers accepts them)."""
    seen: set[str] = set()
    while len(seen) < count:
        area = rng.choice(AREAS)
        seen.add(f"+1{area}{rng.randint(200, 999)}{rng.randint(0, 9999):04d}")
    return sorted(seen)


def _history(
    phone: str, index: int, at: datetime, rng: random.Random
) -> tuple[Contact, list[ConsentEvent]]:
    """One sign-up's contact and ledger, through the domain's own transitions."""
    settings = Settings()
    registration = f"reg-{index:06d}"
    api = rng.random() < 0.15
    evidence = {
        "channel": "api" if api else "web",
        "ip": "203.0.113.7",
        "page": None if api else "https://example.com/sms",
        "apiClient": "partner-1" if api else None,
    }
    events: list[ConsentEvent] = []

    def step(change: t.Change) -> Contact:
        assert change.after is not None
        events.extend(change.events)
        return change.after

    contact = step(
        t.request(
            None,
            phone_number=phone,
            registration_id=registration,
            first_name="Ana",
            execution_arn=f"{MACHINE}:{registration}",
            evidence=evidence,
            validation={"e164": phone},
            now=at,
        )
    )
    sent_at = at + timedelta(seconds=2)
    change, key = t.attach_task_token(
        contact, registration_id=registration, task_token="token", now=sent_at
    )
    contact = step(change)
    contact = step(
        t.record_send(
            contact,
            registration_id=registration,
            dedup_key=key,
            message=confirmation(settings, "Ana"),
            message_id=f"msg-{index}",
            now=sent_at,
        )
    )
    if at > datetime.now(UTC) - timedelta(days=1):
        return contact, events
    roll, outcome = rng.random(), MIX[-1][0]
    for name, share in MIX:
        if roll < share:
            outcome = name
            break
        roll -= share
    if outcome == "confirmed":
        replied = sent_at + timedelta(seconds=rng.lognormvariate(4.5, 1.2))
        contact = step(
            t.confirm(
                contact,
                registration_id=registration,
                reply={"reply": "yes", "inboundMessageId": f"in-{index}", "receivedAt": None},
                now=replied,
            )
        )
        contact = step(
            t.record_welcome(
                contact,
                registration_id=registration,
                message=welcome(settings, "Ana"),
                message_id=f"welcome-{index}",
                now=replied + timedelta(seconds=1),
            )
        )
    elif outcome == "expired":
        contact = step(
            t.expire(
                contact,
                registration_id=registration,
                now=sent_at + timedelta(seconds=WINDOW),
                reason=ExpiryReason.NO_REPLY,
            )
        )
    elif outcome == "stopped":
        contact = step(
            t.opt_out(
                contact,
                details={"reply": "STOP", "inboundMessageId": f"in-{index}"},
                now=sent_at + timedelta(seconds=rng.uniform(10, 3600)),
            )
        )
    else:
        contact = step(
            t.reject(contact, registration_id=registration, reason="landline", now=sent_at)
        )
    return contact, events


def fill(path: Path, count: int, seed: int = 7) -> list[str]:
    """`count` sign-ups over the last DAYS days into the SQLite store at `path`; their
    numbers."""
    rng = random.Random(seed)
    numbers = _numbers(count, rng)
    store = SqliteContactStore(path)
    now = datetime.now(UTC)
    for index, phone in enumerate(numbers):
        at = now - timedelta(seconds=rng.uniform(60, DAYS * 86400))
        contact, events = _history(phone, index, at, rng)
        # One save of the contact as the transitions left it: version 1, every event.
        store.save(replace(contact, version=1), expected_version=None, events=events)
    store.close()
    return numbers


def _timed(call: Callable[[], None], runs: int) -> tuple[float, float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
    ordered = sorted(times)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]


def main(quick: bool = False) -> None:
    count = 10_000 if quick else SIGNUPS
    print(f"\n## The console's reads over {count:,} sign-ups (local SQLite store)\n")
    print(f"machine: {describe()}")
    rng = random.Random(11)
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "rt"
        data.mkdir()
        started = time.perf_counter()
        numbers = fill(data / "contacts.db", count)
        print(f"filled in {time.perf_counter() - started:.1f} s\n")
        with LocalRuntime(data) as rt:
            add_user(rt, "bench-agent", "agent")
            status, body, headers = sign_in(rt, "bench-agent")
            assert status == 200, body
            cookie = {"Cookie": f"console_session={token_of(headers['set-cookie'])}"}
            today = datetime.now(UTC).date()
            funnel = (
                f"/console/api/funnel?from={(today - timedelta(days=29)).isoformat()}"
                f"&to={today.isoformat()}"
            )
            # One more than the timed runs: the warm-up takes the first.
            picks = [rng.choice(numbers) for _ in range(RUNS + 1)]
            typed = iter(f"({p[2:5]}) {p[5:8]}-{p[8:]}" for p in picks)

            def get(path: str, check: Callable[[Any], bool]) -> None:
                status, _, body = request(rt, "GET", path, headers=cookie)
                assert status == 200 and check(body), (path, status, body)

            def first_page() -> None:
                get("/console/api/signups", lambda b: len(b["items"]) == 25)

            def search() -> None:
                get(f"/console/api/signups?q={quote(next(typed))}", lambda b: len(b["items"]) == 1)

            def pending() -> None:
                get("/console/api/signups?status=PENDING", lambda b: len(b["items"]) == 25)

            def by_outcome() -> None:
                get(
                    "/console/api/signups?outcome=expired_no_reply",
                    lambda b: len(b["items"]) == 25,
                )

            def export_pending() -> None:
                status, _, body = request(
                    rt, "GET", "/console/api/signups?status=PENDING&format=csv", headers=cookie
                )
                assert status == 200 and str(body).count("\n") > 100, (status, body)

            def thirty_days() -> None:
                get(funnel, lambda b: len(b["days"]) == 30)

            for warm in (first_page, search, pending, by_outcome, export_pending, thirty_days):
                warm()  # untimed: the authorizer's and the console function's cold starts
            rows = [
                ("list, first page (25, every status)", _timed(first_page, RUNS)),
                ("search by a number as typed", _timed(search, RUNS)),
                ("list, PENDING only, first page", _timed(pending, RUNS)),
                ("list, outcome expired_no_reply (ledger per row)", _timed(by_outcome, RUNS)),
                ("CSV export, every PENDING sign-up (~1,100 rows)", _timed(export_pending, 5)),
                ("funnel, 30 days", _timed(thirty_days, RUNS)),
            ]
    print(f"| request ({RUNS} runs each, the export 5) | p50 ms | p95 ms |")
    print("| --- | ---: | ---: |")
    for label, (p50, p95) in rows:
        print(f"| {label} | {p50:.1f} | {p95:.1f} |")


if __name__ == "__main__":
    main()
