"""Helpers of the alerting integration tests: feed the anonymised topic, read back."""

from __future__ import annotations

import asyncio
import csv
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiokafka import AIOKafkaProducer

from schemas.anonymised import anonymise
from schemas.keyring import Keyring
from schemas.policy import FieldPolicy
from schemas.records import Reading, utc_iso
from streams.alerting.consumer import AlertingConsumer
from streams.alerting.reader import read_to_end
from streams.alerting.record import Alert
from streams.alerting.stats import AlertingStats
from vitalstream.config import Settings
from vitalstream.topics import ensure_topics

START = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)
RECORDED_FIELDS = {"field1": "heart_rate", "field2": "spo2", "field3": "body_temp"}


def reading(
    device: str,
    entry_id: int,
    *,
    channel: int = 9001,
    site: str = "core",
    every_s: int = 15,
    **metrics: float,
) -> Reading:
    at = utc_iso(START + timedelta(seconds=every_s * entry_id))
    return Reading(
        channel=channel,
        entry_id=entry_id,
        device=device,
        observed_at=at,
        ingested_at=at,
        metrics={name: float(value) for name, value in metrics.items()},
        temperature_site=site,
    )


def recorded_readings(feeds_csv: Path) -> list[Reading]:
    """The entries of a ThingSpeak CSV export as raw readings (one device)."""
    readings = []
    with feeds_csv.open(newline="") as handle:
        for row in csv.DictReader(handle):
            at = datetime.strptime(row["created_at"], "%Y-%m-%d %H:%M:%S UTC")
            stamp = utc_iso(at.replace(tzinfo=UTC))
            readings.append(
                Reading(
                    channel=1448708,
                    entry_id=int(row["entry_id"]),
                    device="thingspeak-1448708",
                    observed_at=stamp,
                    ingested_at=stamp,
                    metrics={
                        metric: float(row[field]) if row[field] else None
                        for field, metric in RECORDED_FIELDS.items()
                    },
                    temperature_site="skin",
                )
            )
    return readings


async def prepare(settings: Settings) -> None:
    await ensure_topics(settings)


async def produce(
    settings: Settings, keyring: Keyring, readings: Iterable[Reading]
) -> int:
    """Anonymise ``readings`` with the default policy onto the anonymised topic."""
    policy = FieldPolicy.default()
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka.bootstrap_servers)
    await producer.start()
    count = 0
    try:
        for item in readings:
            record = anonymise(item, policy, keyring)
            await producer.send_and_wait(
                settings.topics.anonymised.name, record.to_json(), key=record.key
            )
            count += 1
    finally:
        await producer.stop()
    return count


async def produce_raw_value(settings: Settings, key: bytes, value: bytes) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka.bootstrap_servers)
    await producer.start()
    try:
        await producer.send_and_wait(settings.topics.anonymised.name, value, key=key)
    finally:
        await producer.stop()


async def read_topic(settings: Settings, topic: str) -> list[bytes]:
    """Every committed value of ``topic``, partition by partition."""
    return [
        message.value
        async for message in read_to_end(settings, topic)
        if message.value is not None
    ]


async def read_alerts(settings: Settings) -> list[Alert]:
    values = await read_topic(settings, settings.topics.alerts.name)
    alerts = [Alert.from_json(value) for value in values]
    return sorted(alerts, key=lambda a: (a.at, a.emitted_at))


async def run_consumer(
    settings: Settings, keyring: Keyring, *, idle_exit_s: float = 4.0
) -> tuple[AlertingConsumer, AlertingStats]:
    consumer = AlertingConsumer(settings, keyring)
    stats = await asyncio.wait_for(
        consumer.run(asyncio.Event(), idle_exit_s=idle_exit_s), timeout=120
    )
    return consumer, stats


def write_config(settings: Settings, path: Path, keyring: Path) -> Path:
    """A TOML config for a `vitalstream` subprocess with these settings."""
    lines = [
        "[kafka]",
        f'bootstrap_servers = "{settings.kafka.bootstrap_servers}"',
        f'client_id = "{settings.kafka.client_id}"',
        "[keys]",
        f'keyring = "{keyring}"',
        "[alerting]",
    ]
    for name, value in settings.alerting.model_dump().items():
        if isinstance(value, (str, Path)):
            lines.append(f'{name} = "{value}"')
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            lines.append(f"{name} = {value}")
    for role in ("raw", "anonymised", "alerts", "deadletter", "connector_offsets"):
        topic = getattr(settings.topics, role)
        lines += [
            f"[topics.{role}]",
            f'name = "{topic.name}"',
            f"partitions = {topic.partitions}",
            f"compacted = {'true' if topic.compacted else 'false'}",
        ]
        if topic.retention_ms is not None:
            lines.append(f"retention_ms = {topic.retention_ms}")
    path.write_text("\n".join(lines) + "\n")
    return path
