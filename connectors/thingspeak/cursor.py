"""Per-channel cursors on the compacted connector-offsets topic.

A cursor is the last entry_id of a channel that reached the raw topic (or
the dead-letter topic), with that entry's time: ``created_at``, where the
next read starts, is never later than the read that produced the entry (an
entry dated in the future must not hide the ones after it), and
``entry_created_at`` is the entry's own time. It is written in the same
Kafka transaction as the records it covers (see :mod:`.sink`), keyed by the
channel id, so compaction keeps the newest per channel and a reader with
``isolation_level="read_committed"`` never sees a cursor whose records were
aborted.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from connectors.errors import ConnectorError
from schemas.records import parse_utc, utc_iso
from vitalstream.config import Settings

logger = logging.getLogger(__name__)

CURSOR_SCHEMA = "vitalstream.connector-cursor/1"


@dataclass(frozen=True, slots=True)
class ChannelCursor:
    """Where a channel's feed has been read up to: an entry_id and its time.

    ``created_at`` is where the next read starts; ``entry_created_at`` the
    entry's own time, later when the entry was dated after its read.
    """

    channel: int
    entry_id: int
    created_at: datetime
    entry_created_at: datetime | None = None  # None: the same as created_at

    def __post_init__(self) -> None:
        if self.entry_created_at is None:
            object.__setattr__(self, "entry_created_at", self.created_at)

    @property
    def key(self) -> bytes:
        return str(self.channel).encode()

    @property
    def entry_time(self) -> datetime:
        """The entry's own time."""
        return self.entry_created_at or self.created_at

    def to_json(self) -> bytes:
        return orjson.dumps(
            {
                "schema": CURSOR_SCHEMA,
                "channel": self.channel,
                "entry_id": self.entry_id,
                "created_at": utc_iso(self.created_at),
                "entry_created_at": utc_iso(self.entry_time),
                "written_at": utc_iso(datetime.now(UTC)),
            }
        )

    @classmethod
    def from_json(cls, data: bytes) -> ChannelCursor:
        """Decode a cursor record; :class:`ValueError` naming what is wrong."""
        doc = orjson.loads(data)
        if not isinstance(doc, dict) or doc.get("schema") != CURSOR_SCHEMA:
            raise ValueError(f"not a {CURSOR_SCHEMA} record")
        channel, entry_id = doc.get("channel"), doc.get("entry_id")
        if not isinstance(channel, int) or not isinstance(entry_id, int):
            raise ValueError("channel and entry_id must be integers")
        created = doc.get("created_at")
        if not isinstance(created, str):
            raise ValueError("created_at must be a time")
        # Optional: cursors written before it existed have one time only.
        own = doc.get("entry_created_at")
        if own is not None and not isinstance(own, str):
            raise ValueError("entry_created_at must be a time")
        return cls(
            channel,
            entry_id,
            parse_utc(created),
            parse_utc(own) if own is not None else None,
        )


async def load_cursors(
    settings: Settings, *, timeout_s: float = 60.0
) -> dict[int, ChannelCursor]:
    """Every channel's committed cursor, read to the end of the offsets topic.

    Reads with ``read_committed``: call it after the transactional producer
    has started, which aborts any transaction a crashed predecessor left
    open, or the read waits for that transaction to time out. An unreadable
    record is skipped with a warning (its channel backfills again).
    Raises :class:`ConnectorError` if Kafka cannot be read in ``timeout_s``.
    """
    topic = settings.topics.connector_offsets.name
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka.bootstrap_servers,
        client_id=f"{settings.kafka.client_id}-connector-cursors",
        group_id=None,
        enable_auto_commit=False,
        isolation_level="read_committed",
        auto_offset_reset="earliest",
    )
    try:
        await consumer.start()
        partitions = settings.topics.connector_offsets.partitions
        return await asyncio.wait_for(_read_all(consumer, topic, partitions), timeout_s)
    except (KafkaError, TimeoutError) as exc:
        raise ConnectorError(
            f"cannot read the connector cursors from topic {topic!r}: "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    finally:
        await consumer.stop()


async def _read_all(
    consumer: AIOKafkaConsumer, topic: str, partitions: int
) -> dict[int, ChannelCursor]:
    # The partition count is the configured one: the connector refuses to
    # start on an offsets topic that differs (topics.require_topics).
    assigned = [TopicPartition(topic, p) for p in range(partitions)]
    consumer.assign(assigned)
    await consumer.seek_to_beginning(*assigned)
    ends = await consumer.end_offsets(assigned)

    cursors: dict[int, ChannelCursor] = {}
    while await _behind(consumer, ends):
        batches = await consumer.getmany(*assigned, timeout_ms=500)
        for records in batches.values():
            for record in records:
                if record.value is None:
                    continue
                try:
                    cursor = ChannelCursor.from_json(record.value)
                except ValueError as exc:
                    logger.warning(
                        "skipped unreadable cursor at %s offset %s: %s",
                        topic,
                        record.offset,
                        exc,
                    )
                    continue
                cursors[cursor.channel] = cursor
    logger.info("read %d channel cursor(s) from %s", len(cursors), topic)
    return cursors


async def _behind(consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int]) -> bool:
    for partition, end in ends.items():
        if await consumer.position(partition) < end:
            return True
    return False
