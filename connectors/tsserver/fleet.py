"""A simulated fleet of wearables, each one a ThingSpeak channel.

Channels are created lazily and compactly: a device's entries are generated
in order the first time they are asked for, and kept as one float32 column
per field (NaN = not written) plus a column of seconds, about 20 bytes an
entry. Every value the model writes (whole numbers, 1/16 °C steps) is exact
in float32, so the five-decimal strings are exact too.

Devices name their fields differently, as real builds do ("HeartRate",
"BPM", "heartRate"; "Blood Oxygen", "SP02", "SpO2"; "Body Temperature",
"Body_temp"), some in another order, and some add a ``Battery`` field that
no alias table knows.
"""

from __future__ import annotations

import math
import random
from array import array
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from connectors.tsserver.channels import Channel
from connectors.tsserver.wearable import (
    ClinicalEvent,
    Metric,
    SignalRates,
    TemperatureSite,
    WearableModel,
)
from connectors.tsserver.wire import format_number, format_time

FIELD_NAMES: dict[Metric, tuple[str, ...]] = {
    "heart_rate": ("HeartRate", "BPM", "heartRate", "Heart Rate"),
    "spo2": ("Blood Oxygen", "SP02", "SpO2"),
    "body_temp": ("Body Temperature", "Body_temp", "BodyTemp"),
    "battery": ("Battery",),
}
# The choices of FleetConfig.temperature_site, by name.
FLEET_SITES: dict[str, TemperatureSite | Literal["mixed"]] = {
    "skin": "skin",
    "core": "core",
    "mixed": "mixed",
}
# Simulated history starts here (a fixed instant, so a seed gives the same
# times on every run).
FLEET_EPOCH = int(datetime(2026, 1, 5, 8, 0, tzinfo=UTC).timestamp())
_BLOCK = 256  # entries generated at a time


@dataclass(frozen=True)
class FleetConfig:
    """What to simulate: how many devices, from which seed, how much history."""

    size: int
    seed: int = 0
    base_channel_id: int = 900_001
    entries_per_channel: int = 240
    # "mixed": every third wearable measures core temperature (an in-ear
    # sensor), the others skin temperature, as a ward's mixed devices would.
    temperature_site: TemperatureSite | Literal["mixed"] = "skin"
    rates: SignalRates = field(default_factory=SignalRates)

    def site_of(self, channel_id: int) -> TemperatureSite:
        """Where the wearable of ``channel_id`` measures temperature."""
        if self.temperature_site != "mixed":
            return self.temperature_site
        return "core" if (channel_id - self.base_channel_id) % 3 == 0 else "skin"

    def __post_init__(self) -> None:
        if self.size < 0:
            raise ValueError(f"fleet size must be 0 or more, got {self.size}")
        if self.base_channel_id < 1:
            raise ValueError(
                f"base channel id must be positive: {self.base_channel_id}"
            )
        if self.entries_per_channel < 0:
            raise ValueError(
                f"entries per channel must be 0 or more: {self.entries_per_channel}"
            )


class SimulatedChannel(Channel):
    """One simulated wearable; entries are created on first use.

    ``size`` is ``entries_per_channel`` for a fixed history, or None for a
    device that keeps writing (served under a paced timeline).
    """

    def __init__(
        self, channel_id: int, config: FleetConfig, *, endless: bool = False
    ) -> None:
        seed = f"vitalstream-fleet:{config.seed}:{channel_id}"
        rng = random.Random(seed)  # noqa: S311 - a repeatable simulation
        metrics = _field_layout(rng)
        super().__init__(channel_id, [f"field{n}" for n in range(1, len(metrics) + 1)])
        self.metrics: tuple[Metric, ...] = metrics
        self.history = config.entries_per_channel
        self.phase = rng.random()
        self._size = None if endless else config.entries_per_channel
        self._names = [rng.choice(FIELD_NAMES[metric]) for metric in metrics]
        number = channel_id - config.base_channel_id + 1
        self._name = f"Wearable {number:04d}"
        self._start = FLEET_EPOCH + rng.randint(0, 600)
        self._created = self._start - rng.randint(1, 90) * 86_400
        self.temperature_site = config.site_of(channel_id)
        self._model = WearableModel(
            rng, metrics=metrics, site=self.temperature_site, rates=config.rates
        )
        self._offsets = array("I")
        self._columns = [array("f") for _ in metrics]
        self._elapsed = 0

    @property
    def size(self) -> int | None:
        return self._size

    @property
    def events(self) -> list[ClinicalEvent]:
        """The clinical events among the entries generated so far."""
        return self._model.events

    def channel_object(self) -> dict[str, Any]:
        meta: dict[str, Any] = {
            "id": self.id,
            "name": self._name,
            "description": "Simulated wearable (vitalstream tsserver)",
            "latitude": "0.0",
            "longitude": "0.0",
        }
        meta.update(zip(self.field_keys, self._names, strict=True))
        meta["created_at"] = meta["updated_at"] = format_time(self._created)
        return meta

    def entry_id(self, index: int) -> int:
        return index + 1

    def index_of(self, entry_id: int) -> int | None:
        if entry_id < 1 or (self._size is not None and entry_id > self._size):
            return None
        return entry_id - 1

    def natural_time(self, index: int) -> int:
        self.prepare(index + 1)
        return self._start + self._offsets[index]

    def values(self, index: int) -> tuple[str | None, ...]:
        self.prepare(index + 1)
        return tuple(format_number(column[index]) for column in self._columns)

    def rows(self, low: int, high: int) -> list[tuple[str | None, ...]]:
        self.prepare(high)
        # Column by column: several times faster than entry by entry.
        columns = [
            [None if math.isnan(v) else f"{v:.5f}" for v in column[low:high]]
            for column in self._columns
        ]
        return list(zip(*columns, strict=True))

    def metric_values(self, index: int) -> dict[Metric, float | None]:
        """The entry's values by metric, for tests and demos (None = not written)."""
        self.prepare(index + 1)
        return {
            metric: None if math.isnan(column[index]) else column[index]
            for metric, column in zip(self.metrics, self._columns, strict=True)
        }

    def prepare(self, count: int) -> None:
        if self._size is not None:
            count = min(count, self._size)
        while len(self._offsets) < count:
            target = min(len(self._offsets) + _BLOCK, self._size or math.inf)
            while len(self._offsets) < target:
                self._generate_one()

    def _generate_one(self) -> None:
        entry_id = len(self._offsets) + 1
        gap, written = self._model.step(entry_id)
        if entry_id > 1:
            self._elapsed += gap
        self._offsets.append(self._elapsed)
        for metric, column in zip(self.metrics, self._columns, strict=True):
            column.append(written.get(metric, math.nan))


def fleet_channel_ids(size: int, base_channel_id: int = 900_001) -> list[int]:
    """The channel ids of a fleet of ``size`` wearables."""
    return list(range(base_channel_id, base_channel_id + size))


def build_fleet(
    config: FleetConfig, *, endless: bool = False
) -> list[SimulatedChannel]:
    """``config.size`` simulated channels with ids from ``config.base_channel_id``."""
    return [
        SimulatedChannel(channel_id, config, endless=endless)
        for channel_id in fleet_channel_ids(config.size, config.base_channel_id)
    ]


def _field_layout(rng: random.Random) -> tuple[Metric, ...]:
    vitals: list[Metric] = ["heart_rate", "spo2", "body_temp"]
    if rng.random() < 0.3:
        rng.shuffle(vitals)
    if rng.random() < 0.25:
        vitals.append("battery")
    return tuple(vitals)
