"""A wrong key, server errors, timeouts, broken answers: clear errors, caught up."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import pytest

from connectors.thingspeak.client import RetryPolicy
from connectors.thingspeak.source import ThingSpeakSource
from connectors.tsserver import FaultPlan, FleetConfig, build_store, serve_in_process
from connectors.tsserver.keys import make_private
from tests.conftest import RECORDED_CHANNEL
from tests.integration.connector_support import dead_letters, raw_readings
from vitalstream.config import Settings
from vitalstream.topics import ensure_topics

pytestmark = pytest.mark.kafka

PRIVATE = 1448708
FLEET_ID = 920_001
FAST = RetryPolicy(attempts=8, initial_s=0.05, max_wait_s=0.3)


async def test_wrong_key_is_a_clear_error_and_other_channels_carry_on(
    make_settings: Callable[..., Settings],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = build_store(
        data=[RECORDED_CHANNEL / "feeds.csv"],
        fleet=FleetConfig(size=2, base_channel_id=FLEET_ID, entries_per_channel=300),
    )
    private = store.get(PRIVATE)
    assert private is not None
    make_private([private], environ={f"THINGSPEAK_READ_KEY_{PRIVATE}": "RIGHTKEY123"})
    monkeypatch.setenv("WARD3_KEY", "WRONGKEY456")
    async with serve_in_process(store) as server:
        settings = make_settings(
            connector={"base_url": server.url},
            channels=[
                {"id": PRIVATE, "read_key_env": "WARD3_KEY"},
                {"id": FLEET_ID},
                {"id": FLEET_ID + 1},
            ],
        )
        await ensure_topics(settings)
        summary = await ThingSpeakSource(settings, retry=FAST).run(once=True)

        by_channel = {t.channel: t for t in summary.channels}
        refused = by_channel[PRIVATE]
        assert (refused.produced, refused.errors) == (0, 1)
        assert refused.last_error is not None
        assert refused.last_error.startswith(f"channel {PRIVATE}: read refused")
        assert "WARD3_KEY" in refused.last_error
        assert "WRONGKEY456" not in caplog.text
        assert "RIGHTKEY123" not in caplog.text
        for channel in (FLEET_ID, FLEET_ID + 1):
            assert (by_channel[channel].produced, by_channel[channel].errors) == (
                300,
                0,
            )

        # With the right key, the same connector state catches the channel up.
        monkeypatch.setenv("WARD3_KEY", "RIGHTKEY123")
        fixed = await ThingSpeakSource(settings, retry=FAST).run(once=True)
    assert {t.channel: t.produced for t in fixed.channels} == {
        PRIVATE: 149,
        FLEET_ID: 0,
        FLEET_ID + 1: 0,
    }
    readings = await raw_readings(settings)
    assert sorted(r.entry_id for r in readings if r.channel == PRIVATE) == list(
        range(1, 150)
    )


async def test_server_errors_timeouts_and_broken_answers_are_retried(
    make_settings: Callable[..., Settings], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="connectors")
    store = build_store(
        fleet=FleetConfig(size=3, base_channel_id=FLEET_ID, entries_per_channel=2_000)
    )
    plan = FaultPlan(seed=3)
    plan.error(500, times=3)
    plan.error(503, times=2)
    plan.rate_limit(times=2)
    plan.hang(3.0, times=2)
    plan.disconnect(times=2)
    plan.truncate(times=1)
    async with serve_in_process(store, faults=plan) as server:
        settings = make_settings(
            connector={
                "base_url": server.url,
                "request_timeout_s": 0.5,
                "page_size": 300,
            },
            channels=[{"id": FLEET_ID + n} for n in range(3)],
        )
        await ensure_topics(settings)
        summary = await ThingSpeakSource(settings, retry=FAST).run(once=True)
        # The truncated body is not retried by the client (a 200 that is not
        # JSON is an error of the channel); the next poll catches up.
        again = await ThingSpeakSource(settings, retry=FAST).run(once=True)

    assert sum(plan.applied.values()) == 12, plan.applied
    assert summary.errors == 1
    assert "not JSON" in str([t.last_error for t in summary.channels if t.errors])
    assert again.errors == 0
    assert summary.produced + again.produced == 6_000
    readings = await raw_readings(settings)
    for n in range(3):
        ids = [r.entry_id for r in readings if r.channel == FLEET_ID + n]
        assert ids == list(range(1, 2_001))
    assert "retrying" in caplog.text
    assert await dead_letters(settings) == []


async def test_slow_retry_of_a_refused_channel_while_others_poll(
    make_settings: Callable[..., Settings],
) -> None:
    store = build_store(
        fleet=FleetConfig(size=2, base_channel_id=FLEET_ID, entries_per_channel=50)
    )
    refused = store.get(FLEET_ID)
    assert refused is not None
    make_private([refused], environ={f"THINGSPEAK_READ_KEY_{FLEET_ID}": "SOMEKEY"})
    async with serve_in_process(store) as server:
        settings = make_settings(
            connector={
                "base_url": server.url,
                "poll_interval_s": 0.05,
                "slow_retry_s": 3600,
            },
            channels=[{"id": FLEET_ID}, {"id": FLEET_ID + 1}],
        )
        await ensure_topics(settings)
        stop = asyncio.Event()
        source = ThingSpeakSource(settings, retry=FAST)
        running = asyncio.create_task(source.run(stop=stop))
        await asyncio.sleep(1.5)  # some 30 poll intervals
        stop.set()
        summary = await running

    by_channel = {t.channel: t for t in summary.channels}
    # One refusal, then the slow retry waits an hour (a poll every 0.05 s
    # would have made some 30); the other channel was polled all along.
    assert by_channel[FLEET_ID].errors == 1
    assert by_channel[FLEET_ID + 1].produced == 50
    assert by_channel[FLEET_ID + 1].errors == 0
