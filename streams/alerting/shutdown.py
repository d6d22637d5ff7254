"""Stopping within bounds, whatever Kafka is doing.

SIGTERM must stop `vitalstream alert` in seconds even when the broker is
gone: start-up steps give way to it, a batch stuck committing to a broker
that does not answer is abandoned after a grace period (its transaction
never commits, so the next run evaluates it again: nothing is lost), and
each Kafka client is closed with a time limit of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Coroutine
from typing import Any

from aiokafka.errors import KafkaError

logger = logging.getLogger(__name__)

#: How long a batch in flight may go on committing once a stop is asked for.
STOP_GRACE_S = 5.0
#: How long a cancelled batch may take to give up (it tries to abort).
CANCEL_S = 2.0
#: How long each Kafka client may take to close.
CLOSE_S = 5.0


async def unless_stopped(step: Awaitable[Any], stop: asyncio.Event) -> bool:
    """Run ``step`` unless ``stop`` is set first; False: stopped first.

    Start-up waits on Kafka (40 s per attempt when an address accepts and
    never answers); SIGTERM must not wait with it. The step's own error, if
    any, is raised.
    """
    task = asyncio.ensure_future(step)
    stopped = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({task, stopped}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopped.cancel()
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    if task.cancelled():
        return False
    task.result()
    return True


async def until_stopped(
    loop: Coroutine[Any, Any, None], stop: asyncio.Event, grace_s: float = STOP_GRACE_S
) -> bool:
    """Run ``loop``, which returns on its own once ``stop`` is set.

    A loop that has not returned ``grace_s`` after the stop (a commit to a
    broker that is down) is cancelled. Returns False when it had to be.
    """
    task = asyncio.ensure_future(loop)
    stopped = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({task, stopped}, return_when=asyncio.FIRST_COMPLETED)
        if not task.done():
            await asyncio.wait({task}, timeout=grace_s)
    finally:
        stopped.cancel()
    if task.done():
        task.result()  # the loop's own error, if any
        return True
    # A cancelled commit still tries to abort its transaction, which waits
    # for the broker too: cancelled once more, then left to asyncio.run.
    for _ in range(2):
        task.cancel()
        await asyncio.wait({task}, timeout=CANCEL_S)
        if task.done():
            break
    return False


async def close_client(client: Any, name: str, timeout_s: float = CLOSE_S) -> bool:
    """``await client.stop()`` within ``timeout_s``; False if it was not clean.

    Never raises over Kafka being away; a cancellation of the calling task
    itself is passed on.
    """
    try:
        await asyncio.wait_for(client.stop(), timeout_s)
        return True
    except asyncio.CancelledError:
        current = asyncio.current_task()
        if current is not None and current.cancelling():
            raise
        # aiokafka 0.14: Fetcher.close() cancels and awaits its fetch tasks,
        # and one backing off after a failed fetch (broker away) re-raises
        # the cancellation; AIOKafkaConsumer.stop() then never closes its
        # client. Close that here.
        inner = getattr(client, "_client", None)
        if inner is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(inner.close(), timeout_s)
        logger.warning("%s closed while Kafka was away", name)
    except (TimeoutError, KafkaError, OSError) as exc:
        logger.warning("%s did not close cleanly: %s", name, type(exc).__name__)
    return False
