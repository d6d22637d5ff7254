"""The recorded channel 1448708, served by tsserver, through the connector into Kafka.

Expected values are read from the files here with the standard library, not
with the connector's parser.
"""

from __future__ import annotations

import asyncio
import csv
import json
import logging
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from connectors.thingspeak.client import RetryPolicy
from connectors.thingspeak.cursor import load_cursors
from connectors.thingspeak.source import ThingSpeakSource
from connectors.tsserver import build_store, serve_in_process
from tests.conftest import RECORDED_CHANNEL
from tests.integration.connector_support import raw_readings
from vitalstream.config import Settings
from vitalstream.topics import ensure_topics

pytestmark = pytest.mark.kafka

CHANNEL = 1448708
DEVICE = "care-home-1/wrist-07"
METRICS = {"field1": "heart_rate", "field2": "spo2", "field3": "body_temp"}
FAST = RetryPolicy(attempts=4, initial_s=0.05, max_wait_s=0.2)


def expected_from_csv() -> dict[int, tuple[str, dict[str, float | None]]]:
    with (RECORDED_CHANNEL / "feeds.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    return {
        int(row["entry_id"]): (
            datetime.strptime(row["created_at"], "%Y-%m-%d %H:%M:%S UTC")
            .replace(tzinfo=UTC)
            .strftime("%Y-%m-%dT%H:%M:%SZ"),
            {m: float(row[f]) if row[f] else None for f, m in METRICS.items()},
        )
        for row in rows
    }


def expected_from_json() -> dict[int, tuple[str, dict[str, float | None]]]:
    feeds = json.loads((RECORDED_CHANNEL / "feeds.json").read_text())["feeds"]
    return {
        entry["entry_id"]: (
            entry["created_at"],
            {
                m: float(entry[f]) if entry[f] is not None else None
                for f, m in METRICS.items()
            },
        )
        for entry in feeds
    }


@pytest.mark.parametrize(
    ("recording", "expected", "page_size"),
    [
        ("feeds.csv", expected_from_csv, 8000),
        ("feeds.json", expected_from_json, 8000),
        # Pages of 7 force the window narrowing on a real server.
        ("feeds.csv", expected_from_csv, 7),
    ],
)
async def test_every_recorded_entry_reaches_the_raw_topic_once_in_order(
    make_settings: Callable[..., Settings],
    recording: str,
    expected: Callable[[], dict[int, tuple[str, dict[str, float | None]]]],
    page_size: int,
) -> None:
    store = build_store(data=[RECORDED_CHANNEL / recording])
    async with serve_in_process(store) as server:
        settings = make_settings(
            connector={"base_url": server.url, "page_size": page_size},
            channels=[{"id": CHANNEL, "device": DEVICE, "temperature_site": "skin"}],
        )
        await ensure_topics(settings)
        first = await ThingSpeakSource(settings, retry=FAST).run(once=True)
        again = await ThingSpeakSource(settings, retry=FAST).run(once=True)

    want = expected()
    readings = await raw_readings(settings)
    assert [r.entry_id for r in readings] == sorted(want)  # once each, in order
    for reading in readings:
        observed_at, metrics = want[reading.entry_id]
        assert (reading.observed_at, reading.metrics) == (observed_at, metrics)
        assert reading.device == DEVICE
        assert reading.channel == CHANNEL
        assert reading.observed_at.endswith("Z")
    assert (first.produced, first.dead_lettered, first.errors) == (len(want), 0, 0)
    assert (again.produced, again.errors) == (0, 0)
    cursors = await load_cursors(settings)
    assert cursors[CHANNEL].entry_id == max(want)


async def test_new_entries_after_a_poll_are_produced_by_the_next(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    # The first poll sees entries 1-100 of the export, the next one all 149.
    lines = (RECORDED_CHANNEL / "feeds.csv").read_text().splitlines(keepends=True)
    folder = tmp_path / f"channel-{CHANNEL}"
    folder.mkdir()
    (folder / "feeds.csv").write_text("".join(lines[:101]))
    async with serve_in_process(build_store(data=[folder / "feeds.csv"])) as server:
        settings = make_settings(
            connector={"base_url": server.url},
            channels=[{"id": CHANNEL, "device": DEVICE}],
        )
        await ensure_topics(settings)
        first = await ThingSpeakSource(settings, retry=FAST).run(once=True)
    (folder / "feeds.csv").write_text("".join(lines))
    async with serve_in_process(build_store(data=[folder / "feeds.csv"])) as server:
        later = settings.model_copy(
            update={
                "connector": settings.connector.model_copy(
                    update={"base_url": server.url}
                )
            }
        )
        second = await ThingSpeakSource(later, retry=FAST).run(once=True)

    assert (first.produced, second.produced) == (100, 49)
    readings = await raw_readings(settings)
    assert [r.entry_id for r in readings] == list(range(1, 150))


async def test_a_paced_replay_below_the_cursor_is_reported_once_per_poll(
    make_settings: Callable[..., Settings], caplog: pytest.LogCaptureFixture
) -> None:
    # The recording read once, then served again with --pace: its entries
    # reappear stamped now, all below the cursor. One warning line per poll
    # with a count, not one per entry.
    caplog.set_level(logging.INFO)
    async with serve_in_process(build_store(data=[RECORDED_CHANNEL])) as server:
        settings = make_settings(
            connector={"base_url": server.url, "poll_interval_s": 0.3},
            channels=[{"id": CHANNEL, "device": DEVICE}],
        )
        await ensure_topics(settings)
        await ThingSpeakSource(settings, retry=FAST).run(once=True)
    caplog.clear()
    replay = build_store(data=[RECORDED_CHANNEL], pace=0.05)
    async with serve_in_process(replay) as server:
        again = settings.model_copy(
            update={
                "connector": settings.connector.model_copy(
                    update={"base_url": server.url}
                )
            }
        )
        stop = asyncio.Event()
        running = asyncio.create_task(
            ThingSpeakSource(again, retry=FAST).run(stop=stop)
        )
        await asyncio.sleep(2.5)
        stop.set()
        summary = await running

    assert summary.produced == 0
    lines = [
        r.getMessage() for r in caplog.records if "below its entry_id" in r.message
    ]
    polls = [r for r in caplog.records if r.name == "httpx"]
    # "N entries newer than...", or one line per entry as it was.
    counts = [
        int(found.group(1)) if (found := re.search(r": (\d+) entr", line)) else 1
        for line in lines
    ]
    assert sum(counts) >= 20  # some 50 entries replayed in 2.5 s
    assert len(lines) <= len(polls) < sum(counts)
    cursor = f"at or below its entry_id {max(expected_from_csv())}"
    assert all(cursor in line for line in lines)
