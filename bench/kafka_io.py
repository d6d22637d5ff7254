"""Kafka helpers of the benchmarks: fill a topic, wait for a group, read back."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import GroupCoordinatorNotAvailableError

from bench.env import bootstrap_servers
from schemas.records import Reading


async def fill(topic: str, records: Iterable[Reading]) -> int:
    """Produce readings keyed by device, as the connector keys them; the count."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers(),
        acks="all",
        linger_ms=20,
        max_batch_size=256 * 1024,
    )
    await producer.start()
    count = 0
    try:
        pending = []
        for reading in records:
            pending.append(
                await producer.send(
                    topic, reading.to_json(), key=reading.device.encode()
                )
            )
            count += 1
            if len(pending) >= 20_000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return count


async def partitions_of(topic: str) -> list[TopicPartition]:
    """The partitions of ``topic``, as the broker describes it now."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers())
    await admin.start()
    try:
        described = await admin.describe_topics([topic])
    finally:
        await admin.close()
    return [
        TopicPartition(topic, partition["partition"])
        for entry in described
        for partition in entry["partitions"]
    ]


async def end_offsets(topic: str) -> dict[TopicPartition, int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers())
    await consumer.start()
    try:
        tps = await partitions_of(topic)
        # Assigned first: stopping a consumer that never had an assignment
        # cancels aiokafka's committed-offsets task into our caller.
        consumer.assign(tps)
        return dict(await consumer.end_offsets(tps))
    finally:
        await consumer.stop()


async def wait_for_group(
    group: str,
    topic: str,
    targets: dict[TopicPartition, int],
    *,
    timeout_s: float,
    alive: Callable[[], bool] | None = None,
) -> bool:
    """Wait until ``group`` has committed ``targets`` on ``topic``; True if it did."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers())
    await admin.start()
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            try:
                committed = await admin.list_consumer_group_offsets(group)
            except GroupCoordinatorNotAvailableError:
                # A new broker makes its offsets topic on the first group
                # look-up; until then no coordinator answers.
                await asyncio.sleep(0.5)
                continue
            done = all(
                tp in committed and committed[tp].offset >= end
                for tp, end in targets.items()
            )
            if done:
                return True
            if alive is not None and not alive():
                return False
            await asyncio.sleep(0.5)
    finally:
        await admin.close()
    return False


@dataclass
class TopicTimes:
    """What a topic holds (committed records): count and CreateTime span."""

    count: int
    first_ms: int | None
    last_ms: int | None

    @property
    def rate(self) -> float:
        """Records per second from the first record written to the last."""
        if self.first_ms is None or self.last_ms is None or self.count < 2:
            return 0.0
        span = max(self.last_ms - self.first_ms, 1) / 1000
        return (self.count - 1) / span


async def read_times(topic: str) -> TopicTimes:
    """Count the committed records of ``topic`` and their time span."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers(),
        isolation_level="read_committed",
        enable_auto_commit=False,
        max_partition_fetch_bytes=4 * 2**20,
    )
    await consumer.start()
    count = 0
    first: int | None = None
    last: int | None = None
    try:
        tps = await partitions_of(topic)
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        remaining = {tp for tp in tps if ends[tp] > 0}
        while remaining:
            batches = await consumer.getmany(timeout_ms=1000, max_records=10_000)
            for messages in batches.values():
                if messages:
                    count += len(messages)
                    stamps = [m.timestamp for m in messages]
                    low, high = min(stamps), max(stamps)
                    first = low if first is None else min(first, low)
                    last = high if last is None else max(last, high)
            for tp in list(remaining):
                if await consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
    finally:
        await consumer.stop()
    return TopicTimes(count, first, last)
