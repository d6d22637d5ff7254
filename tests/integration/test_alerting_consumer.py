"""`vitalstream alert` on a real broker: anonymised records in, alerts out."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from schemas.keyring import Keyring
from schemas.records import DeadLetter, utc_iso
from streams.alerting.consumer import AlertingConsumer
from streams.alerting.record import open_details
from tests.conftest import RECORDED_CHANNEL
from tests.integration.alerting_support import (
    prepare,
    produce,
    produce_raw_value,
    read_alerts,
    read_topic,
    reading,
    recorded_readings,
    run_consumer,
)
from vitalstream.config import Settings

pytestmark = pytest.mark.kafka

SettingsFactory = Callable[..., Settings]


def alerting_settings(make_settings: SettingsFactory, tmp_path: Path) -> Settings:
    return make_settings(
        alerting={
            "group_id": f"test-alerting-{uuid.uuid4().hex[:8]}",
            "audit_log": str(tmp_path / "audit.log"),
        }
    )


async def test_spo2_episode_raises_escalates_and_resolves(
    make_settings: SettingsFactory, tmp_path: Path
) -> None:
    settings = alerting_settings(make_settings, tmp_path)
    keyring = Keyring.generate(tmp_path / "keyring.json")
    await prepare(settings)
    entries = iter(range(1, 1000))
    readings = [reading("wearable-7", next(entries), spo2=97) for _ in range(3)]
    readings += [reading("wearable-7", next(entries), spo2=88) for _ in range(4)]
    readings += [reading("wearable-7", next(entries), heart_rate=135) for _ in range(3)]
    readings += [reading("wearable-7", next(entries), heart_rate=75) for _ in range(3)]
    readings += [reading("wearable-7", next(entries), spo2=97) for _ in range(3)]
    # At-least-once upstream: the same entries again change nothing.
    readings += readings[3:8]
    await produce(settings, keyring, readings)

    _, stats = await run_consumer(settings, keyring)

    alerts = await read_alerts(settings)
    assert [(a.kind, a.severity, a.state) for a in alerts] == [
        ("clinical", "low_medium", "raised"),
        ("clinical", "medium", "escalated"),
        # The heart rate settled first (back to low-medium, no message),
        # then the SpO2: what clears is the low-medium condition.
        ("clinical", "low_medium", "resolved"),
    ]
    assert stats.duplicates == 5
    raised = alerts[0]
    assert raised.subject == keyring.pseudonymiser.pseudonym("device", "wearable-7")
    doc = orjson.loads(raised.to_json())
    assert all(token.startswith("vs1.") for token in doc["details"].values())
    clear = {
        k: v for k, v in doc.items() if k not in ("details", "emitted_at", "alert_id")
    }
    assert b"88" not in orjson.dumps(clear)
    details = open_details(raised, keyring)
    assert details["spo2"] == 88.0
    assert details["score.spo2"] == 3.0
    assert raised.partial
    assert "respiration_rate" in raised.missing


async def test_recorded_channel_gives_sensor_faults_and_no_clinical_alert(
    make_settings: SettingsFactory, tmp_path: Path
) -> None:
    settings = alerting_settings(make_settings, tmp_path)
    keyring = Keyring.generate(tmp_path / "keyring.json")
    await prepare(settings)
    await produce(settings, keyring, recorded_readings(RECORDED_CHANNEL / "feeds.csv"))

    _, stats = await run_consumer(settings, keyring)

    alerts = await read_alerts(settings)
    kinds = {(a.kind, a.condition) for a in alerts}
    assert ("sensor_fault", "body_temp_implausible") in kinds
    assert ("sensor_fault", "heart_rate_implausible") in kinds
    assert ("sensor_fault", "spo2_implausible") in kinds
    assert not [a for a in alerts if a.kind == "clinical"]
    assert stats.evaluated == 149
    assert stats.dead_letters == 0


async def test_silent_device_raises_device_silent(
    make_settings: SettingsFactory, tmp_path: Path
) -> None:
    settings = alerting_settings(make_settings, tmp_path)
    keyring = Keyring.generate(tmp_path / "keyring.json")
    await prepare(settings)
    # "quiet" sends once at entry 1 and is read; then "busy" goes on for 20
    # minutes (stream time), past the 900 s silence limit of "quiet". (Were
    # both on the topic at once, which partition is fetched first would
    # decide whether "quiet" arrived before or after the clock moved on.)
    await produce(settings, keyring, [reading("quiet", 1, channel=1, heart_rate=70)])
    await run_consumer(settings, keyring, idle_exit_s=2.0)
    busy = [
        reading("busy", n, channel=2, every_s=60, heart_rate=70) for n in range(1, 21)
    ]
    await produce(settings, keyring, busy)

    await run_consumer(settings, keyring)

    alerts = await read_alerts(settings)
    quiet = keyring.pseudonymiser.pseudonym("device", "quiet")
    assert [(a.kind, a.subject, a.state) for a in alerts] == [
        ("device_silent", quiet, "raised")
    ]


async def test_a_subject_heard_in_this_run_is_not_silent_while_a_backlog_races_on(
    make_settings: SettingsFactory, tmp_path: Path
) -> None:
    # The same two devices as above, but read by one running consumer:
    # "busy"'s 20 minutes of stream time pass in about a second of wall
    # time, as in a catch-up, and "quiet" was heard moments ago. Silence
    # waits for the wall clock too (engine.AlertEngine.silent_check).
    settings = alerting_settings(make_settings, tmp_path)
    keyring = Keyring.generate(tmp_path / "keyring.json")
    await prepare(settings)
    consumer = AlertingConsumer(settings, keyring)
    running = asyncio.create_task(consumer.run(asyncio.Event(), idle_exit_s=4))
    await produce(settings, keyring, [reading("quiet", 1, channel=1, heart_rate=70)])
    for _ in range(600):
        if consumer.stats.records >= 1:
            break
        await asyncio.sleep(0.1)
    busy = [
        reading("busy", n, channel=2, every_s=60, heart_rate=70) for n in range(1, 21)
    ]
    await produce(settings, keyring, busy)
    stats = await asyncio.wait_for(running, 120)

    assert stats.evaluated == 21
    assert [a for a in await read_alerts(settings) if a.kind == "device_silent"] == []


async def test_wrong_keyring_unseals_nothing_and_says_why(
    make_settings: SettingsFactory, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings(
        alerting={
            "group_id": f"test-alerting-{uuid.uuid4().hex[:8]}",
            "keyring_check_records": 5,
        }
    )
    right = Keyring.generate(tmp_path / "right.json")
    wrong = Keyring.generate(tmp_path / "wrong.json")
    await prepare(settings)
    await produce(settings, right, [reading("w1", n, spo2=88) for n in range(1, 9)])
    await produce_raw_value(settings, b"junk", b"not json")

    consumer, stats = await run_consumer(settings, wrong)

    assert stats.evaluated == 0
    assert stats.unseal_failures == 8
    assert stats.dead_letters == 9
    assert await read_alerts(settings) == []
    assert consumer.keyring_check.mismatch is not None
    assert f"key id '{right.primary_id}' unknown" in consumer.keyring_check.mismatch
    assert "keyring does not match the anonymised topic" in caplog.text

    dead = [
        DeadLetter.from_json(v)
        for v in await read_topic(settings, settings.topics.deadletter.name)
    ]
    assert len(dead) == 9
    assert {d.stage for d in dead} == {"alerting"}
    assert all(set(d.origin) == {"topic", "partition", "offset"} for d in dead)
    reasons = sorted(d.reason for d in dead)
    assert sum("which the keyring does not hold" in r for r in reasons) == 8
    assert sum("not an anonymised record" in r for r in reasons) == 1
    assert all(right.primary_id in r for r in reasons if "keyring" in r)


async def test_tampered_record_is_a_dead_letter_and_the_rest_go_on(
    make_settings: SettingsFactory, tmp_path: Path
) -> None:
    settings = alerting_settings(make_settings, tmp_path)
    keyring = Keyring.generate(tmp_path / "keyring.json")
    await prepare(settings)
    from schemas.anonymised import anonymise
    from schemas.policy import FieldPolicy

    record = anonymise(reading("w2", 1, spo2=97), FieldPolicy.default(), keyring)
    doc = orjson.loads(record.to_json())
    token = doc["sealed"]["spo2"]
    doc["sealed"]["spo2"] = token[:-2] + ("AA" if token[-2:] != "AA" else "BB")
    await produce_raw_value(settings, record.key, orjson.dumps(doc))
    await produce(settings, keyring, [reading("w2", n, spo2=97) for n in range(2, 5)])

    _, stats = await run_consumer(settings, keyring)

    assert stats.unseal_failures == 1
    assert stats.evaluated == 3
    dead = await read_topic(settings, settings.topics.deadletter.name)
    assert "does not open" in DeadLetter.from_json(dead[0]).reason


async def test_a_rotated_keyring_is_picked_up_without_a_restart(
    make_settings: SettingsFactory, tmp_path: Path
) -> None:
    settings = alerting_settings(make_settings, tmp_path)
    path = tmp_path / "keyring.json"
    loaded = Keyring.generate(path)
    Keyring.rotate(path)
    rotated = Keyring.load(path)
    assert rotated.primary_id not in loaded.key_ids
    await prepare(settings)
    await produce(settings, rotated, [reading("w3", n, spo2=88) for n in range(1, 5)])

    consumer, stats = await run_consumer(settings, loaded)

    assert stats.unseal_failures == 0
    assert stats.evaluated == 4
    assert consumer.keyring.primary_id == rotated.primary_id
    assert [a.state for a in await read_alerts(settings)] == ["raised"]


async def test_a_recording_then_live_data_is_silence_from_the_switch_not_years(
    make_settings: SettingsFactory, tmp_path: Path
) -> None:
    settings = make_settings(
        alerting={
            "group_id": f"test-alerting-{uuid.uuid4().hex[:8]}",
            "silent_after_s": 4,
        }
    )
    keyring = Keyring.generate(tmp_path / "keyring.json")
    await prepare(settings)
    recorded = recorded_readings(RECORDED_CHANNEL / "feeds.csv")[:20]
    now = datetime.now(UTC).replace(microsecond=0)
    live = [
        replace(reading("live", n, heart_rate=70), observed_at=utc_iso(now))
        for n in range(1, 3)
    ]
    consumer = AlertingConsumer(settings, keyring)
    running = asyncio.create_task(consumer.run(asyncio.Event(), idle_exit_s=12))
    await produce(settings, keyring, recorded)
    for _ in range(600):
        if consumer.stats.records >= len(recorded):
            break
        await asyncio.sleep(0.1)
    # The recording was read (its last entry is of 2021-07-19); now live data.
    await produce(settings, keyring, live)
    await asyncio.wait_for(running, 120)

    alerts = await read_alerts(settings)
    replayed = keyring.pseudonymiser.pseudonym("device", "thingspeak-1448708")
    (silent,) = [
        a for a in alerts if a.kind == "device_silent" and a.subject == replayed
    ]
    # Silent since the stream moved to the live timeline, not for the years
    # between the recording and now.
    assert 4 < open_details(silent, keyring)["silent_s"] < 60
