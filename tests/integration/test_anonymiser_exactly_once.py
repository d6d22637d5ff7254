"""Exactly-once: a worker killed mid-stream and restarted writes no duplicate.

The raw topic is written while the worker runs; the worker is killed with
SIGKILL (no chance to commit or abort anything) once part of the stream is
through, then a new worker takes over. Read with ``read_committed``, the
anonymised topic holds every reading exactly once.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from schemas.anonymised import AnonymisedReading, unseal_reading
from tests.integration.anonymiser_support import (
    Deployment,
    deploy,
    entries_seen,
    fleet_readings,
    read_topic,
    wait_for_output,
    write_in_background,
)
from vitalstream.config import Settings

pytestmark = pytest.mark.kafka

DEVICES = 24  # x 149 recorded entries = 3,576 readings
BATCHES = 24


@pytest.fixture
async def deployment(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> AsyncIterator[Deployment]:
    settings = make_settings(
        anonymiser={
            "group_id": f"test-anon-eos-{uuid.uuid4().hex[:10]}",
            "guarantee": "exactly_once",
        }
    )
    deployment = await deploy(settings, tmp_path)
    yield deployment
    deployment.stop_all()


async def test_killed_worker_restarts_without_duplicates(
    deployment: Deployment,
) -> None:
    readings = fleet_readings(DEVICES)
    first = deployment.start_worker(name="first")
    first.wait_for_log("Worker ready")
    writing = write_in_background(deployment, readings, BATCHES, pause_s=0.25)
    # Kill the worker once a part of the stream has been committed.
    await wait_for_output(deployment, len(readings) // 4)
    first.kill()
    assert first.process.returncode == -9
    killed_at = len(
        await read_topic(
            deployment.bootstrap, deployment.settings.topics.anonymised.name
        )
    )
    assert killed_at < len(readings), "the stream was through before the kill"

    second = deployment.start_worker(name="second")
    await writing
    anonymised, letters = await wait_for_output(deployment, len(readings), 240)
    # Anything still in flight would show up now as a surplus.
    await asyncio.sleep(3)
    anonymised = await read_topic(
        deployment.bootstrap, deployment.settings.topics.anonymised.name
    )
    assert second.terminate() == 0

    assert letters == []
    records = [AnonymisedReading.from_json(message.value) for message in anonymised]
    seen = Counter(record.source["entry_id"] for record in records)
    duplicates = {entry: n for entry, n in seen.items() if n > 1}
    assert duplicates == {}
    assert sorted(seen) == sorted(reading.entry_id for reading in readings)

    keyring = deployment.keyring()
    by_entry = {reading.entry_id: reading for reading in readings}
    for record in records:
        expected = by_entry[record.source["entry_id"]].metrics
        assert unseal_reading(record, keyring) == expected


async def test_second_worker_joining_mid_stream_writes_no_duplicates(
    deployment: Deployment,
) -> None:
    readings = fleet_readings(DEVICES)
    first = deployment.start_worker(name="first")
    first.wait_for_log("Worker ready")
    writing = write_in_background(deployment, readings, BATCHES, pause_s=0.5)
    await wait_for_output(deployment, len(readings) // 4)
    # The group rebalances while records flow: partitions move to the new
    # worker together with their transactional producers.
    second = deployment.start_worker(name="second")
    second.wait_for_log("Setting newly assigned partitions {")
    await writing
    anonymised, letters = await wait_for_output(deployment, len(readings), 120)
    await asyncio.sleep(3)
    anonymised, letters = await wait_for_output(deployment, len(readings))
    assert second.terminate() == 0
    assert first.terminate() == 0

    assert letters == []
    seen = entries_seen(anonymised)
    assert {entry: n for entry, n in seen.items() if n > 1} == {}
    assert sorted(seen) == sorted(reading.entry_id for reading in readings)
