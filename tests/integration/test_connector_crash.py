"""The connector killed mid-backfill, or stopped, and started again.

``vitalstream connect`` runs in its own process against a simulated channel
large enough that the backfill takes many transactions; the raw topic is
then read with ``read_committed``: every entry once, none missing.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable
from pathlib import Path

import pytest

from connectors.thingspeak.cursor import load_cursors
from connectors.tsserver import FleetConfig, build_store, serve_in_process
from tests.integration.connector_support import raw_readings, start_connect
from vitalstream.config import Settings
from vitalstream.topics import ensure_topics

pytestmark = pytest.mark.kafka

BASE_ID = 910_001
ENTRIES = 40_000


async def wait_for_progress(settings: Settings, channel: int, *, minimum: int) -> int:
    """The channel's committed cursor once it has passed ``minimum``."""
    for _ in range(600):
        cursors = await load_cursors(settings)
        if channel in cursors and cursors[channel].entry_id >= minimum:
            return cursors[channel].entry_id
        await asyncio.sleep(0.1)
    raise AssertionError(f"channel {channel} made no progress past {minimum}")


def fleet_settings(
    make_settings: Callable[..., Settings], url: str, size: int
) -> Settings:
    return make_settings(
        connector={"base_url": url, "page_size": 250, "poll_interval_s": 0.5},
        channels=[{"id": BASE_ID + n} for n in range(size)],
    )


async def test_kill_9_mid_backfill_then_restart_loses_and_repeats_nothing(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    store = build_store(
        fleet=FleetConfig(size=2, base_channel_id=BASE_ID, entries_per_channel=ENTRIES)
    )
    store.warm()
    async with serve_in_process(store) as server:
        settings = fleet_settings(make_settings, server.url, 2)
        await ensure_topics(settings)

        process = await start_connect(settings, tmp_path)
        reached = await wait_for_progress(settings, BASE_ID, minimum=2_000)
        process.kill()  # SIGKILL by pid: no clean-up of any kind
        await process.wait()
        assert reached < ENTRIES, "the backfill ended before the kill; test is void"

        restarted = await start_connect(settings, tmp_path, "--once")
        assert await restarted.wait() == 0, (tmp_path / "stderr.txt").read_text()

    readings = await raw_readings(settings)
    for channel in (BASE_ID, BASE_ID + 1):
        ids = [r.entry_id for r in readings if r.channel == channel]
        assert ids == list(range(1, ENTRIES + 1))
    cursors = await load_cursors(settings)
    assert {c: cursors[c].entry_id for c in (BASE_ID, BASE_ID + 1)} == {
        BASE_ID: ENTRIES,
        BASE_ID + 1: ENTRIES,
    }
    summary = (tmp_path / "stdout.txt").read_text()
    assert "total: 2 channels" in summary


async def test_sigterm_stores_the_cursor_of_what_was_produced(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    store = build_store(
        fleet=FleetConfig(size=1, base_channel_id=BASE_ID, entries_per_channel=ENTRIES)
    )
    store.warm()
    async with serve_in_process(store) as server:
        settings = fleet_settings(make_settings, server.url, 1)
        await ensure_topics(settings)
        process = await start_connect(settings, tmp_path)
        await wait_for_progress(settings, BASE_ID, minimum=1_000)
        process.send_signal(signal.SIGTERM)
        assert await process.wait() == 0, (tmp_path / "stderr.txt").read_text()

    cursor = (await load_cursors(settings))[BASE_ID].entry_id
    ids = [r.entry_id for r in await raw_readings(settings)]
    # Exactly what the stored cursor covers: a restart neither skips nor repeats.
    assert ids == list(range(1, cursor + 1))
    assert (
        f"channel {BASE_ID}: {cursor} produced" in (tmp_path / "stdout.txt").read_text()
    )
