"""The server replays the recorded channel exactly as the real API answered it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import orjson
import pytest

from connectors.tsserver import (
    ChannelStore,
    RecordingError,
    channel_ids_in,
    load_recordings,
    serve_in_process,
)
from tests.conftest import RECORDED_CHANNEL

CHANNEL = 1448708


def recorded_bytes(name: str) -> bytes:
    return (RECORDED_CHANNEL / name).read_bytes().rstrip(b"\n")


@pytest.fixture(params=["feeds.csv", "feeds.json"])
async def client(request: pytest.FixtureRequest) -> AsyncIterator[httpx.AsyncClient]:
    store = ChannelStore(load_recordings(RECORDED_CHANNEL / request.param))
    async with (
        serve_in_process(store) as server,
        httpx.AsyncClient(base_url=server.url) as client,
    ):
        yield client


async def test_bare_feed_is_the_recorded_answer_byte_for_byte(
    client: httpx.AsyncClient,
) -> None:
    answer = await client.get(f"/channels/{CHANNEL}/feeds.json")

    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json; charset=utf-8"
    assert answer.content == recorded_bytes("feeds.json")


@pytest.mark.parametrize("field", [1, 2, 3])
async def test_field_feed_is_the_recorded_answer(
    client: httpx.AsyncClient, field: int
) -> None:
    answer = await client.get(f"/channels/{CHANNEL}/fields/{field}.json")

    assert answer.content == recorded_bytes(f"field{field}.json")


async def test_last_and_single_entries(client: httpx.AsyncClient) -> None:
    last = (await client.get(f"/channels/{CHANNEL}/feeds/last.json")).json()
    entry = (await client.get(f"/channels/{CHANNEL}/feeds/52.json")).json()
    missing = await client.get(f"/channels/{CHANNEL}/feeds/9999.json")

    assert last == {
        "created_at": "2021-07-19T19:41:04Z",
        "entry_id": 149,
        "field1": None,
        "field2": "0.00000",
        "field3": None,
    }
    assert entry["field3"] == "31.81250"
    assert (missing.status_code, missing.content) == (200, b"-1")


async def test_unknown_channel_answers_404_minus_one(client: httpx.AsyncClient) -> None:
    answer = await client.get("/channels/77/feeds.json")

    assert (answer.status_code, answer.content) == (404, b"-1")


async def test_csv_serves_every_exported_entry_with_results() -> None:
    store = ChannelStore(load_recordings(RECORDED_CHANNEL / "feeds.csv"))
    async with (
        serve_in_process(store) as server,
        httpx.AsyncClient(base_url=server.url) as client,
    ):
        feed = (await client.get(f"/channels/{CHANNEL}/feeds.json?results=8000")).json()

    ids = [entry["entry_id"] for entry in feed["feeds"]]
    assert ids == list(range(1, 150))
    assert feed["feeds"][0] == {
        "created_at": "2021-07-19T18:53:53Z",
        "entry_id": 1,
        "field1": "0.00000",
        "field2": None,
        "field3": None,
    }


def test_folder_merges_csv_and_json_of_one_channel() -> None:
    [channel] = load_recordings(RECORDED_CHANNEL.parent)

    assert (channel.id, channel.size) == (CHANNEL, 149)
    assert channel_ids_in(RECORDED_CHANNEL.parent) == [CHANNEL]
    assert channel.channel_object()["field2"] == "Blood Oxygen"


def test_csv_outside_a_channel_folder_needs_an_id(tmp_path: Path) -> None:
    export = tmp_path / "export.csv"
    export.write_text(
        "created_at,entry_id,field1,field2\n"
        "2024-03-01 10:00:00 UTC,1,72,\n"
        "2024-03-01 10:00:20 UTC,2,,TC/22.98\n"
    )

    with pytest.raises(RecordingError, match="channel-<id>"):
        load_recordings(export)
    [channel] = load_recordings(export, channel_id=5)

    # No channel object beside it: the API's default labels stand in.
    assert channel.channel_object()["field1"] == "Field Label 1"
    assert channel.values(0) == ("72.00000", None)
    # A value that is not a number is served as recorded, for the connector
    # to dead-letter.
    assert channel.values(1) == (None, "TC/22.98")


def test_files_that_disagree_about_an_entry_are_an_error(tmp_path: Path) -> None:
    folder = tmp_path / "channel-9"
    folder.mkdir()
    (folder / "a.csv").write_text(
        "created_at,entry_id,field1\n2024-03-01 10:00:00 UTC,1,72\n"
    )
    (folder / "b.csv").write_text(
        "created_at,entry_id,field1\n2024-03-01 10:00:00 UTC,1,73\n"
    )

    with pytest.raises(RecordingError, match="entry 1 differs"):
        load_recordings(folder)


def test_a_json_file_that_is_not_a_feed_is_named(tmp_path: Path) -> None:
    broken = tmp_path / "feeds.json"
    broken.write_bytes(orjson.dumps({"channel": "x"}))

    with pytest.raises(RecordingError, match=r"feeds\.json: not a feed answer"):
        load_recordings(broken)
