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
import inspect
import types
from collections.abc import Coroutine, Generator
from functools import partial
from typing import Any

import faust
from faust.transport.drivers import aiokafka as faust_aiokafka
from mode.services import WaitResults

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

    # Delivering a fetched message. Faust 0.15 hands every message to the
    # conductor through ``wait_first(callback(message), suspend_flow.wait())``
    # so that a rebalance can abandon a delivery that blocks. That costs four
    # tasks, an ``asyncio.wait`` and three cancellations per message, about a
    # third of the worker's CPU per record (bench/README.md), while nearly
    # every delivery completes without suspending: its queue has room and
    # flow is not suspended. So the delivery runs eagerly, as Python 3.12's
    # eager tasks would: a first step inline, and only a delivery that does
    # suspend goes on in a task, raced against the suspension as before.

    async def wait_first(
        self,
        *coros: Any,
        timeout: Any = None,  # noqa: ASYNC109 - mode's signature, which Faust calls
    ) -> WaitResults:
        if timeout is None and self._is_delivery(coros):
            delivery, suspended = coros
            if not (
                self.suspend_flow.is_set()
                or self._stopped.is_set()
                or self._crashed.is_set()
            ):
                try:
                    awaited = delivery.send(None)
                except StopIteration as done:
                    suspended.close()
                    return WaitResults([delivery], [done.value], False)
                except BaseException:
                    suspended.close()
                    raise
                coros = (_resume(delivery, awaited), suspended)
        return await super().wait_first(*coros, timeout=timeout)

    def _is_delivery(self, coros: tuple[Any, ...]) -> bool:
        # The call Consumer._drain_messages makes: a fresh coroutine and a
        # fresh wait on this consumer's suspend_flow.
        if len(coros) != 2:
            return False
        delivery, suspended = coros
        return (
            inspect.iscoroutine(delivery)
            and inspect.iscoroutine(suspended)
            and inspect.getcoroutinestate(delivery) == inspect.CORO_CREATED
            and inspect.getcoroutinestate(suspended) == inspect.CORO_CREATED
            and inspect.getcoroutinelocals(suspended).get("self") is self.suspend_flow
        )

    def _new_consumer_thread(self) -> _ReadCommittedConsumerThread:
        thread = _ReadCommittedConsumerThread(self, loop=self.loop, beacon=self.beacon)
        # Stopping waits for the group coordinator's goodbye; with Kafka gone
        # that lasted mode's 60 s. Past the session timeout the group has
        # handed the partitions on anyway, so waiting longer gains nothing:
        # what was not committed is read again (and, under exactly-once, was
        # never visible).
        session_s = float(self.app.conf.broker_session_timeout)
        thread.shutdown_timeout = session_s + 5.0
        return thread


async def _resume(coro: Coroutine[Any, Any, Any], awaited: Any) -> Any:
    """Drive ``coro`` on from its first suspension, as its task would have.

    ``awaited`` is what its last step yielded: the future it waits for, or
    ``None`` for a bare yield. This follows the task protocol
    (``asyncio.Future.__await__``): wait until the future is done, then
    resume the coroutine, which reads the future's result or exception. A
    cancellation reaches ``coro`` as a task delivers it: through the future
    it awaits, or thrown in where it waits.
    """
    while True:
        try:
            if awaited is None:
                await asyncio.sleep(0)
            else:
                await _until_done(awaited)
        except BaseException as exc:
            step = partial(coro.throw, exc)
        else:
            step = partial(coro.send, None)
        try:
            awaited = step()
        except StopIteration as done:
            return done.value


@types.coroutine
def _until_done(future: Any) -> Generator[Any, None, None]:
    # Suspend the running task on ``future`` without taking its result.
    if not future.done():
        future._asyncio_future_blocking = True
        yield future


class ReadCommittedTransport(faust_aiokafka.Transport):
    """The aiokafka transport whose worker consumers read committed records."""

    Consumer = GatedConsumer


def use_read_committed(app: faust.App) -> None:
    """Make ``app`` consume with ``read_committed``; call before it starts."""
    app.transport = ReadCommittedTransport(app.conf.broker_consumer, app)
