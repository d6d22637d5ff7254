"""Records and cursors into Kafka together, in transactions.

Each channel batch (its readings, its dead letters and its new cursor) goes
into one Kafka transaction, and batches waiting at the same moment share
one. The raw records and the cursor that covers them therefore commit
together or not at all: after a crash the committed cursor says exactly
what committed, so nothing is skipped and nothing repeated for consumers
reading with ``isolation_level="read_committed"`` (KIP-98).

Starting the producer fences any older producer with the same transactional
id and aborts the transaction it left open.

While Kafka is out of reach aiokafka retries without end, and so does the
transaction in flight: the sink says so once, and a stop gives up on it
after a bound (:meth:`TransactionalSink.close`), leaving it uncommitted.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from connectors.errors import DeliveryError, ShutdownTimeoutError
from connectors.thingspeak.cursor import ChannelCursor
from schemas.records import DeadLetter, Reading
from vitalstream.config import Settings
from vitalstream.partitioner import CachedKeyPartitioner

logger = logging.getLogger(__name__)

# The largest record the producer sends (aiokafka's default, and about the
# broker's message.max.bytes). Readings are small by their shape and dead
# letters are bounded excerpts (schemas.records), so no entry, however
# hostile, makes a record Kafka refuses: one would fail its transaction on
# every run and stop every channel with it.
MAX_REQUEST_BYTES = 1_048_576
# A transaction not acknowledged after this long is waiting for a broker
# out of reach (aiokafka's own lines say only that a node did not answer).
STALLED_AFTER_S = 10.0
# After giving up on the transaction in flight, how long the producer may
# take to close (it cannot flush to a broker that is away).
_PRODUCER_STOP_S = 2.0


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
        self._in_flight: list[ChannelBatch] = []
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
            partitioner=CachedKeyPartitioner(),
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

    async def close(self, timeout_s: float | None = None) -> None:
        """Commit what was submitted, then stop the producer.

        Raises :class:`ShutdownTimeoutError` if Kafka has not acknowledged it
        all within ``timeout_s``: what it had not is left uncommitted, with
        the cursors before it.
        """
        if self._committer is not None:
            self._queue.put_nowait(_STOP)
            try:
                await asyncio.wait_for(asyncio.shield(self._committer), timeout_s)
            except TimeoutError:
                self._give_up(timeout_s)
            self._committer = None
        if self._producer is not None:
            producer, self._producer = self._producer, None
            if isinstance(self._failure, ShutdownTimeoutError):
                # It would wait for the broker too; what it held is abandoned.
                await _stop_within(producer, _PRODUCER_STOP_S)
                raise self._failure
            await producer.stop()
            logger.info("producer %s stopped", self.transactional_id)

    def _give_up(self, timeout_s: float | None) -> None:
        assert self._committer is not None
        self._committer.cancel()
        pending = self._take_pending()
        self._failure = ShutdownTimeoutError(
            f"stopped after {timeout_s:g} s (connector.shutdown_timeout_s) with "
            f"{len(pending)} batch(es), {sum(len(b.records) for b in pending)} "
            f"record(s), that Kafka at {self._settings.kafka.bootstrap_servers} "
            "had not acknowledged: they are not committed and the cursors were "
            "not advanced past them; a restart reads those entries again "
            "(read_committed consumers see each once)"
        )
        for batch in pending:
            if not batch.done.done():
                batch.done.set_exception(self._failure)

    async def _commit_loop(self) -> None:
        while True:
            first = await self._queue.get()
            if first is _STOP:
                return
            assert isinstance(first, ChannelBatch)
            group, stop = self._gather(first)
            self._in_flight = group
            try:
                await self._commit_watched(group)
            except (KafkaError, DeliveryError) as exc:
                self._fail(exc)
                return
            self._in_flight = []
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

    async def _commit_watched(self, group: list[ChannelBatch]) -> None:
        commit = asyncio.ensure_future(self._commit(group))
        try:
            done, _ = await asyncio.wait({commit}, timeout=STALLED_AFTER_S)
            if not done:
                began = time.monotonic() - STALLED_AFTER_S
                logger.warning(
                    "Kafka at %s has not acknowledged a transaction for %.0f s: "
                    "it looks unreachable; polling waits until it answers",
                    self._settings.kafka.bootstrap_servers,
                    STALLED_AFTER_S,
                )
                await asyncio.wait({commit})
                if commit.exception() is None:
                    logger.info(
                        "Kafka answered again after %.0f s; polling goes on",
                        time.monotonic() - began,
                    )
            commit.result()
        finally:
            commit.cancel()  # when this task is cancelled: no orphan commit

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

    def _fail(self, exc: BaseException) -> None:
        self._failure = DeliveryError(
            f"Kafka transaction of producer {self.transactional_id!r} failed "
            f"({type(exc).__name__}: {exc}); restart the connector to resume "
            "from the committed cursors"
        )
        for batch in self._take_pending():
            if not batch.done.done():
                batch.done.set_exception(self._failure)

    def _take_pending(self) -> list[ChannelBatch]:
        # The group in flight and whatever waits in the queue.
        pending, self._in_flight = self._in_flight, []
        while not self._queue.empty():
            item = self._queue.get_nowait()
            if isinstance(item, ChannelBatch):
                pending.append(item)
        return pending


async def _stop_within(producer: AIOKafkaProducer, timeout_s: float) -> None:
    try:
        await asyncio.wait_for(producer.stop(), timeout_s)
    except (TimeoutError, KafkaError) as exc:
        logger.debug("producer did not stop cleanly: %r", exc)


def _retrieve(future: asyncio.Future[None]) -> None:
    if not future.cancelled():
        future.exception()
