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
    commit from taking its offsets while an event is half-written.
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

    def _new_consumer_thread(self) -> _ReadCommittedConsumerThread:
        return _ReadCommittedConsumerThread(self, loop=self.loop, beacon=self.beacon)


class ReadCommittedTransport(faust_aiokafka.Transport):
    """The aiokafka transport whose worker consumers read committed records."""

    Consumer = GatedConsumer


def use_read_committed(app: faust.App) -> None:
    """Make ``app`` consume with ``read_committed``; call before it starts."""
    app.transport = ReadCommittedTransport(app.conf.broker_consumer, app)
