"""Workers share the raw topic's partitions; SIGTERM hands them over cleanly.

Also: a key rotation in the middle of the stream, picked up by the running
worker, leaves every record, sealed before or after, readable.
"""

from __future__ import annotations

import asyncio
import re
import signal
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from schemas.anonymised import AnonymisedReading, unseal_reading
from schemas.keyring import Keyring
from schemas.records import Reading
from tests.integration.anonymiser_support import (
    Deployment,
    Worker,
    deploy,
    produce,
    raw_records,
    read_topic,
    recorded_readings,
    wait_for_output,
    wait_until,
)
from vitalstream.config import Settings

pytestmark = pytest.mark.kafka

_ASSIGNED = re.compile(r"Setting newly assigned partitions (\{.*\}|set\(\))")


@pytest.fixture
async def deployment(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> AsyncIterator[Deployment]:
    settings = make_settings(
        anonymiser={"group_id": f"test-anon-{uuid.uuid4().hex[:10]}"}
    )
    deployment = await deploy(settings, tmp_path)
    yield deployment
    deployment.stop_all()


def _assigned(worker: Worker) -> set[int]:
    """The raw partitions the worker was given at its latest rebalance."""
    found = _ASSIGNED.findall(worker.text())
    if not found:
        return set()
    return {int(number) for number in re.findall(r"partition=(\d+)", found[-1])}


def _readings(devices: range) -> list[Reading]:
    return [
        reading
        for device in devices
        for reading in recorded_readings(
            device=f"wearable-{device}", entry_offset=device * 1000
        )
    ]


async def test_two_workers_share_partitions_and_hand_over_on_sigterm(
    deployment: Deployment,
) -> None:
    raw_topic = deployment.settings.topics.raw.name
    partitions = deployment.settings.topics.raw.partitions
    first = deployment.start_worker(name="first")
    first.wait_for_log("Worker ready")
    second = deployment.start_worker(name="second")

    def shared() -> bool:
        mine, theirs = _assigned(first), _assigned(second)
        return bool(mine) and bool(theirs) and mine | theirs == set(range(partitions))

    wait_until(shared, 90, "the two workers never shared the partitions")
    first_share, second_share = _assigned(first), _assigned(second)
    assert not first_share & second_share

    before = _readings(range(12))
    await produce(deployment.bootstrap, raw_topic, raw_records(before))
    await wait_for_output(deployment, len(before))
    # Each worker had raw records to anonymise in its share.
    holding = {
        message.partition
        for message in await read_topic(deployment.bootstrap, raw_topic)
    }
    assert holding & first_share
    assert holding & second_share

    # SIGTERM: the worker commits, leaves the group, exits 0; the other one
    # takes every partition and goes on.
    assert second.terminate() == 0
    assert "Closing event loop" in second.text()
    wait_until(
        lambda: _assigned(first) == set(range(partitions)),
        90,
        "the remaining worker never took over every partition",
    )
    after = _readings(range(12, 20))
    await produce(deployment.bootstrap, raw_topic, raw_records(after))
    # At least once: a rebalance may write again what a worker had not
    # committed yet (README, "Running it for real"); every entry must be there.
    anonymised, letters = await wait_for_output(
        deployment, len(before) + len(after), distinct=True
    )

    assert letters == []
    seen = Counter(
        AnonymisedReading.from_json(message.value).source["entry_id"]
        for message in anonymised
    )
    assert sorted(seen) == sorted(r.entry_id for r in before + after)
    assert first.terminate() == 0


async def test_key_rotation_mid_stream(deployment: Deployment) -> None:
    raw_topic = deployment.settings.topics.raw.name
    readings = _readings(range(4))
    half = len(readings) // 2
    worker = deployment.start_worker()
    old_primary = deployment.keyring().primary_id

    await produce(deployment.bootstrap, raw_topic, raw_records(readings[:half]))
    await wait_for_output(deployment, half)
    new_primary = Keyring.rotate(deployment.keyring_path)
    worker.wait_for_log(f"primary key {new_primary}")
    await produce(deployment.bootstrap, raw_topic, raw_records(readings[half:]))
    anonymised, letters = await wait_for_output(deployment, len(readings))
    # SIGHUP asks for a reload; it must not end the worker (its default).
    worker.process.send_signal(signal.SIGHUP)
    await asyncio.sleep(1)
    assert worker.process.poll() is None
    assert worker.terminate() == 0
    assert letters == []

    keyring = deployment.keyring()
    assert set(keyring.key_ids) == {old_primary, new_primary}
    by_entry = {reading.entry_id: reading for reading in readings}
    first_half = {reading.entry_id for reading in readings[:half]}
    used: Counter[str] = Counter()
    for message in anonymised:
        record = AnonymisedReading.from_json(message.value)
        entry_id = record.source["entry_id"]
        expected_key = old_primary if entry_id in first_half else new_primary
        for token in record.sealed.values():
            if token is not None:
                assert token.split(".")[1] == expected_key
                used[expected_key] += 1
        assert unseal_reading(record, keyring) == by_entry[entry_id].metrics
    assert used[old_primary] > 0
    assert used[new_primary] > 0
