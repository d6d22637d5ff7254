"""When entries become visible and the time each one shows.

:class:`StaticTimeline` serves every entry at its own time, as recorded or
simulated. :class:`PacedTimeline` plays the devices as if they were writing
now: a channel shows its ``history`` entries at start, stamped in the recent
past, then one more every ``pace`` seconds, each stamped with the second it
appears. Devices write out of step with each other (``Channel.phase``).
"""

from __future__ import annotations

import math

from connectors.tsserver.channels import Channel


class StaticTimeline:
    """Every entry visible at its own time."""

    def visible(self, channel: Channel, now: float) -> int:
        """How many entries (oldest first) can be read at ``now``."""
        size = channel.size
        return channel.history if size is None else size

    def time_of(self, channel: Channel, index: int) -> int:
        """The ``created_at`` epoch second the entry at ``index`` shows."""
        return channel.natural_time(index)


class PacedTimeline:
    """Entries released one per ``pace`` seconds per channel from ``started_at``."""

    def __init__(self, *, pace: float, started_at: float) -> None:
        if not pace > 0:
            raise ValueError(f"pace must be a positive number of seconds, got {pace}")
        self.pace = pace
        self.started_at = started_at

    def visible(self, channel: Channel, now: float) -> int:
        """How many entries (oldest first) can be read at ``now``."""
        offset = now - self.started_at - channel.phase * self.pace
        count = channel.history + math.floor(offset / self.pace) + 1
        count = max(0, count)
        size = channel.size
        return count if size is None else min(count, size)

    def time_of(self, channel: Channel, index: int) -> int:
        """The ``created_at`` epoch second the entry at ``index`` shows."""
        steps = index - channel.history
        return math.floor(self.started_at + (channel.phase + steps) * self.pace)


Timeline = StaticTimeline | PacedTimeline
