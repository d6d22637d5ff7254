"""Which readings a subject has been shown already: duplicates and replays.

Upstream is at least once (an anonymiser that restarts writes some readings
again, sealed afresh), so the same entry may arrive twice. ThingSpeak entry
ids rise within a channel, which made "ids at or below the highest seen"
look enough, until one record with entry id 2**63-1 turned every later
reading of its channel into a "duplicate".

Instead each channel of a subject keeps a window of the largest ``WINDOW``
entry ids seen, and a floor: the largest id that ever left the window, with
the newest observation time among those that left. A reading was seen when
its id is in the window, or when both its id and its time are at or below
the floor's. One outlier then holds a single place in the window and
silences nothing: it is never the smallest, so it never becomes the floor.
A flood of more than ``WINDOW`` outliers does raise the floor's id, but a
real reading observed after the flood is above the floor's time (and the
consumer refuses times more than 300 s ahead of its clock). While entry ids
and times rise, as ThingSpeak's do, a redelivered entry (same id, same time)
is either in the window or at or below the floor, however late it comes.

Tokens: every seal draws a fresh nonce, so a token seen before means a
copied record, whatever its entry id or channel says (neither is covered by
the token). The last ``TOKENS`` token fingerprints of the subject are kept;
a record carrying one of them is a replay.

TODO(#5): a token older than the subject's last ``TOKENS``, copied under an
unseen entry id, is evaluated again (at its own, old time): tokens do not
bind channel and entry id; a sealed-format version that does would end it.
"""

from __future__ import annotations

import math
from bisect import bisect_left, insort
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

#: Entry ids remembered per channel, above the floor.
WINDOW = 32
#: Channels remembered per subject; the least recently used one goes first.
MAX_CHANNELS = 16
#: Token fingerprints remembered per subject.
TOKENS = 32


@dataclass(slots=True)
class EntryWindow:
    """The entry ids of one channel seen lately, and the floor below them.

    ``floor`` is (largest id that left the window, newest time among them).
    """

    floor: tuple[int, float] | None = None
    recent: list[tuple[int, float]] = field(default_factory=list)  # by id

    def seen(self, entry_id: int, at: float) -> bool:
        """Whether ``entry_id`` observed at ``at`` was seen (see the module)."""
        floor = self.floor
        if floor is not None and entry_id <= floor[0] and at <= floor[1]:
            return True
        index = bisect_left(self.recent, (entry_id, -math.inf))
        return index < len(self.recent) and self.recent[index][0] == entry_id

    def add(self, entry_id: int, at: float) -> None:
        """Remember ``entry_id`` (not seen before); the smallest one may leave."""
        insort(self.recent, (entry_id, at))
        if len(self.recent) > WINDOW:
            evicted, evicted_at = self.recent.pop(0)
            if self.floor is not None:
                evicted = max(evicted, self.floor[0])
                evicted_at = max(evicted_at, self.floor[1])
            self.floor = (evicted, evicted_at)

    def to_doc(self) -> dict[str, Any]:
        return {
            "floor": None if self.floor is None else list(self.floor),
            "recent": [[entry_id, at] for entry_id, at in self.recent],
        }

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> EntryWindow:
        floor = doc["floor"]
        return cls(
            floor=None if floor is None else (int(floor[0]), float(floor[1])),
            recent=sorted((int(e), float(at)) for e, at in doc["recent"])[-WINDOW:],
        )


@dataclass(slots=True)
class SeenReadings:
    """Everything one subject uses to recognise a reading it was shown."""

    entries: dict[str, EntryWindow] = field(default_factory=dict)
    tokens: list[str] = field(default_factory=list)  # oldest first

    def replayed(
        self, channel: str, entry_id: int | None, at: float, tokens: Iterable[str]
    ) -> bool:
        """Whether the reading observed at ``at`` was seen; if not, remember it."""
        fingerprints = list(tokens)
        if any(token in self.tokens for token in fingerprints):
            return True
        if entry_id is not None:
            window = self.entries.pop(channel, None) or EntryWindow()
            # Put back last: the dict runs from least to most recently used.
            self.entries[channel] = window
            if window.seen(entry_id, at):
                return True
            window.add(entry_id, at)
            while len(self.entries) > MAX_CHANNELS:
                del self.entries[next(iter(self.entries))]
        self.tokens.extend(fingerprints)
        del self.tokens[:-TOKENS]
        return False

    def to_doc(self) -> dict[str, Any]:
        return {
            "entries": {name: w.to_doc() for name, w in self.entries.items()},
            "tokens": list(self.tokens),
        }

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> SeenReadings:
        return cls(
            entries={
                str(name): EntryWindow.from_doc(w) for name, w in doc["entries"].items()
            },
            tokens=[str(token) for token in doc["tokens"]][-TOKENS:],
        )

    @classmethod
    def from_marks(cls, marks: dict[str, int], at: float) -> SeenReadings:
        """From the high-water marks of "vitalstream.alerting-state/1".

        A mark becomes its channel's one remembered id (observed at ``at``,
        the subject's newest time), with no floor: a mark an outlier set must
        not carry its silence over, and a mark cannot tell an outlier from a
        real reading. The price: an entry evaluated before the upgrade and
        delivered again after it is evaluated again.
        """
        return cls(
            entries={
                str(channel): EntryWindow(recent=[(int(mark), at)])
                for channel, mark in marks.items()
            }
        )
