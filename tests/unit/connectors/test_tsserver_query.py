"""results, start, end and read keys behave as on the real API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest

from connectors.tsserver import (
    ChannelStore,
    FleetConfig,
    build_store,
    load_recordings,
    read_feed,
    serve_in_process,
)
from connectors.tsserver.wire import format_time
from tests.conftest import RECORDED_CHANNEL

BIG = 900_001


@pytest.fixture(scope="module")
def big_store() -> ChannelStore:
    # One simulated wearable with more entries than one request can return.
    return build_store(fleet=FleetConfig(size=1, seed=11, entries_per_channel=20_000))


def feed(store: ChannelStore, channel: int, **params: str) -> dict[str, Any]:
    answer = read_feed(store, channel, params)
    assert answer.status == 200
    result: dict[str, Any] = orjson.loads(answer.body)
    return result


def ids(answer: dict[str, Any]) -> list[int]:
    return [entry["entry_id"] for entry in answer["feeds"]]


def test_bare_request_gives_the_newest_100(big_store: ChannelStore) -> None:
    answer = feed(big_store, BIG)

    assert ids(answer) == list(range(19_901, 20_001))
    assert answer["channel"]["last_entry_id"] == 20_000


def test_results_gives_the_newest_n_and_stops_at_8000(big_store: ChannelStore) -> None:
    assert ids(feed(big_store, BIG, results="3")) == [19_998, 19_999, 20_000]
    assert ids(feed(big_store, BIG, results="9000")) == list(range(12_001, 20_001))
    assert ids(feed(big_store, BIG, results="0")) == []


def test_start_and_end_are_inclusive_and_lift_the_100_default(
    big_store: ChannelStore,
) -> None:
    channel = big_store.get(BIG)
    assert channel is not None
    first = big_store.time_of(channel, 999)  # entry 1000
    last = big_store.time_of(channel, 1199)  # entry 1200
    window = {
        "start": format_time(first).replace("T", " ")[:-1],
        "end": format_time(last).replace("T", " ")[:-1],
    }

    selected = ids(feed(big_store, BIG, **window))

    # Simulated entries are at least 15 s apart, so the edges are exact.
    assert selected == list(range(1000, 1201))
    assert ids(feed(big_store, BIG, results="5", **window)) == list(range(1196, 1201))


def test_start_alone_returns_the_newest_8000_of_the_rest(
    big_store: ChannelStore,
) -> None:
    answer = feed(big_store, BIG, start="2000-01-01 00:00:00")

    assert ids(answer) == list(range(12_001, 20_001))


def test_paging_backwards_with_end_reaches_every_entry_once(
    big_store: ChannelStore,
) -> None:
    seen: dict[int, str] = {}
    end: str | None = None
    pages = 0
    while True:
        params = {"results": "8000"} | ({"end": end} if end else {})
        page = feed(big_store, BIG, **params)["feeds"]
        pages += 1
        fresh = [entry for entry in page if entry["entry_id"] not in seen]
        seen.update((entry["entry_id"], entry["created_at"]) for entry in fresh)
        if len(page) < 8000 or not fresh:
            break
        # The oldest second of this page is asked again: entries sharing
        # that second may be split across pages.
        end = page[0]["created_at"].replace("T", " ")[:-1]

    assert pages == 3  # 12001-20000, 4002-12001, 1-4002
    assert sorted(seen) == list(range(1, 20_001))


def test_times_are_utc_seconds_in_order(big_store: ChannelStore) -> None:
    times = [
        entry["created_at"] for entry in feed(big_store, BIG, results="8000")["feeds"]
    ]

    assert all(len(t) == 20 and t.endswith("Z") for t in times)
    assert times == sorted(times)


def test_unreadable_start_is_refused(big_store: ChannelStore) -> None:
    answer = read_feed(big_store, BIG, {"start": "yesterday"})

    assert (answer.status, answer.body) == (400, b"-1")


def test_results_is_read_leniently_like_the_api(big_store: ChannelStore) -> None:
    assert ids(feed(big_store, BIG, results="2abc")) == [19_999, 20_000]
    assert ids(feed(big_store, BIG, results="abc")) == []


@pytest.fixture
async def private_client() -> AsyncIterator[httpx.AsyncClient]:
    store = ChannelStore(load_recordings(RECORDED_CHANNEL / "feeds.json"))
    channel = store.get(1448708)
    assert channel is not None
    channel.read_key = "K3YK3YK3YK3YK3YK"
    async with (
        serve_in_process(store) as server,
        httpx.AsyncClient(base_url=server.url) as client,
    ):
        yield client


@pytest.mark.parametrize(
    "path",
    [
        "/channels/1448708/feeds.json",
        "/channels/1448708/feeds/last.json",
        "/channels/1448708/feeds/60.json",
        "/channels/1448708/fields/1.json",
    ],
)
@pytest.mark.parametrize("key", [None, "WRONGWRONGWRONG1", ""])
async def test_private_channel_without_its_key_answers_400_minus_one(
    private_client: httpx.AsyncClient, path: str, key: str | None
) -> None:
    params = {} if key is None else {"api_key": key}

    answer = await private_client.get(path, params=params)

    assert answer.status_code == 400
    assert answer.headers["content-type"].startswith("application/json")
    assert answer.content == b"-1"


async def test_private_channel_with_its_key_answers(
    private_client: httpx.AsyncClient,
) -> None:
    answer = await private_client.get(
        "/channels/1448708/feeds.json", params={"api_key": "K3YK3YK3YK3YK3YK"}
    )

    assert answer.status_code == 200
    assert answer.json()["channel"]["last_entry_id"] == 149


@pytest.mark.parametrize(
    ("headers", "params"),
    [
        ({"THINGSPEAKAPIKEY": "K3YK3YK3YK3YK3YK"}, {}),
        ({"X-THINGSPEAKAPIKEY": "K3YK3YK3YK3YK3YK"}, {}),
        ({}, {"key": "K3YK3YK3YK3YK3YK"}),
        ({}, {"apikey": " K3YK3YK3YK3YK3YK "}),
    ],
)
async def test_the_key_may_come_in_a_header_or_another_parameter(
    private_client: httpx.AsyncClient, headers: dict[str, str], params: dict[str, str]
) -> None:
    answer = await private_client.get(
        "/channels/1448708/feeds/last.json", headers=headers, params=params
    )

    assert answer.json()["entry_id"] == 149
