"""SIGTERM mid-stream: the worker commits what it wrote and exits 0; the next
one goes on from there. Nothing is lost and, with a clean stop, nothing is
written twice, under either guarantee.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from tests.integration.anonymiser_support import (
    Deployment,
    deploy,
    entries_seen,
    fleet_readings,
    wait_for_output,
    write_in_background,
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
    readings = fleet_readings(DEVICES)
    first = deployment.start_worker(name="first")
    first.wait_for_log("Worker ready")
    writing = write_in_background(deployment, readings, BATCHES, pause_s=0.5)
    await wait_for_output(deployment, len(readings) // 4)
    assert first.terminate() == 0
    assert not writing.done(), "the stream was through before the stop"

    deployment.start_worker(name="second")
    await writing
    anonymised, letters = await wait_for_output(deployment, len(readings), 120)
    await asyncio.sleep(3)
    anonymised, letters = await wait_for_output(deployment, len(readings))

    assert letters == []
    seen = entries_seen(anonymised)
    assert {entry: n for entry, n in seen.items() if n > 1} == {}
    assert sorted(seen) == sorted(reading.entry_id for reading in readings)
