"""Raw readings shaped like the connector's, for the benchmarks.

Real wearables write one metric per ThingSpeak entry (the recorded channel
1448708 does), so most readings carry one measured metric and ``None`` for
the channel's other fields, exactly as ``connectors.thingspeak.parse``
builds them; a share carries all three, like devices that send a full set.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from schemas.records import Reading, utc_iso

METRIC_NAMES = ("heart_rate", "spo2", "body_temp")
FIRST_CHANNEL = 900_001


def _value(rng: random.Random, metric: str) -> float:
    if metric == "heart_rate":
        return float(rng.randint(55, 100))
    if metric == "spo2":
        return float(rng.randint(94, 99))
    # DS18B20 steps of 1/16 degC, skin temperature.
    return round(rng.uniform(31.0, 35.0) * 16) / 16


def readings(
    count: int,
    *,
    devices: int = 1000,
    all_metrics_share: float = 0.2,
    seed: int = 7,
) -> Iterator[Reading]:
    """``count`` readings round-robin over ``devices`` channels, entry ids rising."""
    rng = random.Random(seed)
    start = datetime(2026, 5, 1, tzinfo=UTC)
    ingested = utc_iso(start + timedelta(days=1))
    for index in range(count):
        device = index % devices
        entry_id = index // devices + 1
        if rng.random() < all_metrics_share:
            metrics: dict[str, float | None] = {
                name: _value(rng, name) for name in METRIC_NAMES
            }
        else:
            measured = METRIC_NAMES[rng.randrange(3)]
            metrics = {
                name: _value(rng, name) if name == measured else None
                for name in METRIC_NAMES
            }
        yield Reading(
            channel=FIRST_CHANNEL + device,
            entry_id=entry_id,
            device=f"thingspeak-{FIRST_CHANNEL + device}",
            observed_at=utc_iso(start + timedelta(seconds=15 * entry_id)),
            ingested_at=ingested,
            metrics=metrics,
            temperature_site="skin",
        )


def alerting_reading(
    device: int, entry_id: int, *, high: bool, observed: datetime
) -> Reading:
    """A heart-rate-only reading that changes the device's NEWS2 condition.

    With ``sustained_readings = 1`` a reading of 150/min (NEWS2 sub-score 3,
    low-medium risk) raises the clinical alert and one of 70/min resolves
    it, so alternating them makes every reading raise exactly one alert.
    """
    channel = FIRST_CHANNEL + device
    return Reading(
        channel=channel,
        entry_id=entry_id,
        device=f"thingspeak-{channel}",
        observed_at=utc_iso(observed),
        ingested_at=utc_iso(observed),
        metrics={
            "heart_rate": 150.0 if high else 70.0,
            "spo2": None,
            "body_temp": None,
        },
        temperature_site="skin",
    )
