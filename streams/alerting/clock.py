"""The time "device silent" is judged against.

Pure event time stalls when every device stops (exactly when silence
matters); wall-clock time flags every subject of a replayed 2021 recording
as silent at once. So the clock is the newest observation time seen,
advanced by the wall-clock time elapsed since it was seen: a replay runs on
its own timeline, a live fleet that goes quiet still ages.

A live clock never leaps: while devices talk, their times follow it; while
they are quiet, it runs on by itself. A leap forward (a 2021 recording read,
then live readings of today) is a switch to another timeline, and
:meth:`StreamClock.observe` says how far it leapt so that the silence of the
subjects heard on the old timeline is counted from the switch
(engine.AlertEngine.new_timeline), not as the years between the two.

TODO(#5): one clock for all partitions: subjects of an older timeline are
judged on the newer one from the switch on (silent once ``silent_after_s``
of it passes), though their own recording may still be running.
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

    def observe(self, epoch_seconds: float) -> float:
        """Note an observation time (seconds since the epoch, UTC).

        Returns how far it moved the clock ahead of where it had run to
        (0 when it did not, or for the first time seen).
        """
        if self._event_time is None:
            self._event_time, self._seen_at = epoch_seconds, self._monotonic()
            return 0.0
        leap = epoch_seconds - self.now_epoch()
        if leap <= 0:
            return 0.0
        self._event_time, self._seen_at = epoch_seconds, self._monotonic()
        return leap

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
