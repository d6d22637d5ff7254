"""Create the project's Kafka topics, idempotently, from configuration."""

from __future__ import annotations

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


async def _ensure(
    admin: AIOKafkaAdminClient, wanted: list[TopicSettings]
) -> list[TopicOutcome]:
    existing = await _partition_counts(admin)
    missing = [topic for topic in wanted if topic.name not in existing]
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
            if code not in (0, _TOPIC_ALREADY_EXISTS):
                message = rest[0] if rest else ""
                raise VitalstreamError(
                    f"creating topic {name!r} failed: error {code} {message}"
                )
        existing = await _partition_counts(admin)

    problems: list[str] = []
    present = [topic for topic in wanted if topic not in missing]
    actual_configs = await _configs(admin, [topic.name for topic in present])
    for topic in present:
        if existing.get(topic.name) != topic.partitions:
            problems.append(
                f"{topic.name}: has {existing.get(topic.name)} partitions, "
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
            "created" if topic in missing else "exists",
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
        if topic["error_code"] == 0
    }


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
