"""Records and cursors into Kafka together, in transactions.

Each channel batch (its readings, its dead letters and its new cursor) goes
into one Kafka transaction, and batches waiting at the same moment share
one. The raw records and the cursor that covers them therefore commit
together or not at all: after a crash the committed cursor says exactly
what committed, so nothing is skipped and nothing repeated for consumers
reading with ``isolation_level="read_committed"`` (KIP-98).

Starting the producer fences any older producer with the same transactional
id and aborts the transaction it left open.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from connectors.errors import DeliveryError
from connectors.thingspeak.cursor import ChannelCursor
from schemas.records import DeadLetter, Reading
from vitalstream.config import Settings

logger = logging.getLogger(__name__)

# The largest record the producer sends (aiokafka's default, and about the
# broker's message.max.bytes). Readings are small by their shape and dead
# letters are bounded excerpts (schemas.records), so no entry, however
# hostile, makes a record Kafka refuses: one would fail its transaction on
# every run and stop every channel with it.
MAX_REQUEST_BYTES = 1_048_576


@dataclass(slots=True)
class ChannelBatch:
    """One channel's new records in entry_id order, and the cursor after them."""

    device: str
    records: list[Reading | DeadLetter]
    entry_ids: list[int]
    cursor: ChannelCursor
    done: asyncio.Future[None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class EntryGuard:
    """Refuses an entry of a channel at or below what was already committed.

    Polls of a channel never overlap and start after its cursor, so this
    never fires in a correct run; it is the last check before Kafka that
    one ``(channel, entry_id)`` is produced once.
    """

    def __init__(self, committed: dict[int, int] | None = None) -> None:
        self._committed = dict(committed or {})

    def admit(self, channel: int, entry_ids: list[int]) -> list[int]:
        """Positions in ``entry_ids`` that are new and increasing."""
        last = self._committed.get(channel, 0)
        admitted = []
        for position, entry_id in enumerate(entry_ids):
            if entry_id > last:
                admitted.append(position)
                last = entry_id
            else:
                logger.warning(
                    "channel %s: entry %s was already produced; not producing it again",
                    channel,
                    entry_id,
                )
        return admitted

    def committed(self, channel: int, entry_id: int) -> None:
        self._committed[channel] = max(entry_id, self._committed.get(channel, 0))


_STOP = object()


class TransactionalSink:
    """Produces channel batches with their cursors, one transaction at a time."""

    def __init__(
        self,
        settings: Settings,
        *,
        instance: int = 0,
        max_records_per_transaction: int = 50_000,
    ) -> None:
        self._settings = settings
        self.transactional_id = f"{settings.kafka.client_id}-connector-{instance}"
        self._max_records = max_records_per_transaction
        self._queue: asyncio.Queue[ChannelBatch | object] = asyncio.Queue()
        self._producer: AIOKafkaProducer | None = None
        self._committer: asyncio.Task[None] | None = None
        self._failure: DeliveryError | None = None
        self.guard = EntryGuard()

    async def start(self) -> None:
        """Start the transactional producer; fences older ones with this id."""
        self._producer = AIOKafkaProducer(
            bootstrap_servers=self._settings.kafka.bootstrap_servers,
            client_id=f"{self._settings.kafka.client_id}-connector",
            transactional_id=self.transactional_id,
            enable_idempotence=True,
            acks="all",
            linger_ms=5,
            max_batch_size=256 * 1024,
            max_request_size=MAX_REQUEST_BYTES,
        )
        try:
            await self._producer.start()
        except KafkaError as exc:
            await self._producer.stop()
            raise DeliveryError(
                f"cannot start the transactional producer "
                f"{self.transactional_id!r}: {type(exc).__name__}: {exc}"
            ) from exc
        self._committer = asyncio.create_task(self._commit_loop(), name="sink")
        logger.info("producer %s started", self.transactional_id)

    @property
    def failure(self) -> DeliveryError | None:
        """Why the sink stopped taking batches, if it did."""
        return self._failure

    async def submit(self, batch: ChannelBatch) -> None:
        """Produce the batch and its cursor; return once Kafka committed them.

        Raises :class:`DeliveryError` if the transaction failed; nothing of
        the batch is then visible to read_committed consumers.
        """
        if self._failure is not None:
            raise self._failure
        admitted = self.guard.admit(batch.cursor.channel, batch.entry_ids)
        if len(admitted) != len(batch.records):
            batch.records = [batch.records[i] for i in admitted]
            batch.entry_ids = [batch.entry_ids[i] for i in admitted]
        # Retrieved here so an unawaited failure (cancelled poller) logs nothing.
        batch.done.add_done_callback(_retrieve)
        self._queue.put_nowait(batch)
        # Shielded: a poller cancelled at shutdown must not cancel the commit.
        await asyncio.shield(batch.done)

    async def close(self) -> None:
        """Commit what was submitted, then stop the producer."""
        if self._committer is not None:
            self._queue.put_nowait(_STOP)
            await self._committer
            self._committer = None
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None
            logger.info("producer %s stopped", self.transactional_id)

    async def _commit_loop(self) -> None:
        while True:
            first = await self._queue.get()
            if first is _STOP:
                return
            assert isinstance(first, ChannelBatch)
            group, stop = self._gather(first)
            try:
                await self._commit(group)
            except (KafkaError, DeliveryError) as exc:
                self._fail(group, exc)
                return
            for batch in group:
                self.guard.committed(batch.cursor.channel, batch.cursor.entry_id)
                if not batch.done.done():
                    batch.done.set_result(None)
            if stop:
                return

    def _gather(self, first: ChannelBatch) -> tuple[list[ChannelBatch], bool]:
        group, size = [first], len(first.records)
        while size < self._max_records and not self._queue.empty():
            item = self._queue.get_nowait()
            if item is _STOP:
                return group, True
            assert isinstance(item, ChannelBatch)
            group.append(item)
            size += len(item.records)
        return group, False

    async def _commit(self, group: list[ChannelBatch]) -> None:
        producer = self._producer
        assert producer is not None
        topics = self._settings.topics
        async with producer.transaction():
            sent = []
            for batch in group:
                key = batch.device.encode()
                for record in batch.records:
                    topic = (
                        topics.raw.name
                        if isinstance(record, Reading)
                        else topics.deadletter.name
                    )
                    sent.append(await producer.send(topic, record.to_json(), key=key))
                sent.append(
                    await producer.send(
                        topics.connector_offsets.name,
                        batch.cursor.to_json(),
                        key=batch.cursor.key,
                    )
                )
            # Every record acknowledged before the commit is asked for.
            await asyncio.gather(*sent)
        logger.debug(
            "committed %d batch(es), %d record(s)",
            len(group),
            sum(len(b.records) for b in group),
        )

    def _fail(self, group: list[ChannelBatch], exc: BaseException) -> None:
        self._failure = DeliveryError(
            f"Kafka transaction of producer {self.transactional_id!r} failed "
            f"({type(exc).__name__}: {exc}); restart the connector to resume "
            "from the committed cursors"
        )
        pending = list(group)
        while not self._queue.empty():
            item = self._queue.get_nowait()
            if isinstance(item, ChannelBatch):
                pending.append(item)
        for batch in pending:
            if not batch.done.done():
                batch.done.set_exception(self._failure)


def _retrieve(future: asyncio.Future[None]) -> None:
    if not future.cancelled():
        future.exception()
