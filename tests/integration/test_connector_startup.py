"""``vitalstream connect`` refuses to start on topics that are not there, as set up.

It never creates a topic: ``vitalstream topics create`` does, with the
configured partitions and retention.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from connectors.errors import TopicsMissingError
from connectors.thingspeak.source import ThingSpeakSource
from tests.integration.connector_support import start_connect
from vitalstream.config import Settings, TopicSettings
from vitalstream.errors import TopicMismatchError
from vitalstream.topics import ensure_topics

pytestmark = pytest.mark.kafka

# Nothing listens there: a connector that got past its check reads nothing.
NOWHERE = "http://127.0.0.1:9"


def with_topic(settings: Settings, role: str, topic: TopicSettings) -> Settings:
    topics = settings.topics.model_copy(update={role: topic})
    return settings.model_copy(update={"topics": topics})


async def broker_topics(settings: Settings) -> set[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka.bootstrap_servers)
    await admin.start()
    try:
        return set(await admin.list_topics())
    finally:
        await admin.close()


async def test_a_missing_raw_topic_stops_connect_naming_it_and_is_not_created(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    settings = make_settings(connector={"base_url": NOWHERE}, channels=[{"id": 1}])
    await ensure_topics(settings)
    nosuch = f"{settings.topics.raw.name}.nosuch"
    renamed = with_topic(
        settings, "raw", settings.topics.raw.model_copy(update={"name": nosuch})
    )

    process = await start_connect(renamed, tmp_path, "--once")
    assert await process.wait() == 2
    errors = (tmp_path / "stderr.txt").read_text().strip().splitlines()
    assert errors[-1] == (
        f"vitalstream: topic(s) {nosuch} do not exist; "
        "create them with `vitalstream topics create`"
    )
    assert "Traceback" not in (tmp_path / "stderr.txt").read_text()
    assert nosuch not in await broker_topics(settings)


async def test_every_missing_topic_is_named_before_anything_is_started(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(connector={"base_url": NOWHERE}, channels=[{"id": 1}])
    with pytest.raises(TopicsMissingError) as caught:
        await ThingSpeakSource(settings).run(once=True)
    for topic in (
        settings.topics.raw,
        settings.topics.deadletter,
        settings.topics.connector_offsets,
    ):
        assert topic.name in str(caught.value)
    assert settings.topics.anonymised.name not in str(caught.value)
    assert not {t.name for t in settings.topics.all()} & await broker_topics(settings)


async def test_an_offsets_topic_of_another_partition_count_is_refused(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(connector={"base_url": NOWHERE}, channels=[{"id": 1}])
    await ensure_topics(settings)
    offsets = settings.topics.connector_offsets
    changed = with_topic(
        settings, "connector_offsets", offsets.model_copy(update={"partitions": 3})
    )
    with pytest.raises(TopicMismatchError, match=r"has 1 partitions, configuration"):
        await ThingSpeakSource(changed).run(once=True)
