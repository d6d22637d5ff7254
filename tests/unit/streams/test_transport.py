"""The consumer's eager delivery: same outcome as Faust's wait_first, less work.

GatedConsumer runs a delivery's first step inline and falls back to mode's
race against ``suspend_flow`` only when the delivery suspends. These tests
pin that the fallback keeps the old behaviour: results and errors reach the
delivery, a suspension abandons a blocked delivery, and a cancellation
reaches the delivery through the future it waits on.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import faust
import pytest

from streams.anonymiser.app import create_app
from streams.transport import GatedConsumer, _resume
from vitalstream.config import Settings


@pytest.fixture
async def consumer(tmp_path: Path) -> GatedConsumer:
    # Made inside the running loop, which the consumer (a mode Service)
    # then runs its tasks on, as in a worker.
    settings = Settings(anonymiser={"data_dir": tmp_path / "faust"})
    app: faust.App = create_app(settings, web_port=0)
    consumer = app.consumer
    assert isinstance(consumer, GatedConsumer)
    assert consumer.loop is asyncio.get_running_loop()
    return consumer


class Delivery:
    """A stand-in for the conductor's callback, recording what happened."""

    def __init__(self, blocker: asyncio.Future[str] | None = None) -> None:
        self.blocker = blocker
        self.steps: list[str] = []
        self.ran_in: asyncio.Task[Any] | None = None

    async def __call__(self) -> str:
        self.ran_in = asyncio.current_task()
        self.steps.append("started")
        try:
            if self.blocker is not None:
                got = await self.blocker
                self.steps.append(f"got {got}")
        except asyncio.CancelledError:
            self.steps.append("cancelled")
            raise
        self.steps.append("finished")
        return "delivered"


async def test_a_delivery_that_never_suspends_completes_inline(
    consumer: GatedConsumer,
) -> None:
    delivery = Delivery()
    results = await consumer.wait_first(delivery(), consumer.suspend_flow.wait())
    assert results.results == ["delivered"]
    assert not results.stopped
    assert delivery.steps == ["started", "finished"]
    # In the caller's own task: no task was made for it.
    assert delivery.ran_in is asyncio.current_task()


async def test_a_delivery_that_suspends_gets_its_result(
    consumer: GatedConsumer,
) -> None:
    blocker: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    asyncio.get_running_loop().call_later(0.01, blocker.set_result, "room")
    delivery = Delivery(blocker)
    results = await consumer.wait_first(delivery(), consumer.suspend_flow.wait())
    assert results.results == ["delivered"]
    assert delivery.steps == ["started", "got room", "finished"]


async def test_an_error_raised_inline_reaches_the_caller(
    consumer: GatedConsumer,
) -> None:
    async def broken() -> None:
        raise ValueError("cannot decode")

    with pytest.raises(ValueError, match="cannot decode"):
        await consumer.wait_first(broken(), consumer.suspend_flow.wait())


async def test_a_suspension_abandons_a_blocked_delivery(
    consumer: GatedConsumer,
) -> None:
    blocker: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    delivery = Delivery(blocker)
    asyncio.get_running_loop().call_later(0.01, consumer.suspend_flow.set)
    try:
        results = await consumer.wait_first(delivery(), consumer.suspend_flow.wait())
    finally:
        consumer.suspend_flow.clear()
    await asyncio.sleep(0)  # let the abandoned delivery see its cancellation
    assert results.results == [True]  # the suspension won the race
    assert delivery.steps == ["started", "cancelled"]
    assert blocker.cancelled()


async def test_while_suspended_nothing_runs_inline(consumer: GatedConsumer) -> None:
    # As before: a delivery raced against an already-set suspension may run,
    # but the call returns at once with the suspension among the winners.
    consumer.suspend_flow.set()
    try:
        results = await consumer.wait_first(Delivery()(), consumer.suspend_flow.wait())
    finally:
        consumer.suspend_flow.clear()
    assert True in results.results


async def test_other_waits_are_left_to_mode(consumer: GatedConsumer) -> None:
    event = asyncio.Event()
    asyncio.get_running_loop().call_later(0.01, event.set)
    results = await consumer.wait_first(event.wait(), timeout=1.0)
    assert results.results == [True]


async def test_resume_delivers_a_cancellation_through_the_awaited_future() -> None:
    blocker: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    delivery = Delivery(blocker)
    coro = delivery()
    awaited: Any = coro.send(None)
    assert awaited is blocker
    task = asyncio.ensure_future(_resume(coro, awaited))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert delivery.steps == ["started", "cancelled"]


async def test_resume_passes_an_exception_of_the_awaited_future() -> None:
    blocker: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    delivery = Delivery(blocker)
    coro = delivery()
    awaited: Any = coro.send(None)
    blocker.set_exception(OSError("broker gone"))
    with pytest.raises(OSError, match="broker gone"):
        await _resume(coro, awaited)
    assert delivery.steps == ["started"]


async def test_resume_follows_bare_yields() -> None:
    async def yields_twice() -> int:
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        return 7

    coro = yields_twice()
    awaited = coro.send(None)
    assert await _resume(coro, awaited) == 7
