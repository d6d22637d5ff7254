"""The local broker does what every stage relies on: plain and transactional I/O."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from vitalstream.config import Settings
from vitalstream.topics import ensure_topics


async def _read_all(
    bootstrap: str, topic: str, expected: int, isolation_level: str
) -> list[bytes]:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        isolation_level=isolation_level,
    )
    await consumer.start()
    values: list[bytes] = []
    try:
        for _ in range(20):
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                values.extend(record.value for record in records)
            if len(values) >= expected:
                break
    finally:
        await consumer.stop()
    return values


async def test_produce_and_consume(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings()
    await ensure_topics(settings)
    bootstrap = settings.kafka.bootstrap_servers
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True)
    await producer.start()
    try:
        for n in range(5):
            await producer.send_and_wait(
                settings.topics.raw.name, f"reading {n}".encode(), key=b"device-1"
            )
    finally:
        await producer.stop()

    values = await _read_all(bootstrap, settings.topics.raw.name, 5, "read_uncommitted")

    assert values == [f"reading {n}".encode() for n in range(5)]


async def test_transactional_produce_hides_aborted_records(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings()
    await ensure_topics(settings)
    bootstrap = settings.kafka.bootstrap_servers
    topic = settings.topics.raw.name
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        transactional_id=f"test-tx-{uuid.uuid4().hex[:8]}",
    )
    await producer.start()
    try:
        async with producer.transaction():
            await producer.send(topic, b"committed-1", key=b"d")
            await producer.send(topic, b"committed-2", key=b"d")
        await producer.begin_transaction()
        await producer.send(topic, b"aborted", key=b"d")
        await producer.abort_transaction()
        async with producer.transaction():
            await producer.send(topic, b"committed-3", key=b"d")
    finally:
        await producer.stop()

    committed = await _read_all(bootstrap, topic, 3, "read_committed")
    everything = await _read_all(bootstrap, topic, 4, "read_uncommitted")

    assert committed == [b"committed-1", b"committed-2", b"committed-3"]
    assert b"aborted" in everything
