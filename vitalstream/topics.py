"""Create the project's Kafka topics, idempotently, from configuration."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaError

from vitalstream.config import Settings, TopicSettings
from vitalstream.errors import TopicMismatchError, VitalstreamError

logger = logging.getLogger(__name__)

_TOPIC_ALREADY_EXISTS = 36


@dataclass(frozen=True)
class TopicOutcome:
    """What `ensure_topics` did with one topic."""

    name: str
    action: str  # "created" or "exists"
    partitions: int


def topic_configs(topic: TopicSettings) -> dict[str, str]:
    """The broker-side configs a topic is created with."""
    configs = {"cleanup.policy": "compact" if topic.compacted else "delete"}
    if topic.retention_ms is not None:
        configs["retention.ms"] = str(topic.retention_ms)
    return configs


async def ensure_topics(settings: Settings) -> list[TopicOutcome]:
    """Create every configured topic that is missing; check the ones that exist.

    Raises :class:`TopicMismatchError` naming each existing topic whose
    partition count or configs differ from the configuration; nothing is
    altered in that case, since shrinking or re-partitioning a topic loses
    ordering and data.
    """
    admin = AIOKafkaAdminClient(
        bootstrap_servers=settings.kafka.bootstrap_servers,
        client_id=f"{settings.kafka.client_id}-admin",
    )
    try:
        await admin.start()
    except KafkaError as exc:
        raise VitalstreamError(
            f"cannot reach Kafka at {settings.kafka.bootstrap_servers}: {exc}"
        ) from exc
    try:
        return await _ensure(admin, settings.topics.all())
    finally:
        await admin.close()


async def topic_partitions(settings: Settings) -> dict[str, int]:
    """Every topic on the broker, with its partition count.

    Asks for all topics: a metadata request naming topics asks the broker
    to create the missing ones where ``auto.create.topics.enable`` is on
    (Kafka's default). Raises :class:`VitalstreamError` if Kafka cannot be
    reached.
    """
    admin = AIOKafkaAdminClient(
        bootstrap_servers=settings.kafka.bootstrap_servers,
        client_id=f"{settings.kafka.client_id}-admin",
    )
    try:
        await admin.start()
        return await _partition_counts(admin)
    except KafkaError as exc:
        raise VitalstreamError(
            f"cannot reach Kafka at {settings.kafka.bootstrap_servers}: {exc}"
        ) from exc
    finally:
        await admin.close()


async def _ensure(
    admin: AIOKafkaAdminClient, wanted: list[TopicSettings]
) -> list[TopicOutcome]:
    existing = await _partition_counts(admin)
    missing = [topic for topic in wanted if topic.name not in existing]
    created: set[str] = set()
    if missing:
        response = await admin.create_topics(
            [
                NewTopic(
                    name=topic.name,
                    num_partitions=topic.partitions,
                    replication_factor=topic.replication_factor,
                    topic_configs=topic_configs(topic),
                )
                for topic in missing
            ]
        )
        for name, code, *rest in response.topic_errors:
            if code == 0:
                created.add(name)
            elif code != _TOPIC_ALREADY_EXISTS:
                message = rest[0] if rest else ""
                raise VitalstreamError(
                    f"creating topic {name!r} failed: error {code} {message}"
                )
        existing = await _wait_until_visible(admin, [t.name for t in wanted])

    problems: list[str] = []
    # A topic that another client created meanwhile is checked like any other.
    present = [topic for topic in wanted if topic.name not in created]
    actual_configs = await _configs(admin, [topic.name for topic in present])
    for topic in present:
        if existing.get(topic.name) != topic.partitions:
            problems.append(
                f"{topic.name}: has {existing.get(topic.name)} partition(s), "
                f"configuration says {topic.partitions}"
            )
        for key, value in topic_configs(topic).items():
            found = actual_configs.get(topic.name, {}).get(key)
            if found != value:
                problems.append(
                    f"{topic.name}: {key} is {found}, configuration says {value}"
                )
    if problems:
        raise TopicMismatchError(
            "existing topics differ from the configuration (left unchanged): "
            + "; ".join(problems)
        )

    outcomes = [
        TopicOutcome(
            topic.name,
            "created" if topic.name in created else "exists",
            existing.get(topic.name, topic.partitions),
        )
        for topic in wanted
    ]
    for outcome in outcomes:
        logger.debug(
            "topic %s %s (%d partitions)",
            outcome.name,
            outcome.action,
            outcome.partitions,
        )
    return outcomes


async def _partition_counts(admin: AIOKafkaAdminClient) -> dict[str, int]:
    topics: list[dict[str, Any]] = await admin.describe_topics()
    return {
        topic["topic"]: len(topic["partitions"])
        for topic in topics
        if topic["error_code"] == 0 and topic["partitions"]
    }


async def _wait_until_visible(
    admin: AIOKafkaAdminClient, names: list[str], timeout_s: float = 30.0
) -> dict[str, int]:
    # A topic just created (here or by a concurrent caller) shows in metadata
    # only once the controller has elected its partition leaders.
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        counts = await _partition_counts(admin)
        missing = [name for name in names if name not in counts]
        if not missing:
            return counts
        if asyncio.get_running_loop().time() > deadline:
            raise VitalstreamError(
                f"topics {', '.join(missing)} were created but did not become "
                f"available within {timeout_s:.0f}s"
            )
        await asyncio.sleep(0.2)


async def _configs(
    admin: AIOKafkaAdminClient, names: list[str]
) -> dict[str, dict[str, str]]:
    if not names:
        return {}
    responses = await admin.describe_configs(
        [ConfigResource(ConfigResourceType.TOPIC, name) for name in names]
    )
    configs: dict[str, dict[str, str]] = {}
    for response in responses:
        for resource in response.resources:
            # (error_code, error_message, resource_type, name, config_entries)
            name, entries = resource[3], resource[4]
            configs[name] = {entry[0]: entry[1] for entry in entries}
    return configs
