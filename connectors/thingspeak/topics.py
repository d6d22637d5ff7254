"""The topics the connector writes, checked before it starts; it never creates one.

``vitalstream topics create`` makes them with the configured partitions and
retention. A topic made any other way (a producer's metadata request on a
broker that auto-creates) would have the broker's defaults: for the raw
topic, plaintext vitals kept for a week instead of a day.
"""

from __future__ import annotations

from connectors.errors import TopicsMissingError
from vitalstream.config import Settings
from vitalstream.errors import TopicMismatchError
from vitalstream.topics import topic_partitions


def written_topics(settings: Settings) -> list[str]:
    """The raw, dead-letter and offsets topics' names."""
    topics = settings.topics
    return [topics.raw.name, topics.deadletter.name, topics.connector_offsets.name]


async def require_topics(settings: Settings) -> None:
    """Raise unless every topic the connector writes exists as configured.

    :class:`TopicsMissingError` names the missing ones;
    :class:`TopicMismatchError` says when the offsets topic's partition
    count differs from the configuration (the cursors are read from the
    configured partitions). Kafka out of reach is a ``VitalstreamError``.
    """
    partitions = await topic_partitions(settings)
    missing = [name for name in written_topics(settings) if name not in partitions]
    if missing:
        raise TopicsMissingError(
            f"topic(s) {', '.join(missing)} do not exist; "
            "create them with `vitalstream topics create`"
        )
    offsets = settings.topics.connector_offsets
    if partitions[offsets.name] != offsets.partitions:
        raise TopicMismatchError(
            f"{offsets.name}: has {partitions[offsets.name]} partitions, "
            f"configuration says {offsets.partitions} "
            "(topics.connector_offsets.partitions); cursors would be missed"
        )
