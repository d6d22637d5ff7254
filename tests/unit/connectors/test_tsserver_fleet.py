"""The simulated fleet: repeatable, plausible, sparse, with faults and events."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from connectors.tsserver import (
    ChannelStore,
    FleetConfig,
    PacedTimeline,
    SimulatedChannel,
    build_fleet,
    build_store,
    fleet_channel_ids,
    read_entry,
    read_feed,
)
from connectors.tsserver.fleet import FIELD_NAMES
from connectors.tsserver.wearable import Metric

CONFIG = FleetConfig(size=60, seed=2026, entries_per_channel=400)


@pytest.fixture(scope="module")
def fleet() -> list[SimulatedChannel]:
    channels = build_fleet(CONFIG)
    for channel in channels:
        channel.prepare(CONFIG.entries_per_channel)
    return channels


def all_feeds(store: ChannelStore) -> bytes:
    return b"".join(
        read_feed(store, channel_id, {"results": "8000"}).body
        for channel_id in store.ids()
    )


def test_same_seed_same_fleet_other_seed_other_fleet() -> None:
    config = FleetConfig(size=5, seed=1, entries_per_channel=300)

    first = all_feeds(build_store(fleet=config))
    again = all_feeds(build_store(fleet=config))
    other = all_feeds(build_store(fleet=FleetConfig(size=5, seed=2)))

    assert first == again
    assert first != other


def test_channel_ids_and_field_names(fleet: list[SimulatedChannel]) -> None:
    objects = [channel.channel_object() for channel in fleet]
    heart_names = {
        o[f"field{c.metrics.index('heart_rate') + 1}"]
        for o, c in zip(objects, fleet, strict=True)
    }

    assert [c.id for c in fleet] == list(range(900_001, 900_061))
    assert fleet_channel_ids(60) == [c.id for c in fleet]
    assert heart_names == set(FIELD_NAMES["heart_rate"])
    assert any(c.metrics[0] != "heart_rate" for c in fleet)
    assert any("battery" in c.metrics for c in fleet)


def test_entries_are_sparse(fleet: list[SimulatedChannel]) -> None:
    rows = [c.metric_values(i) for c in fleet for i in range(100)]
    written = [sum(v is not None for v in row.values()) for row in rows]

    assert min(written) == 1
    assert written.count(1) > len(rows) / 4
    assert max(written) >= 3


def in_event(channel: SimulatedChannel, metric: str, entry_id: int) -> bool:
    return any(
        e.metric == metric and e.first_entry_id <= entry_id <= e.last_entry_id
        for e in channel.events
    )


def values_of(
    fleet: list[SimulatedChannel], metric: Metric
) -> list[tuple[Any, int, float]]:
    found = []
    for channel in fleet:
        for index in range(CONFIG.entries_per_channel):
            value = channel.metric_values(index).get(metric)
            if value is not None:
                found.append((channel, index + 1, value))
    return found


@pytest.mark.parametrize(
    ("metric", "low", "high", "faults"),
    [
        ("heart_rate", 45, 110, {0.0}),
        ("spo2", 92, 100, {0.0}),
        ("body_temp", 30.5, 35.5, {-127.0, 85.0}),
    ],
)
def test_values_are_plausible_apart_from_faults_and_events(
    fleet: list[SimulatedChannel],
    metric: Metric,
    low: float,
    high: float,
    faults: set[float],
) -> None:
    quiet = [
        value
        for channel, entry_id, value in values_of(fleet, metric)
        if not in_event(channel, metric, entry_id)
    ]
    odd = [value for value in quiet if not low <= value <= high]

    assert set(odd) <= faults
    assert 0 < len(odd) < len(quiet) * 0.06


def test_temperature_faults_include_a_disconnected_probe(
    fleet: list[SimulatedChannel],
) -> None:
    temperatures = {value for _, _, value in values_of(fleet, "body_temp")}

    assert -127.0 in temperatures


def test_every_kind_of_clinical_event_happens(fleet: list[SimulatedChannel]) -> None:
    kinds = {event.kind for channel in fleet for event in channel.events}

    assert kinds == {"fever", "desaturation", "tachycardia"}


@pytest.mark.parametrize(
    ("kind", "metric", "check"),
    [
        ("desaturation", "spo2", lambda v: v <= 91),
        ("tachycardia", "heart_rate", lambda v: v >= 115),
        ("fever", "body_temp", lambda v: 35.2 <= v <= 37.2),
    ],
)
def test_an_event_writes_its_metric_in_several_consecutive_entries(
    fleet: list[SimulatedChannel], kind: str, metric: str, check: Any
) -> None:
    events = [(c, e) for c in fleet for e in c.events if e.kind == kind]
    closed = [(c, e) for c, e in events if e.last_entry_id < CONFIG.entries_per_channel]

    assert closed
    for channel, event in closed:
        span = range(event.first_entry_id, event.last_entry_id + 1)
        values = [channel.metric_values(i - 1)[event.metric] for i in span]
        assert event.metric == metric
        assert len(values) >= 5
        assert all(v is not None and check(v) for v in values), values


def test_core_site_reads_near_37() -> None:
    config = FleetConfig(size=3, seed=4, temperature_site="core")
    [channel, *_] = build_fleet(config)
    temps = [
        t
        for i in range(config.entries_per_channel)
        if (t := channel.metric_values(i)["body_temp"]) is not None
        and not in_event(channel, "body_temp", i + 1)
        and t not in (-127.0, 85.0)
    ]

    assert temps
    assert all(35.9 <= t <= 37.7 for t in temps)


def test_paced_channels_release_entries_stamped_now() -> None:
    now = [1_800_000_000.0]
    store = build_store(
        fleet=FleetConfig(size=2, seed=8, entries_per_channel=10),
        pace=5.0,
        clock=lambda: now[0],
    )
    assert isinstance(store.timeline, PacedTimeline)

    at_start = orjson.loads(read_feed(store, 900_001, {}).body)
    now[0] += 5.0 * 3
    later = orjson.loads(read_feed(store, 900_001, {}).body)
    last = orjson.loads(read_entry(store, 900_001, "last", {}).body)

    assert at_start["channel"]["last_entry_id"] == 10
    assert len(later["feeds"]) == 13
    assert last["entry_id"] == 13
    assert "2027-01-15T08:" in last["created_at"]  # 1_800_000_000 + 15 s
    assert at_start["feeds"] == later["feeds"][:10]


def test_paced_recording_replays_from_its_first_entry() -> None:
    from tests.conftest import RECORDED_CHANNEL

    now = [1_800_000_000.0]
    store = build_store(
        data=[RECORDED_CHANNEL / "feeds.csv"], pace=2.0, clock=lambda: now[0]
    )

    first = orjson.loads(read_feed(store, 1448708, {}).body)
    now[0] += 4.0
    some = orjson.loads(read_feed(store, 1448708, {}).body)

    # The first entry is written as the server starts, then one every 2 s.
    assert [e["entry_id"] for e in first["feeds"]] == [1]
    assert first["feeds"][0]["created_at"] == "2027-01-15T08:00:00Z"
    assert [e["entry_id"] for e in some["feeds"]] == [1, 2, 3]
    assert some["feeds"][2]["field1"] == "3.00093"


def test_a_disconnected_probe_reads_minus_127_for_several_entries(
    fleet: list[SimulatedChannel],
) -> None:
    # The alerting consumer raises a sensor-fault notice only for a fault
    # that lasts (alerting.sustained_readings): single -127s never showed one.
    longest = 0
    for channel in fleet:
        run = 0
        for index in range(CONFIG.entries_per_channel):
            value = channel.metric_values(index).get("body_temp")
            if value is None:
                continue
            run = run + 1 if value == -127.0 else 0
            longest = max(longest, run)
    assert longest >= 3


def test_a_mixed_fleet_measures_core_temperature_on_every_third_wearable() -> None:
    config = FleetConfig(size=6, temperature_site="mixed")
    sites = [config.site_of(channel) for channel in fleet_channel_ids(6)]
    assert sites == ["core", "skin", "skin", "core", "skin", "skin"]
    channels = build_fleet(config)
    assert [channel.temperature_site for channel in channels] == sites
