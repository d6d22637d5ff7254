"""Hostile records on the anonymised topic: each one a dead letter or harmless.

Anyone who can write to the anonymised topic can put anything on it; the
authorised consumer must neither stop nor stop others' alerts over it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from schemas.anonymised import anonymise
from schemas.keyring import Keyring
from schemas.policy import FieldPolicy
from schemas.records import DeadLetter, utc_iso
from tests.integration.alerting_support import (
    prepare,
    produce,
    produce_raw_value,
    read_alerts,
    read_topic,
    reading,
    run_consumer,
)
from vitalstream.config import Settings

pytestmark = pytest.mark.kafka

SettingsFactory = Callable[..., Settings]
TOO_LONG = "x" * 70_000
FAR_FUTURE = "9999-12-31T23:59:59Z"


def hostile_settings(make_settings: SettingsFactory, tmp_path: Path) -> Settings:
    return make_settings(
        alerting={
            "group_id": f"test-hostile-{uuid.uuid4().hex[:8]}",
            "audit_log": str(tmp_path / "audit.log"),
        }
    )


async def test_oversized_subject_or_field_is_a_dead_letter_not_a_crash(
    make_settings: SettingsFactory, tmp_path: Path
) -> None:
    settings = hostile_settings(make_settings, tmp_path)
    keyring = Keyring.generate(tmp_path / "keyring.json")
    await prepare(settings)
    record = anonymise(reading("w1", 1, spo2=97), FieldPolicy.default(), keyring)
    token = record.sealed["spo2"]
    # A well-formed token under a key id the keyring holds, in a record
    # whose subject, or field name, is too long for the sealed format.
    for change in ({"subject": TOO_LONG}, {"sealed": {TOO_LONG: token}}):
        doc = {**orjson.loads(record.to_json()), **change}
        await produce_raw_value(settings, record.key, orjson.dumps(doc))
    await produce(settings, keyring, [reading("w1", n, spo2=97) for n in range(2, 5)])

    _, stats = await run_consumer(settings, keyring)

    assert stats.evaluated == 3
    dead = await read_topic(settings, settings.topics.deadletter.name)
    reasons = [DeadLetter.from_json(value).reason for value in dead]
    assert len(reasons) == 2
    assert all(reason.startswith("cannot unseal") for reason in reasons)


async def test_a_reading_from_the_far_future_neither_stops_nor_silences_others(
    make_settings: SettingsFactory, tmp_path: Path
) -> None:
    settings = hostile_settings(make_settings, tmp_path)
    keyring = Keyring.generate(tmp_path / "keyring.json")
    await prepare(settings)
    future = replace(reading("clock-wrong", 1, spo2=97), observed_at=FAR_FUTURE)
    await produce(
        settings,
        keyring,
        [reading("w2", 1, spo2=97), reading("w3", 1, spo2=97)]
        + [future]
        + [reading("w2", n, spo2=97) for n in range(2, 5)],
    )

    _, stats = await run_consumer(settings, keyring)
    # Restarted, it restores the far-future subject's state: still no crash.
    _, again = await run_consumer(settings, keyring, idle_exit_s=2.0)

    assert stats.evaluated == 5
    assert again.records == 0
    dead = await read_topic(settings, settings.topics.deadletter.name)
    [reason] = [DeadLetter.from_json(value).reason for value in dead]
    assert FAR_FUTURE in reason
    assert "ahead of this host's clock" in reason
    alerts = [
        orjson.loads(value)
        for value in await read_topic(settings, settings.topics.alerts.name)
    ]
    # The stream clock did not jump eight thousand years: nobody is silent.
    assert [a for a in alerts if a["kind"] == "device_silent"] == []


def forged_record(entry_id: int, observed_at: str) -> bytes:
    # The hostile tester's record: values in the clear, no token at all.
    return orjson.dumps(
        {
            "schema": "vitalstream.anonymised/1",
            "subject": "sbj_forgedforgedforgedforged",
            "source": {"channel": "chn_forged", "entry_id": entry_id},
            "observed_at": observed_at,
            "clear": {
                "spo2": 84.0,
                "heart_rate": 140.0,
                "temperature_site": "core",
                "body_temp": 39.5,
            },
            "bands": {},
            "sealed": {},
            "pseudonyms": {},
        }
    )


async def test_forged_clear_values_raise_nothing_and_create_no_subject(
    make_settings: SettingsFactory, tmp_path: Path
) -> None:
    settings = hostile_settings(make_settings, tmp_path)
    keyring = Keyring.generate(tmp_path / "keyring.json")
    await prepare(settings)
    now = datetime.now(UTC)
    for n in range(1, 6):
        at = utc_iso(now - timedelta(seconds=15 * (6 - n)))
        await produce_raw_value(settings, b"sbj_forged", forged_record(n, at))
    # A real reading with nothing measured: no token either, but no claim.
    empty = replace(reading("w4", 1, spo2=97), metrics={"spo2": None})
    await produce(settings, keyring, [empty])

    consumer, stats = await run_consumer(settings, keyring)

    assert await read_topic(settings, settings.topics.alerts.name) == []
    assert len(consumer.engine) == 0  # neither subject exists
    assert stats.unauthenticated == 6
    assert stats.evaluated == 0
    dead = [
        DeadLetter.from_json(value)
        for value in await read_topic(settings, settings.topics.deadletter.name)
    ]
    assert len(dead) == 5
    assert all(
        d.reason.startswith("no sealed value: body_temp, heart_rate") for d in dead
    )
    assert all("a metric must be sealed to be alerted on" in d.reason for d in dead)


async def test_one_huge_entry_id_silences_nothing_across_a_restart(
    make_settings: SettingsFactory, tmp_path: Path
) -> None:
    settings = hostile_settings(make_settings, tmp_path)
    keyring = Keyring.generate(tmp_path / "keyring.json")
    await prepare(settings)
    outlier = replace(reading("w5", 1, spo2=97), entry_id=2**63 - 1)
    await produce(
        settings, keyring, [outlier, *(reading("w5", n, spo2=97) for n in range(2, 5))]
    )
    await run_consumer(settings, keyring, idle_exit_s=2.0)
    # Restarted (its state restored), then the SpO2 falls; at-least-once
    # upstream delivers each of those entries twice, sealed afresh.
    low = [reading("w5", n, spo2=88) for n in range(5, 9)]
    await produce(settings, keyring, low + low)

    _, stats = await run_consumer(settings, keyring)

    alerts = await read_alerts(settings)
    assert [(a.kind, a.severity, a.state) for a in alerts] == [
        ("clinical", "low_medium", "raised")
    ]
    assert stats.evaluated == 8
    assert stats.duplicates == 4


async def test_copies_with_their_site_changed_are_replays_not_hypothermia(
    make_settings: SettingsFactory, tmp_path: Path
) -> None:
    settings = hostile_settings(make_settings, tmp_path)
    keyring = Keyring.generate(tmp_path / "keyring.json")
    await prepare(settings)
    policy = FieldPolicy.default()
    originals = [
        anonymise(reading("w6", n, site="skin", body_temp=33.0), policy, keyring)
        for n in range(1, 4)
    ]
    for record in originals:
        await produce_raw_value(settings, record.key, record.to_json())
    # Authentic tokens, copied under new entry ids with "core" as their site:
    # 33.0 °C scored as a core temperature is a NEWS2 3 (hypothermia).
    for record in originals:
        doc = orjson.loads(record.to_json())
        doc["source"]["entry_id"] += 100
        doc["clear"]["temperature_site"] = "core"
        await produce_raw_value(settings, record.key, orjson.dumps(doc))

    _, stats = await run_consumer(settings, keyring)

    assert await read_alerts(settings) == []
    assert stats.evaluated == 6
    assert stats.duplicates == 3
