"""SIGTERM while Kafka is away: the connector says so, stops in time, loses nothing.

Runs on a broker of the test's own (tests/faults/broker.py), stopped while
``vitalstream connect`` polls a paced fleet: the connector logs once that
Kafka is unreachable, and a SIGTERM then ends it within
``connector.shutdown_timeout_s`` (it waited for the broker to come back).
A restart afterwards produces every entry once.
"""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import pytest

from connectors.thingspeak.cursor import load_cursors
from connectors.thingspeak.sink import STALLED_AFTER_S
from connectors.tsserver import FleetConfig, build_store, serve_in_process
from tests.faults.broker import OwnBroker
from tests.integration.connector_support import raw_readings, start_connect
from vitalstream.config import Settings, TopicSettings
from vitalstream.topics import ensure_topics

pytestmark = pytest.mark.kafka

BASE_ID = 950_001
CHANNELS = 3
SHUTDOWN_S = 3.0
UNREACHABLE = "it looks unreachable"


def outage_settings(bootstrap: str, url: str) -> Settings:
    topics = {
        role: TopicSettings(
            name=f"shutdown.{role}",
            partitions=1,
            compacted=role == "connector_offsets",
        )
        for role in ("raw", "anonymised", "alerts", "deadletter", "connector_offsets")
    }
    return Settings(
        kafka={"bootstrap_servers": bootstrap, "client_id": "shutdown-test"},
        topics=topics,
        connector={
            "base_url": url,
            "poll_interval_s": 0.2,
            "shutdown_timeout_s": SHUTDOWN_S,
        },
        channels=[{"id": BASE_ID + n} for n in range(CHANNELS)],
    )


async def wait_for_text(path: Path, text: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while text not in await asyncio.to_thread(path.read_text):
        assert time.monotonic() < deadline, f"{text!r} not in {path} in {timeout_s}s"
        await asyncio.sleep(0.2)


async def test_sigterm_while_kafka_is_away_stops_in_bounded_time_losing_nothing(
    own_broker: OwnBroker, tmp_path: Path
) -> None:
    store = build_store(
        fleet=FleetConfig(
            size=CHANNELS, base_channel_id=BASE_ID, entries_per_channel=20
        ),
        pace=0.2,
    )
    async with serve_in_process(store) as server:
        settings = outage_settings(own_broker.bootstrap, server.url)
        await ensure_topics(settings)
        process = await start_connect(settings, tmp_path)
        for _ in range(100):
            cursors = await load_cursors(settings)
            if len(cursors) == CHANNELS:
                break
            await asyncio.sleep(0.2)
        assert len(cursors) == CHANNELS, "the connector produced nothing"

        own_broker.stop()
        stderr = tmp_path / "stderr.txt"
        await wait_for_text(stderr, UNREACHABLE, STALLED_AFTER_S + 20)
        await asyncio.sleep(3)  # more polls' worth of waiting: still one line

        stopping = time.monotonic()
        process.send_signal(signal.SIGTERM)
        returncode = await asyncio.wait_for(process.wait(), SHUTDOWN_S + 15)
        took = time.monotonic() - stopping
        log = stderr.read_text()

        own_broker.start()
        restarted = await start_connect(settings, tmp_path, "--once")
        assert await restarted.wait() == 0, stderr.read_text()[-3000:]

    assert returncode == 2
    assert took < SHUTDOWN_S + 5  # the timeout and the producer's close
    assert log.count(UNREACHABLE) == 1
    last = log.strip().splitlines()[-1]
    assert last.startswith(
        "vitalstream: stopped after 3 s (connector.shutdown_timeout_s)"
    )
    assert "cursors were not advanced past them" in last
    # Nothing lost, nothing repeated: every entry up to each cursor, once.
    readings = await raw_readings(settings)
    cursors = await load_cursors(settings)
    for n in range(CHANNELS):
        channel = BASE_ID + n
        ids = [r.entry_id for r in readings if r.channel == channel]
        assert ids == list(range(1, cursors[channel].entry_id + 1))
