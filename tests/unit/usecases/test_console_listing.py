"""The console's listing with channel and outcome filters over many contacts: index pages
are read in chunks, a page stops at its limit without skipping a match, and a rare match
costs at most MAX_EXAMINED contacts a request (then a short page with a cursor)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from optin.domain import contact as t
from optin.usecases.console import MAX_EXAMINED, BadRequest, Console, ListRequest
from tests.fakes.contact_store import MemoryContactStore
from tests.fakes.execution_reader import MemoryExecutionReader

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


class CountingStore(MemoryContactStore):
    def __init__(self) -> None:
        super().__init__()
        self.listings = 0

    def list_signups(self, query: Any) -> Any:
        self.listings += 1
        return super().list_signups(query)


def seed(store: MemoryContactStore, count: int, api_every: int) -> list[str]:
    """`count` sign-ups a minute apart; every `api_every`-th by API, counting from the
    oldest. The API ones' numbers, newest first."""
    api: list[str] = []
    for i in range(count):
        number = f"+1206555{2000 + i}"
        by_api = i % api_every == 0
        change = t.request(
            None,
            phone_number=number,
            registration_id=f"reg-{i}",
            first_name=None,
            execution_arn=None,
            evidence={"channel": "api" if by_api else "web"},
            validation={},
            now=T0 + timedelta(minutes=i),
        )
        assert change.after is not None
        store.save(change.after, expected_version=None, events=change.events)
        if by_api:
            api.append(number)
    return list(reversed(api))


def console(store: MemoryContactStore) -> Console:
    return Console(store=store, reader=MemoryExecutionReader(), clock=lambda: T0)


def every_page(subject: Console, request: ListRequest) -> tuple[list[str], list[int]]:
    seen: list[str] = []
    sizes: list[int] = []
    while True:
        page = subject.list_signups(request, viewer=False)
        seen.extend(item["phoneNumber"] for item in page["items"])
        sizes.append(len(page["items"]))
        if page["nextCursor"] is None:
            return seen, sizes
        request = ListRequest(
            channel=request.channel, limit=request.limit, cursor=page["nextCursor"]
        )


@pytest.mark.parametrize("limit", [1, 2, 3, 25])
def test_a_filtered_listing_finds_every_match_once_in_order(limit: int) -> None:
    store = MemoryContactStore()
    api = seed(store, 60, api_every=7)
    seen, sizes = every_page(console(store), ListRequest(channel="api", limit=limit))
    assert seen == api
    assert all(size == limit for size in sizes[:-1])


def test_a_filtered_page_reads_the_index_in_chunks() -> None:
    store = CountingStore()
    api = seed(store, 60, api_every=10)  # two in the first chunk of 25
    page = console(store).list_signups(ListRequest(channel="api", limit=1), viewer=False)
    assert [item["phoneNumber"] for item in page["items"]] == api[:1]
    # One chunk holds the match and more: the store is asked again only for the cut.
    assert store.listings == 2


def test_a_rare_match_is_looked_for_in_at_most_max_examined_contacts_a_request() -> None:
    store = MemoryContactStore()
    api = seed(store, MAX_EXAMINED + 50, api_every=MAX_EXAMINED + 50)  # the oldest only
    subject = console(store)
    first = subject.list_signups(ListRequest(channel="api", limit=5), viewer=False)
    assert first["items"] == [] and first["nextCursor"]
    second = subject.list_signups(
        ListRequest(channel="api", limit=5, cursor=first["nextCursor"]), viewer=False
    )
    assert [item["phoneNumber"] for item in second["items"]] == api
    assert second["nextCursor"] is None


def test_an_unfiltered_listing_is_one_index_page() -> None:
    store = CountingStore()
    seed(store, 30, api_every=7)
    page = console(store).list_signups(ListRequest(limit=10), viewer=False)
    assert len(page["items"]) == 10 and page["nextCursor"]
    assert store.listings == 1


def test_a_cursor_of_another_channel_is_refused() -> None:
    store = MemoryContactStore()
    seed(store, 30, api_every=7)
    subject = console(store)
    page = subject.list_signups(ListRequest(channel="api", limit=1), viewer=False)
    with pytest.raises(BadRequest) as refused:
        subject.list_signups(ListRequest(channel="web", cursor=page["nextCursor"]), viewer=False)
    assert refused.value.code == "invalid_cursor"
