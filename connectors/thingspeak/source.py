"""The ThingSpeak source: every configured channel polled into Kafka.

Several connector processes can share a fleet: instance ``i`` of ``n`` polls
the channels whose id is ``i`` modulo ``n``, with its own transactional id
(``<client_id>-connector-<i>``), so a restarted instance fences its own
predecessor and no other.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from connectors.errors import (
    ChannelAccessError,
    ChannelError,
    ChannelNotFoundError,
    DeliveryError,
)
from connectors.thingspeak.client import RetryPolicy, ThingSpeakClient
from connectors.thingspeak.cursor import load_cursors
from connectors.thingspeak.poller import ChannelPoller, ChannelTally
from connectors.thingspeak.sink import TransactionalSink
from connectors.thingspeak.topics import require_topics
from schemas.metrics import AliasTable
from vitalstream.config import ChannelSettings, Settings
from vitalstream.errors import ConfigError

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RunSummary:
    """Per-channel tallies of a run, and their totals."""

    channels: list[ChannelTally]

    @property
    def produced(self) -> int:
        return sum(t.produced for t in self.channels)

    @property
    def dead_lettered(self) -> int:
        return sum(t.dead_lettered for t in self.channels)

    @property
    def errors(self) -> int:
        return sum(t.errors for t in self.channels)

    def lines(self) -> list[str]:
        """One line per channel, then the total."""
        return [t.line() for t in self.channels] + [
            f"total: {len(self.channels)} channels, {self.produced} produced, "
            f"{self.dead_lettered} dead-lettered, {self.errors} errors"
        ]


def shard(
    channels: Sequence[ChannelSettings], instance: int, instances: int
) -> list[ChannelSettings]:
    """The channels instance ``instance`` of ``instances`` polls (id modulo count)."""
    if instances < 1 or not 0 <= instance < instances:
        raise ConfigError(
            "--instance/--instances",
            f"{instance} of {instances}",
            "0 <= instance < instances",
        )
    return [c for c in channels if c.id % instances == instance]


class ThingSpeakSource:
    """Polls this instance's channels until stopped, or once until caught up."""

    def __init__(
        self,
        settings: Settings,
        *,
        instance: int = 0,
        instances: int = 1,
        retry: RetryPolicy | None = None,
    ) -> None:
        self._settings = settings
        self._channels = shard(settings.channels, instance, instances)
        self._instance = instance
        self._retry = retry
        # Back-pressure: a channel holds its fetched pages until Kafka commits
        # them, so only so many channels catch up at once; the others wait
        # before fetching, not with pages in memory (1,000 channels backfilling
        # at once would otherwise hold every page).
        self._catching_up = asyncio.Semaphore(2 * settings.connector.concurrency)
        try:
            self._aliases = AliasTable(settings.connector.aliases)
        except ValueError as exc:
            raise ConfigError("connector.aliases", "a bad alias", str(exc)) from None

    async def run(
        self, *, once: bool = False, stop: asyncio.Event | None = None
    ) -> RunSummary:
        """Poll until ``stop`` is set, or with ``once`` until every channel caught up.

        Committed work is kept on stop: in-flight transactions finish first.
        Raises :class:`TopicsMissingError` before anything else if a topic
        it writes does not exist, :class:`DeliveryError` if Kafka refused a
        transaction.
        """
        stop = stop or asyncio.Event()
        await require_topics(self._settings)
        sink = TransactionalSink(self._settings, instance=self._instance)
        await sink.start()
        try:
            cursors = await load_cursors(self._settings)
        except BaseException:
            await sink.close()
            raise
        for cursor in cursors.values():
            sink.guard.committed(cursor.channel, cursor.entry_id)

        client = ThingSpeakClient(self._settings.connector, retry=self._retry)
        pollers = [
            ChannelPoller(
                channel,
                client=client,
                sink=sink,
                settings=self._settings.connector,
                aliases=self._aliases,
                cursor=cursors.get(channel.id),
            )
            for channel in self._channels
        ]
        logger.info("polling %d channel(s)%s", len(pollers), " once" if once else "")
        tasks = [
            asyncio.create_task(
                self._poll(p, once, stop), name=f"channel-{p.channel.id}"
            )
            for p in pollers
        ]
        try:
            await _until_done_or_stopped(tasks, stop)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            try:
                await sink.close(self._settings.connector.shutdown_timeout_s)
            finally:
                await client.aclose()
        if sink.failure is not None:
            raise sink.failure
        return RunSummary([p.tally for p in pollers])

    async def _poll(
        self, poller: ChannelPoller, once: bool, stop: asyncio.Event
    ) -> None:
        settings = self._settings.connector
        while not stop.is_set():
            delay = settings.poll_interval_s
            try:
                async with self._catching_up:
                    await poller.catch_up()
            except DeliveryError:
                stop.set()
                return
            except (ChannelAccessError, ChannelNotFoundError) as exc:
                _record(poller, exc)
                delay = settings.slow_retry_s
            except ChannelError as exc:
                _record(poller, exc)
            except Exception as exc:
                # A bug must not stop the other channels; it is logged in full.
                logger.exception("channel %s: unexpected failure", poller.channel.id)
                _record(poller, exc, logged=True)
            if once:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)


def _record(poller: ChannelPoller, exc: BaseException, *, logged: bool = False) -> None:
    poller.tally.errors += 1
    poller.tally.last_error = str(exc)
    if not logged:
        logger.error("%s", exc)


async def _until_done_or_stopped(
    tasks: list[asyncio.Task[None]], stop: asyncio.Event
) -> None:
    stopped = asyncio.create_task(stop.wait())
    try:
        pending = [t for t in tasks if not t.done()]
        while pending and not stop.is_set():
            await asyncio.wait([*pending, stopped], return_when=asyncio.FIRST_COMPLETED)
            pending = [t for t in tasks if not t.done()]
    finally:
        stopped.cancel()
