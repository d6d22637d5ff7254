"""Fixtures shared by every test: the Kafka broker and per-test settings."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from vitalstream.config import Settings, TopicSettings

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# The recorded ThingSpeak exports are read where they live, never copied into
# the project: beside the clone by default, or wherever this variable says.
SHARED_DATA_ENV = "VITALSTREAM_RECORDINGS"
SHARED_DATA = Path(
    os.environ.get(SHARED_DATA_ENV)
    or PROJECT_ROOT.parent / "shared" / "data" / "thingspeak"
)
RECORDED_CHANNEL = SHARED_DATA / "channel-1448708"

NO_BROKER = (
    "These tests need a real Kafka broker, and none was found. Either start "
    "the local one and point the tests at it (scripts/kafka start; "
    "KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:9092), or run them where a Docker "
    "engine answers so testcontainers can start one. `make test` does the "
    "first for you."
)


def pytest_configure(config: pytest.Config) -> None:
    """Stop the run at once, naming the fix, when the recordings are missing."""
    missing = [
        name
        for name in ("feeds.csv", "feeds.json")
        if not (RECORDED_CHANNEL / name).is_file()
    ]
    if missing:
        raise pytest.UsageError(
            f"the recorded ThingSpeak channel is not at {RECORDED_CHANNEL} "
            f"(missing {', '.join(missing)}). The tests read it from "
            "../shared/data/thingspeak beside the clone; set "
            f"{SHARED_DATA_ENV} to the folder holding channel-1448708 if it "
            "lives elsewhere."
        )


def _docker_answers() -> bool:
    docker = shutil.which("docker")
    if docker is None:
        return False
    probe = subprocess.run(
        [docker, "info", "--format", "{{.ServerVersion}}"],
        capture_output=True,
        timeout=20,
        check=False,
    )
    return probe.returncode == 0


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """A bootstrap address of a real broker: env, else testcontainers, else fail."""
    configured = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "").strip()
    if configured:
        yield configured
        return
    if _docker_answers():
        from testcontainers.kafka import KafkaContainer

        with KafkaContainer("apache/kafka:4.0.1") as container:
            yield container.get_bootstrap_server()
        return
    pytest.fail(NO_BROKER, pytrace=False)


@pytest.fixture
def own_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A broker of the test's own on free ports, to stop and start at will.

    For tests that take Kafka away; the shared broker is never stopped.
    """
    from tests.faults.broker import OwnBroker  # it imports this module

    broker = OwnBroker(tmp_path_factory.mktemp("kafka-own"))
    broker.start()
    try:
        yield broker
    finally:
        broker.remove()


@pytest.fixture
def make_settings(kafka_bootstrap: str) -> Callable[..., Settings]:
    """Build `Settings` on the test broker with topic names unique to the test.

    Keyword arguments are settings sections (``channels=[...]``,
    ``connector={...}``), merged over the test defaults.
    """
    suffix = uuid.uuid4().hex[:10]

    def build(**sections: Any) -> Settings:
        topics = {
            name: TopicSettings(
                name=f"test.{name}.{suffix}",
                partitions=1 if name == "connector_offsets" else 3,
                retention_ms=86_400_000 if name == "raw" else None,
                compacted=name == "connector_offsets",
            )
            for name in (
                "raw",
                "anonymised",
                "alerts",
                "deadletter",
                "connector_offsets",
            )
        }
        base: dict[str, Any] = {
            "kafka": {
                "bootstrap_servers": kafka_bootstrap,
                "client_id": f"test-{suffix}",
            },
            "topics": topics,
        }
        base.update(sections)
        return Settings(**base)

    return build
