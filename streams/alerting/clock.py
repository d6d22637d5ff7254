"""The time "device silent" is judged against.

Pure event time stalls when every device stops (exactly when silence
matters); wall-clock time flags every subject of a replayed 2021 recording
as silent at once. So the clock is the newest observation time seen,
advanced by the wall-clock time elapsed since it was seen: a replay runs on
its own timeline, a live fleet that goes quiet still ages.

TODO(#5): one clock for all partitions: replaying recordings of different
years together flags the older subjects silent as soon as newer ones arrive.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime


class StreamClock:
    """Event time carried forward by elapsed wall-clock time.

    ``monotonic`` is injected so tests can drive it without sleeping.
    """

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        self._event_time: float | None = None
        self._seen_at = monotonic()

    def observe(self, epoch_seconds: float) -> None:
        """Note an observation time (seconds since the epoch, UTC)."""
        if self._event_time is None or epoch_seconds > self.now_epoch():
            self._event_time = epoch_seconds
            self._seen_at = self._monotonic()

    def now_epoch(self) -> float:
        """The current stream time in seconds since the epoch."""
        if self._event_time is None:
            return time.time()
        return self._event_time + (self._monotonic() - self._seen_at)

    def now(self) -> datetime:
        """The current stream time as an aware UTC datetime."""
        return datetime.fromtimestamp(self.now_epoch(), UTC)

    @property
    def started(self) -> bool:
        """Whether any observation time has been seen yet."""
        return self._event_time is not None
