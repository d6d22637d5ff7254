"""`vitalstream topics create` is idempotent and sets what configuration says."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from vitalstream.config import Settings, TopicSettings
from vitalstream.errors import TopicMismatchError
from vitalstream.topics import ensure_topics


async def _describe(bootstrap: str, names: list[str]) -> dict[str, dict[str, str]]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        metadata = await admin.describe_topics(names)
        responses = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, name) for name in names]
        )
    finally:
        await admin.close()
    described: dict[str, dict[str, str]] = {
        topic["topic"]: {"partitions": str(len(topic["partitions"]))}
        for topic in metadata
    }
    for response in responses:
        for resource in response.resources:
            described[resource[3]].update({entry[0]: entry[1] for entry in resource[4]})
    return described


async def test_create_twice_changes_nothing(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings()

    first = await ensure_topics(settings)
    second = await ensure_topics(settings)

    assert {outcome.action for outcome in first} == {"created"}
    assert {outcome.action for outcome in second} == {"exists"}
    assert [o.partitions for o in first] == [o.partitions for o in second]


async def test_topics_carry_configured_settings(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings()
    await ensure_topics(settings)
    topics = settings.topics

    described = await _describe(
        settings.kafka.bootstrap_servers,
        [topics.raw.name, topics.connector_offsets.name, topics.anonymised.name],
    )

    raw = described[topics.raw.name]
    assert raw["partitions"] == str(topics.raw.partitions)
    assert raw["retention.ms"] == str(24 * 3600 * 1000)
    assert raw["cleanup.policy"] == "delete"
    assert described[topics.connector_offsets.name]["cleanup.policy"] == "compact"
    assert described[topics.connector_offsets.name]["partitions"] == "1"


async def test_existing_topic_with_other_partition_count_is_reported(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings()
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka.bootstrap_servers)
    await admin.start()
    try:
        await admin.create_topics(
            [
                NewTopic(
                    settings.topics.alerts.name, num_partitions=1, replication_factor=1
                )
            ]
        )
    finally:
        await admin.close()

    with pytest.raises(TopicMismatchError) as raised:
        await ensure_topics(settings)

    message = str(raised.value)
    assert settings.topics.alerts.name in message
    assert "has 1 partition(s), configuration says 3" in message


async def test_retention_differing_from_configuration_is_reported(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings()
    await ensure_topics(settings)
    changed_raw = TopicSettings(
        name=settings.topics.raw.name, partitions=3, retention_ms=3_600_000
    )
    changed = settings.model_copy(
        update={"topics": settings.topics.model_copy(update={"raw": changed_raw})}
    )

    with pytest.raises(TopicMismatchError, match=r"retention\.ms is 86400000"):
        await ensure_topics(changed)
