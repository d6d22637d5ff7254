"""What the anonymiser's integration tests share: config, records, workers.

The worker runs as it does in production, ``vitalstream anonymise`` in its
own process, with a configuration file and keyring made for the test.
"""

from __future__ import annotations

import asyncio
import csv
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.structs import ConsumerRecord

from schemas.keyring import Keyring
from schemas.records import Reading, utc_iso
from tests.conftest import RECORDED_CHANNEL
from vitalstream.config import Settings
from vitalstream.topics import ensure_topics

CHANNEL_ID = 1448708
DEVICE = "care-home-3/wearable-17"
# The recorded channel's fields, as the connector names them.
FIELD_METRICS = {"field1": "heart_rate", "field2": "spo2", "field3": "body_temp"}
VITALSTREAM = str(Path(sys.executable).with_name("vitalstream"))


def recorded_readings(*, device: str = DEVICE, entry_offset: int = 0) -> list[Reading]:
    """The recorded channel's 149 entries as raw readings (CSV export)."""
    readings = []
    with (RECORDED_CHANNEL / "feeds.csv").open(newline="") as handle:
        for row in csv.DictReader(handle):
            observed = datetime.strptime(
                row["created_at"], "%Y-%m-%d %H:%M:%S UTC"
            ).replace(tzinfo=UTC)
            readings.append(
                Reading(
                    channel=CHANNEL_ID,
                    entry_id=int(row["entry_id"]) + entry_offset,
                    device=device,
                    observed_at=utc_iso(observed),
                    ingested_at="2026-01-05T10:00:00Z",
                    metrics={
                        metric: float(row[name]) if row[name] else None
                        for name, metric in FIELD_METRICS.items()
                    },
                )
            )
    return readings


@dataclass
class Deployment:
    """One test's topics, keyring and configuration file."""

    settings: Settings
    config_path: Path
    keyring_path: Path
    logs: Path
    workers: list[Worker] = field(default_factory=list)

    @property
    def bootstrap(self) -> str:
        return self.settings.kafka.bootstrap_servers

    def keyring(self) -> Keyring:
        return Keyring.load(self.keyring_path)

    def start_worker(self, *args: str, name: str | None = None) -> Worker:
        name = name or f"worker-{len(self.workers) + 1}"
        worker = Worker.start(self, name, list(args))
        self.workers.append(worker)
        return worker

    def stop_all(self) -> None:
        for worker in self.workers:
            worker.kill()


async def deploy(settings: Settings, tmp_path: Path) -> Deployment:
    """Create the topics, a keyring (0600) and a TOML file for ``settings``."""
    await ensure_topics(settings)
    keyring_path = tmp_path / "keys" / "keyring.json"
    Keyring.generate(keyring_path)
    config_path = tmp_path / "vitalstream.toml"
    config_path.write_text(_toml(settings, keyring_path, tmp_path))
    logs = tmp_path / "logs"
    logs.mkdir()
    return Deployment(settings, config_path, keyring_path, logs)


def _toml(settings: Settings, keyring_path: Path, tmp_path: Path) -> str:
    lines = [
        "[kafka]",
        f'bootstrap_servers = "{settings.kafka.bootstrap_servers}"',
        f'client_id = "{settings.kafka.client_id}"',
    ]
    for role, topic in settings.topics.model_dump().items():
        lines += [f"[topics.{role}]", f'name = "{topic["name"]}"']
        lines += [f"partitions = {topic['partitions']}"]
        if topic["retention_ms"] is not None:
            lines.append(f"retention_ms = {topic['retention_ms']}")
        lines.append(f"compacted = {str(topic['compacted']).lower()}")
    anonymiser = settings.anonymiser
    lines += [
        "[anonymiser]",
        f'group_id = "{anonymiser.group_id}"',
        f'guarantee = "{anonymiser.guarantee}"',
        "web_port = 0",
        f'data_dir = "{tmp_path / "anonymiser-data"}"',
    ]
    if anonymiser.policy is not None:
        lines.append(f'policy = "{anonymiser.policy}"')
    lines += ["[keys]", f'keyring = "{keyring_path}"']
    return "\n".join(lines) + "\n"


@dataclass
class Worker:
    """A `vitalstream anonymise` process and its log file."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path
    killed: bool = False

    @classmethod
    def start(cls, deployment: Deployment, name: str, args: list[str]) -> Worker:
        log = deployment.logs / f"{name}.log"
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith("VITALSTREAM_")
        }
        with log.open("ab") as out:
            process = subprocess.Popen(
                [
                    VITALSTREAM,
                    "--config",
                    str(deployment.config_path),
                    "anonymise",
                    *args,
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=deployment.logs,
                env=env,
            )
        return cls(name, process, log)

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for_log(self, needle: str, timeout: float = 60.0) -> None:
        """Wait until the log says ``needle``; fail if the process ends first."""
        wait_until(
            lambda: needle in self.text(),
            timeout,
            f"{self.name} never logged {needle!r}",
            alive=self,
        )

    def terminate(self, timeout: float = 60.0) -> int:
        """SIGTERM, then wait: the exit code."""
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)

    def kill(self) -> None:
        """SIGKILL: no chance to commit, abort or leave the group."""
        if self.process.poll() is None:
            self.killed = True
            self.process.kill()
            self.process.wait(30)


def wait_until(
    condition: Callable[[], bool],
    timeout: float,
    failure: str,
    *,
    alive: Worker | None = None,
) -> None:
    """Poll ``condition`` until true; raise AssertionError on timeout."""
    deadline = time.monotonic() + timeout
    while not condition():
        if alive is not None and alive.process.poll() is not None:
            raise AssertionError(
                f"{failure}: exited {alive.process.returncode}\n{alive.text()[-4000:]}"
            )
        if time.monotonic() > deadline:
            tail = alive.text()[-4000:] if alive is not None else ""
            raise AssertionError(f"{failure} within {timeout}s\n{tail}")
        time.sleep(0.2)


async def produce(
    bootstrap: str,
    topic: str,
    records: Iterable[tuple[bytes | None, bytes | None]],
    *,
    transactional_id: str | None = None,
) -> int:
    """Write ``(key, value)`` records, in one transaction if an id is given."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        transactional_id=transactional_id,
        enable_idempotence=transactional_id is not None,
        acks="all",
    )
    await producer.start()
    count = 0
    try:
        if transactional_id is None:
            for key, value in records:
                await producer.send(topic, value, key=key)
                count += 1
        else:
            async with producer.transaction():
                for key, value in records:
                    await producer.send(topic, value, key=key)
                    count += 1
        await producer.flush()
    finally:
        await producer.stop()
    return count


def raw_records(readings: Iterable[Reading]) -> Iterator[tuple[bytes, bytes]]:
    for reading in readings:
        yield reading.device.encode(), reading.to_json()


async def read_topic(bootstrap: str, topic: str) -> list[ConsumerRecord[Any, Any]]:
    """Every committed record of ``topic`` (read_committed), oldest first."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        isolation_level="read_committed",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        partitions = await _partitions(consumer, topic)
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        # With read_committed, end offsets are the last stable offsets.
        ends = await consumer.end_offsets(partitions)
        records: list[ConsumerRecord[Any, Any]] = []
        while True:
            positions = {tp: await consumer.position(tp) for tp in partitions}
            if all(positions[tp] >= ends[tp] for tp in partitions):
                break
            batch = await consumer.getmany(timeout_ms=1000)
            for messages in batch.values():
                records.extend(messages)
        return records
    finally:
        await consumer.stop()


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> list[TopicPartition]:
    for _ in range(50):
        found = consumer.partitions_for_topic(topic)
        if found:
            return [TopicPartition(topic, p) for p in sorted(found)]
        await consumer._client.force_metadata_update()
        await asyncio.sleep(0.1)
    raise AssertionError(f"topic {topic} has no partitions")


async def wait_for_output(
    deployment: Deployment,
    expected: int,
    within_s: float = 120.0,
    *,
    distinct: bool = False,
) -> tuple[list[ConsumerRecord[Any, Any]], list[ConsumerRecord[Any, Any]]]:
    """Wait until anonymised + dead letters hold ``expected`` records or more.

    With ``distinct``, anonymised copies of one entry count once: under
    at-least-once a rebalance writes again what was not committed, and
    those copies must not end the wait before every entry is through.
    """
    topics = deployment.settings.topics
    deadline = time.monotonic() + within_s
    while True:
        anonymised = await read_topic(deployment.bootstrap, topics.anonymised.name)
        letters = await read_topic(deployment.bootstrap, topics.deadletter.name)
        written = len(entries_seen(anonymised)) if distinct else len(anonymised)
        if written + len(letters) >= expected:
            return anonymised, letters
        for worker in deployment.workers:
            failed = worker.process.poll() not in (None, 0) and not worker.killed
            if failed:
                raise AssertionError(f"{worker.name} failed:\n{worker.text()[-4000:]}")
        if time.monotonic() > deadline:
            raise AssertionError(
                f"only {len(anonymised)} anonymised + {len(letters)} dead letters "
                f"of {expected} within {within_s}s"
            )
        await asyncio.sleep(0.5)


def fleet_readings(devices: int) -> list[Reading]:
    """The recorded channel once per device, each with entry ids of its own."""
    return [
        reading
        for device in range(devices)
        for reading in recorded_readings(
            device=f"wearable-{device}", entry_offset=device * 1000
        )
    ]


def write_in_background(
    deployment: Deployment, readings: list[Reading], batches: int, pause_s: float
) -> asyncio.Task[None]:
    """The connector's side: one raw-topic transaction per batch, ``pause_s`` apart."""
    raw_topic = deployment.settings.topics.raw.name
    size = len(readings) // batches + 1

    async def connector() -> None:
        for number, start in enumerate(range(0, len(readings), size)):
            await produce(
                deployment.bootstrap,
                raw_topic,
                raw_records(readings[start : start + size]),
                transactional_id=f"test-connector-{raw_topic}-{number}",
            )
            await asyncio.sleep(pause_s)

    return asyncio.create_task(connector())


def entries_seen(anonymised: list[ConsumerRecord[Any, Any]]) -> Counter[int]:
    """How many anonymised records each source entry id has."""
    from schemas.anonymised import AnonymisedReading

    return Counter(
        AnonymisedReading.from_json(message.value).source["entry_id"]
        for message in anonymised
    )
