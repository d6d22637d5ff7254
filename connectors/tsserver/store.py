"""The channels a server answers for, and the clock and timeline it reads them by."""

from __future__ import annotations

import bisect
import time
from collections.abc import Callable, Iterable, Iterator

from connectors.tsserver.channels import Channel
from connectors.tsserver.timeline import StaticTimeline, Timeline


class ChannelStore:
    """Channels by id, served through one timeline and one clock.

    ``clock`` returns the current UTC epoch in seconds; tests pass their own
    to move time without waiting.
    """

    def __init__(
        self,
        channels: Iterable[Channel] = (),
        *,
        timeline: Timeline | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.timeline: Timeline = timeline or StaticTimeline()
        self.clock = clock
        self._channels: dict[int, Channel] = {}
        for channel in channels:
            self.add(channel)

    def add(self, channel: Channel) -> None:
        """Serve ``channel``; ValueError if its id is already served."""
        if channel.id in self._channels:
            raise ValueError(f"channel {channel.id} is served twice")
        self._channels[channel.id] = channel

    def get(self, channel_id: int) -> Channel | None:
        """The channel with this id, if it is served."""
        return self._channels.get(channel_id)

    def __len__(self) -> int:
        return len(self._channels)

    def __iter__(self) -> Iterator[Channel]:
        return iter(self._channels.values())

    def warm(self) -> None:
        """Create every entry visible now (simulations do it on first read)."""
        now = self.clock()
        for channel in self._channels.values():
            self.visible(channel, now)

    def ids(self) -> list[int]:
        """Every served channel id, ascending."""
        return sorted(self._channels)

    def visible(self, channel: Channel, now: float | None = None) -> int:
        """How many of the channel's entries (oldest first) can be read now."""
        moment = self.clock() if now is None else now
        count = self.timeline.visible(channel, moment)
        channel.prepare(count)
        return count

    def time_of(self, channel: Channel, index: int) -> int:
        """The ``created_at`` epoch second of the entry at ``index``."""
        return self.timeline.time_of(channel, index)

    def bounds(
        self, channel: Channel, visible: int, start: int | None, end: int | None
    ) -> tuple[int, int]:
        """Positions ``[low, high)`` of visible entries with start <= time <= end."""
        times = _Times(self, channel, visible)
        low = 0 if start is None else bisect.bisect_left(times, start)
        high = visible if end is None else bisect.bisect_right(times, end)
        return low, max(low, high)


class _Times:
    """The entry times of a channel as a read-only sequence, for bisect."""

    def __init__(self, store: ChannelStore, channel: Channel, length: int) -> None:
        self._store = store
        self._channel = channel
        self._length = length

    def __len__(self) -> int:
        return self._length

    def __getitem__(self, index: int) -> int:
        return self._store.time_of(self._channel, index)
