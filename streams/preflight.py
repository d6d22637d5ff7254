"""Checks a stream stage makes before it starts: are its topics there?"""

from __future__ import annotations

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from streams.errors import StartupError


async def require_topics(bootstrap_servers: str, names: list[str]) -> None:
    """Raise :class:`StartupError` naming each topic that does not exist.

    Stages never create topics (``vitalstream topics create`` does, with the
    configured partitions and retention), so a missing one is a set-up step
    not taken, better said at start-up than by a consumer that waits.
    """
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    try:
        await admin.start()
    except KafkaError as exc:
        raise StartupError(f"cannot reach Kafka at {bootstrap_servers}: {exc}") from exc
    try:
        # Every topic, not the named ones: a metadata request naming topics
        # makes a broker with auto.create.topics.enable (Kafka's default)
        # create them, with its defaults instead of the configured ones.
        described = await admin.describe_topics()
    except KafkaError as exc:
        raise StartupError(f"cannot describe topics {names}: {exc}") from exc
    finally:
        await admin.close()
    present = {topic["topic"] for topic in described if topic["error_code"] == 0}
    missing = [name for name in names if name not in present]
    if missing:
        raise StartupError(
            f"topic(s) {', '.join(missing)} do not exist; "
            "create them with `vitalstream topics create`"
        )
