"""What the connector's integration tests share: reading topics, running it."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from schemas.records import DeadLetter, Reading
from vitalstream.config import Settings

VITALSTREAM = str(Path(sys.executable).with_name("vitalstream"))


async def read_topic(
    settings: Settings, topic: str, partitions: int
) -> list[tuple[int, bytes | None, bytes]]:
    """Every committed record of ``topic``: (partition, key, value), partition order."""
    consumer = _reader(settings, "read_committed")
    await consumer.start()
    try:
        assigned = [TopicPartition(topic, p) for p in range(partitions)]
        consumer.assign(assigned)
        await consumer.seek_to_beginning(*assigned)
        ends = await _settled_ends(settings, consumer, assigned)
        found: list[tuple[int, bytes | None, bytes]] = []
        for tp in assigned:
            while await consumer.position(tp) < ends[tp]:
                batch = await consumer.getmany(tp, timeout_ms=1000)
                found += [(tp.partition, r.key, r.value) for r in batch.get(tp, [])]
        return found
    finally:
        await consumer.stop()


def _reader(settings: Settings, isolation_level: str) -> AIOKafkaConsumer:
    # A consumer outside any group, for reading topics whole.
    return AIOKafkaConsumer(
        bootstrap_servers=settings.kafka.bootstrap_servers,
        group_id=None,
        enable_auto_commit=False,
        isolation_level=isolation_level,
    )


async def _settled_ends(
    settings: Settings, consumer: AIOKafkaConsumer, partitions: list[TopicPartition]
) -> dict[TopicPartition, int]:
    # A committed transaction's markers reach its partitions just after the
    # producer's commit returns; until then a read_committed end offset (the
    # last stable offset) still stops before its records (seen: a channel's
    # whole transaction missing from a read right after `connect --once`).
    # Wait, briefly, until every partition's stable end is its high water.
    everything = _reader(settings, "read_uncommitted")
    await everything.start()
    try:
        for _ in range(50):
            stable = await consumer.end_offsets(partitions)
            if stable == await everything.end_offsets(partitions):
                break
            await asyncio.sleep(0.1)
        return stable
    finally:
        await everything.stop()


async def raw_readings(settings: Settings) -> list[Reading]:
    """The committed raw topic as readings, partition by partition."""
    topic = settings.topics.raw
    records = await read_topic(settings, topic.name, topic.partitions)
    return [Reading.from_json(value) for _, _, value in records]


async def dead_letters(settings: Settings) -> list[DeadLetter]:
    topic = settings.topics.deadletter
    records = await read_topic(settings, topic.name, topic.partitions)
    return [DeadLetter.from_json(value) for _, _, value in records]


def settings_environment(
    settings: Settings, extra: Mapping[str, str] = {}
) -> dict[str, str]:
    """The environment that gives a ``vitalstream`` process these settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VITALSTREAM_")}
    dumped: dict[str, Any] = settings.model_dump(mode="json")
    for section in ("kafka", "topics", "connector", "channels"):
        env[f"VITALSTREAM_{section.upper()}"] = orjson.dumps(dumped[section]).decode()
    env.update(extra)
    return env


async def start_connect(
    settings: Settings, cwd: Path, *args: str, extra_env: Mapping[str, str] = {}
) -> asyncio.subprocess.Process:
    """``vitalstream connect ARGS`` as a child process; output to files in ``cwd``."""
    return await asyncio.create_subprocess_exec(
        VITALSTREAM,
        "--log-level",
        "info",
        "connect",
        *args,
        cwd=cwd,
        env=settings_environment(settings, extra_env),
        stdout=(cwd / "stdout.txt").open("ab"),
        stderr=(cwd / "stderr.txt").open("ab"),
    )
