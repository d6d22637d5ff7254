"""Bounded reads: a topic's committed records from its start to its end *now*.

Used to restore rule state and by `vitalstream decrypt`, both of which must
finish. The end is each partition's last stable offset when the read
begins (``read_committed``), so records written meanwhile are not waited for.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from streams.alerting.errors import AlertingError
from vitalstream.config import Settings


async def partition_ids(settings: Settings, topic: str) -> list[int]:
    """The partition ids of ``topic``; :class:`AlertingError` if it does not exist."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=settings.kafka.bootstrap_servers,
        client_id=f"{settings.kafka.client_id}-reader",
    )
    await admin.start()
    try:
        # All topics: naming one makes an auto-creating broker create it.
        described: list[dict[str, Any]] = await admin.describe_topics()
    finally:
        await admin.close()
    for entry in described:
        if entry["topic"] == topic and entry["error_code"] == 0:
            return sorted(p["partition"] for p in entry["partitions"])
    raise AlertingError(f"topic {topic!r} does not exist")


async def read_to_end(
    settings: Settings, topic: str, partitions: list[int] | None = None
) -> AsyncIterator[Any]:
    """Yield the committed records of ``topic`` (all partitions if ``None``)."""
    if partitions is None:
        partitions = await partition_ids(settings, topic)
    if not partitions:
        return
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka.bootstrap_servers,
        client_id=f"{settings.kafka.client_id}-reader",
        group_id=None,
        isolation_level="read_committed",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in partitions]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        pending = {tp for tp in tps if ends[tp] > 0}
        while pending:
            batch = await consumer.getmany(*pending, timeout_ms=1000)
            for tp, messages in batch.items():
                for message in messages:
                    if message.offset < ends[tp]:
                        yield message
            for tp in list(pending):
                if await consumer.position(tp) >= ends[tp]:
                    pending.discard(tp)
    finally:
        await consumer.stop()
