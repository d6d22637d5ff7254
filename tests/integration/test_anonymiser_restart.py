"""SIGTERM mid-stream: the worker commits what it wrote and exits 0; the next
one goes on from there. Nothing is lost and, with a clean stop, nothing is
written twice, under either guarantee.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from schemas.anonymised import AnonymisedReading
from tests.integration.anonymiser_support import (
    Deployment,
    deploy,
    produce,
    raw_records,
    recorded_readings,
    wait_for_output,
)
from vitalstream.config import Settings

pytestmark = pytest.mark.kafka

DEVICES = 16
BATCHES = 24


@pytest.fixture(params=["at_least_once", "exactly_once"])
async def deployment(
    request: pytest.FixtureRequest,
    make_settings: Callable[..., Settings],
    tmp_path: Path,
) -> AsyncIterator[Deployment]:
    settings = make_settings(
        anonymiser={
            "group_id": f"test-anon-{uuid.uuid4().hex[:10]}",
            "guarantee": request.param,
        }
    )
    deployment = await deploy(settings, tmp_path)
    yield deployment
    deployment.stop_all()


async def test_sigterm_mid_stream_loses_and_repeats_nothing(
    deployment: Deployment,
) -> None:
    readings = [
        reading
        for device in range(DEVICES)
        for reading in recorded_readings(
            device=f"wearable-{device}", entry_offset=device * 1000
        )
    ]
    raw_topic = deployment.settings.topics.raw.name
    first = deployment.start_worker(name="first")
    first.wait_for_log("Worker ready")
    size = len(readings) // BATCHES + 1

    async def connector() -> None:
        for number, start in enumerate(range(0, len(readings), size)):
            await produce(
                deployment.bootstrap,
                raw_topic,
                raw_records(readings[start : start + size]),
                transactional_id=f"test-connector-{raw_topic}-{number}",
            )
            await asyncio.sleep(0.5)

    writing = asyncio.create_task(connector())
    await wait_for_output(deployment, len(readings) // 4)
    assert first.terminate() == 0
    assert not writing.done(), "the stream was through before the stop"

    deployment.start_worker(name="second")
    await writing
    anonymised, letters = await wait_for_output(deployment, len(readings), 120)
    await asyncio.sleep(3)
    anonymised, letters = await wait_for_output(deployment, len(readings))

    assert letters == []
    seen = Counter(
        AnonymisedReading.from_json(message.value).source["entry_id"]
        for message in anonymised
    )
    assert {entry: n for entry, n in seen.items() if n > 1} == {}
    assert sorted(seen) == sorted(reading.entry_id for reading in readings)
