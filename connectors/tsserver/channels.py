"""What the server knows about one channel, recorded or simulated.

A channel is a sequence of entries in time order, addressed by position
(0 is the oldest). Which of them are visible, and the time each one shows,
is decided by the store's timeline (:mod:`connectors.tsserver.timeline`), so
the same channel can be served as recorded or released at a pace.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any


class Channel(ABC):
    """One ThingSpeak channel the server answers for."""

    def __init__(self, channel_id: int, field_keys: Sequence[str]) -> None:
        if channel_id < 1:
            raise ValueError(f"channel id must be positive, got {channel_id}")
        self.id = channel_id
        self.field_keys: tuple[str, ...] = tuple(field_keys)
        # None: public. Compared in constant time by the API; never logged.
        self.read_key: str | None = None
        # Under a paced timeline: entries already written when the server
        # starts, and where in each pace interval this device writes (0..1).
        self.history = 0
        self.phase = 0.0

    def __repr__(self) -> str:
        private = "private" if self.read_key else "public"
        return f"<{type(self).__name__} {self.id} {private}>"

    @property
    @abstractmethod
    def size(self) -> int | None:
        """How many entries exist; None for a device that keeps writing."""

    @abstractmethod
    def channel_object(self) -> dict[str, Any]:
        """The ``channel`` object of a feed answer, without ``last_entry_id``."""

    @abstractmethod
    def entry_id(self, index: int) -> int:
        """The ``entry_id`` of the entry at ``index``."""

    @abstractmethod
    def index_of(self, entry_id: int) -> int | None:
        """The position of ``entry_id``, None if the channel has no such entry."""

    @abstractmethod
    def natural_time(self, index: int) -> int:
        """The entry's own time (UTC epoch second) as recorded or simulated."""

    @abstractmethod
    def values(self, index: int) -> tuple[str | None, ...]:
        """Field values of the entry, aligned with ``field_keys``, as served."""

    def rows(self, low: int, high: int) -> list[tuple[str | None, ...]]:
        """The values of the entries at positions ``low`` to ``high - 1``."""
        return [self.values(index) for index in range(low, high)]

    def prepare(self, count: int) -> None:  # noqa: B027 - optional hook
        """Make sure the first ``count`` entries exist (simulations create lazily)."""


class RecordedChannel(Channel):
    """A channel read from files: a fixed list of entries in time order."""

    def __init__(
        self,
        channel_object: dict[str, Any],
        field_keys: Sequence[str],
        entries: Sequence[tuple[int, int, tuple[str | None, ...]]],
    ) -> None:
        """``entries`` are ``(created_at epoch, entry_id, values)``."""
        super().__init__(int(channel_object["id"]), field_keys)
        ordered = sorted(entries)
        self._object = {k: v for k, v in channel_object.items() if k != "last_entry_id"}
        self._times = [entry[0] for entry in ordered]
        self._ids = [entry[1] for entry in ordered]
        self._values = [entry[2] for entry in ordered]
        self._by_id = {entry_id: i for i, entry_id in enumerate(self._ids)}
        if len(self._by_id) != len(self._ids):
            raise ValueError(f"channel {self.id} has an entry_id twice")

    @property
    def size(self) -> int:
        return len(self._ids)

    def channel_object(self) -> dict[str, Any]:
        return dict(self._object)

    def entry_id(self, index: int) -> int:
        return self._ids[index]

    def index_of(self, entry_id: int) -> int | None:
        return self._by_id.get(entry_id)

    def natural_time(self, index: int) -> int:
        return self._times[index]

    def values(self, index: int) -> tuple[str | None, ...]:
        return self._values[index]
