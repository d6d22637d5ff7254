"""Write a stage's output records and acknowledge their source only once written.

Faust commits a source offset once its event is acknowledged ("acked").
Faust acks an event when the agent moves on, or when the agent raises,
whether or not the record it produced ever reached Kafka; so a stage
iterates ``stream.noack()`` and leaves acking to a sink from this module:

- :class:`AtLeastOnceSink` acks an event when Kafka has acknowledged every
  record written for it (acks=all), in the order the events arrived, so
  the committed offset never passes an unwritten record. Faust flushes the
  producer before each commit; a failed write stops the worker without
  acking, and a restart reads the record again.
- :class:`ExactlyOnceSink` writes through the Kafka transaction Faust keeps
  for the event's source partition (KIP-98) and acks at once: the
  transaction commits the output records together with the source offsets,
  so either both are visible (``read_committed``) or neither.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Sequence
from functools import partial
from typing import Any, Protocol, cast

import faust
from faust.transport.consumer import TopicPartitionGroup, TransactionManager

from streams.errors import DeliveryError
from streams.transport import GatedConsumer

logger = logging.getLogger(__name__)

__all__ = [
    "AtLeastOnceSink",
    "ExactlyOnceSink",
    "OutputRecord",
    "RecordSink",
    "sink_for",
]

Event = faust.types.EventT[Any]
#: ``(topic, key, value)`` of a record to write.
OutputRecord = tuple[str, bytes | None, bytes]

# Crash tasks started from delivery callbacks, kept until done (asyncio
# holds only weak references to tasks).
_stopping: set[asyncio.Future[None]] = set()


class RecordSink(Protocol):
    """Writes records produced for an event, then acks the event."""

    async def write(
        self,
        event: Event,
        records: Sequence[OutputRecord],
    ) -> None:
        """Write ``(topic, key, value)`` records; ack ``event`` once safe."""


class AtLeastOnceSink:
    """Ack each event after Kafka acknowledged its records, in arrival order."""

    def __init__(self, app: faust.App, *, max_in_flight: int = 10_000) -> None:
        self._app = app
        self._max_in_flight = max_in_flight
        # Events in arrival order, each with its outstanding deliveries.
        self._pending: deque[_Pending] = deque()

    async def write(
        self,
        event: Event,
        records: Sequence[OutputRecord],
    ) -> None:
        entry = _Pending(event, len(records))
        self._pending.append(entry)
        for topic, key, value in records:
            future = await _send(self._app, topic, key, value)
            future.add_done_callback(partial(self._delivered, entry))
        if not records:
            self._ack_written_prefix()
        if len(self._pending) >= self._max_in_flight:
            # Backpressure: stop reading until the oldest event is written.
            await self._pending[0].written.wait()

    def _delivered(self, entry: _Pending, done: asyncio.Future[Any]) -> None:
        if done.cancelled() or done.exception() is not None:
            error = done.exception() if not done.cancelled() else None
            _stop_worker(self._app, entry.event, error)
            return
        entry.outstanding -= 1
        if entry.outstanding == 0:
            entry.written.set()
            self._ack_written_prefix()

    def _ack_written_prefix(self) -> None:
        # Acks stay in source order: Faust commits up to the first gap in
        # the acked offsets of a partition, but in 0.15 a gap of exactly one
        # offset after the last commit is not treated as a gap.
        pending = self._pending
        while pending and pending[0].outstanding == 0:
            pending.popleft().event.ack()


class ExactlyOnceSink:
    """Write through the source partition's transaction and ack at once."""

    def __init__(self, app: faust.App) -> None:
        self._app = app
        # Held from the first write of an event until its ack, and by every
        # commit (see streams.transport): a commit that takes its offsets
        # while an event is half-written would commit the records of an
        # event whose offset it does not commit, and a restart would write
        # them again.
        consumer = app.consumer
        if not isinstance(consumer, GatedConsumer):
            raise TypeError("exactly-once needs the app made by streams.transport")
        self._gate = consumer.commit_gate

    async def write(
        self,
        event: Event,
        records: Sequence[OutputRecord],
    ) -> None:
        transactional_id = self._transactional_id(event)
        async with self._gate:
            futures = [
                await _send(
                    self._app, topic, key, value, transactional_id=transactional_id
                )
                for topic, key, value in records
            ]
            event.ack()
        for future in futures:
            future.add_done_callback(partial(_check_transactional, self._app, event))

    def _transactional_id(self, event: Event) -> str:
        # Faust 0.15 names the transactional producer of each assigned source
        # partition "{app id}-{topic group}-{partition}" and commits that
        # partition's offsets in its transaction. Its own Topic.send picks
        # the producer by the *destination* partition instead, which holds
        # only when output and input are co-partitioned; ours are not (keys
        # differ), so the producer is chosen here from the source.
        tp = event.message.tp
        app = self._app
        group = TopicPartitionGroup(
            tp.topic, tp.partition, app.assignor.group_for_topic(tp.topic)
        )
        transactions = cast(TransactionManager, app.consumer.transactions)
        return str(
            transactions.transactional_id_format.format(tpg=group, group_id=app.conf.id)
        )


def sink_for(app: faust.App) -> RecordSink:
    """The sink that gives ``app`` its configured processing guarantee."""
    if app.in_transaction:
        return ExactlyOnceSink(app)
    return AtLeastOnceSink(app)


class _Pending:
    __slots__ = ("event", "outstanding", "written")

    def __init__(self, event: Event, outstanding: int) -> None:
        self.event = event
        self.outstanding = outstanding
        self.written = asyncio.Event()
        if outstanding == 0:
            self.written.set()


async def _send(
    app: faust.App,
    topic: str,
    key: bytes | None,
    value: bytes,
    *,
    transactional_id: str | None = None,
) -> asyncio.Future[Any]:
    # Producer.send queues the record and returns the future of its
    # delivery; it does not wait for the broker.
    try:
        queued = await app.producer.send(
            topic, key, value, None, None, None, transactional_id=transactional_id
        )
    except Exception as exc:
        raise DeliveryError(f"cannot queue a record for {topic}: {exc}") from exc
    return cast(asyncio.Future[Any], queued)


def _check_transactional(
    app: faust.App, event: Event, done: asyncio.Future[Any]
) -> None:
    # The event is acked, but a failed record fails its transaction, whose
    # commit then fails too: its offsets are not committed either.
    if done.cancelled() or done.exception() is not None:
        _stop_worker(app, event, None if done.cancelled() else done.exception())


def _stop_worker(app: faust.App, event: Event, error: BaseException | None) -> None:
    message = event.message
    failure = DeliveryError(
        f"a record for {message.topic}[{message.partition}]@{message.offset} "
        f"was not written ({error!r}); stopping without committing it"
    )
    logger.error("%s", failure)
    if not app.should_stop:
        task = asyncio.ensure_future(app.crash(failure))
        _stopping.add(task)
        task.add_done_callback(_stopping.discard)
