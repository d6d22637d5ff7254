"""Faust's Kafka transport, made to read only committed records.

Faust (0.15) reads ``read_committed`` only when its own processing guarantee
is exactly-once. Our sources are written in Kafka transactions (the
connector commits raw records with its offsets, KIP-98), so an at-least-once
stage must not see records of an aborted transaction either: those were
never part of the stream. This transport gives every worker consumer
``isolation_level="read_committed"`` whatever the guarantee, and a commit
gate (see :class:`GatedConsumer` and streams.sink).
"""

from __future__ import annotations

import asyncio
from typing import Any

import faust
from faust.transport.drivers import aiokafka as faust_aiokafka

__all__ = ["GatedConsumer", "ReadCommittedTransport", "use_read_committed"]


class _ReadCommittedConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        # faust builds the aiokafka consumer with a fixed isolation level and
        # offers no setting for it; aiokafka reads this attribute when the
        # consumer starts (AIOKafkaConsumer.start builds its Fetcher from it).
        consumer._isolation_level = "read_committed"
        return consumer


class GatedConsumer(faust_aiokafka.Consumer):
    """Faust's consumer, reading committed records, committing under a gate.

    :attr:`commit_gate` is held by every commit, so a sink can keep a
    commit from taking its offsets while an event is half-written. Events
    must be acked in the order they were delivered, per partition, as the
    sinks of streams.sink do: the committed offset is the one after the
    highest acked.
    """

    _commit_gate: asyncio.Lock | None = None

    @property
    def commit_gate(self) -> asyncio.Lock:
        if self._commit_gate is None:
            self._commit_gate = asyncio.Lock()
        return self._commit_gate

    async def commit(
        self, topics: Any = None, start_new_transaction: bool = True
    ) -> bool:
        async with self.commit_gate:
            return bool(
                await super().commit(
                    topics, start_new_transaction=start_new_transaction
                )
            )

    # Which offset to commit. Faust 0.15 looks for the first run of
    # consecutive acked offsets, treating offsets it never received (the
    # commit markers of a transactional source, KIP-98) as "gaps". Its gap
    # runs one offset too far, over the next real record: that record then
    # counts twice, the run breaks there, and each commit advances by one
    # source transaction only. Under exactly-once the output of the records
    # past the run is committed in the transaction without their offsets,
    # and a restart writes it again (seen: committed 152 while 1,052 were
    # acked and written). Our sinks ack each partition's events in the
    # order Kafka delivered them, so the highest acked offset is the last
    # record processed with all before it: commit the one after it.

    def _new_offset(self, tp: Any) -> int | None:
        acked = self._acked[tp]
        if not acked:
            return None
        highest = int(max(acked))
        self._acked_index[tp].difference_update(acked)
        acked.clear()
        return highest + 1

    async def _add_gap(self, tp: Any, offset_from: int, offset_to: int) -> None:
        # Gaps need no bookkeeping when acks come in delivery order.
        return None

    def _new_consumer_thread(self) -> _ReadCommittedConsumerThread:
        return _ReadCommittedConsumerThread(self, loop=self.loop, beacon=self.beacon)


class ReadCommittedTransport(faust_aiokafka.Transport):
    """The aiokafka transport whose worker consumers read committed records."""

    Consumer = GatedConsumer


def use_read_committed(app: faust.App) -> None:
    """Make ``app`` consume with ``read_committed``; call before it starts."""
    app.transport = ReadCommittedTransport(app.conf.broker_consumer, app)
