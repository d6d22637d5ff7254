"""The rule state's home: a compacted topic, co-partitioned with the input.

Why a compacted topic written in the same Kafka transaction as the alerts
and the consumed offsets (KIP-98): the three move together or not at all.
After a kill -9 the aborted transaction leaves none of them, and the
restarted consumer resumes from the last committed offsets with exactly the
state that produced the committed alerts; nothing is lost, nothing repeated.
A Faust table would give the same with a changelog, but hides the commit
point; rebuilding from the anonymised topic would replay its whole
retention on every start and could not tell which alerts were already sent.

State record: key = subject, value = "vitalstream.alerting-state/2" JSON,
partition = the subject's partition of the anonymised topic, so a worker
restores exactly the subjects of the partitions it is assigned. Metric
values in the state are sealed like any other value (field
``state.<metric>.value``); levels and open conditions are in the clear, as
coarse as the alerts topic's severities, and so are the recent entry ids
and token fingerprints (``seen``; the anonymised topic shows both anyway).

Version 2 replaced version 1's highest entry id per channel
(``entry_marks``) with ``seen`` (replay.py). Version 1 records are still
read: each mark becomes its channel's one remembered entry id.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from schemas.errors import SchemaError
from schemas.keyring import Keyring
from schemas.sealed import SealingContext
from streams.alerting.errors import StateTopicError
from streams.alerting.reader import read_to_end
from streams.alerting.replay import SeenReadings
from streams.alerting.state import SubjectState
from vitalstream.config import Settings

logger = logging.getLogger(__name__)

STATE_SCHEMA = "vitalstream.alerting-state/2"
_STATE_SCHEMA_V1 = "vitalstream.alerting-state/1"
_VALUE_FIELDS = ("value", "last_fault_value")


def state_topic_name(settings: Settings) -> str:
    """``alerting.state_topic``, else ``<alerting.group_id>.state``."""
    return settings.alerting.state_topic or f"{settings.alerting.group_id}.state"


async def ensure_state_topic(settings: Settings) -> int:
    """Create the state topic like the anonymised one if missing; its partitions.

    Raises :class:`StateTopicError` when the anonymised topic does not exist
    or the state topic's partition count differs from it.
    """
    name = state_topic_name(settings)
    admin = AIOKafkaAdminClient(
        bootstrap_servers=settings.kafka.bootstrap_servers,
        client_id=f"{settings.kafka.client_id}-alerting-admin",
    )
    await admin.start()
    try:
        source = settings.topics.anonymised.name
        counts = await _partition_counts(admin, [source, name])
        if source not in counts:
            raise StateTopicError(
                f"the anonymised topic {source!r} does not exist; "
                "create it with `vitalstream topics create`"
            )
        if name not in counts:
            await admin.create_topics(
                [
                    NewTopic(
                        name=name,
                        num_partitions=counts[source],
                        replication_factor=settings.topics.anonymised.replication_factor,
                        topic_configs={"cleanup.policy": "compact"},
                    )
                ]
            )
            logger.info("created state topic %s (%d partitions)", name, counts[source])
        elif counts[name] != counts[source]:
            raise StateTopicError(
                f"state topic {name!r} has {counts[name]} partitions, the anonymised "
                f"topic {counts[source]}; they must match (delete the state topic to "
                "rebuild it, or set alerting.state_topic)"
            )
        return counts[source]
    finally:
        await admin.close()


async def _partition_counts(
    admin: AIOKafkaAdminClient, names: list[str]
) -> dict[str, int]:
    # All topics, kept to the named: naming one in a metadata request makes
    # an auto-creating broker create it, with its defaults.
    wanted = set(names)
    topics: list[dict[str, Any]] = await admin.describe_topics()
    return {
        t["topic"]: len(t["partitions"])
        for t in topics
        if t["error_code"] == 0 and t["topic"] in wanted
    }


def encode_state(subject: str, state: SubjectState, keyring: Keyring) -> bytes:
    """The state record of ``subject``, its values sealed."""
    doc = state.to_doc()
    context = SealingContext(keyring, subject, None)
    for name, metric in doc["metrics"].items():
        for field in _VALUE_FIELDS:
            if metric[field] is not None:
                metric[field] = context.seal(f"state.{name}.{field}", metric[field])
    return orjson.dumps({"schema": STATE_SCHEMA, "subject": subject, "state": doc})


def decode_state(data: bytes, keyring: Keyring) -> tuple[str, SubjectState]:
    """Inverse of :func:`encode_state`; ``ValueError`` (or an UnsealError) if bad."""
    doc = orjson.loads(data)
    schema = doc.get("schema") if isinstance(doc, dict) else None
    if schema not in (STATE_SCHEMA, _STATE_SCHEMA_V1):
        raise ValueError(f"not a {STATE_SCHEMA} (or /1) record")
    subject = str(doc["subject"])
    state_doc = doc["state"]
    if schema == _STATE_SCHEMA_V1:
        state_doc = _from_v1(state_doc)
    context = SealingContext(keyring, subject, None)
    for name, metric in state_doc["metrics"].items():
        for field in _VALUE_FIELDS:
            if metric[field] is not None:
                metric[field] = context.unseal(f"state.{name}.{field}", metric[field])
    try:
        return subject, SubjectState.from_doc(state_doc)
    except (KeyError, TypeError) as exc:
        raise ValueError(f"malformed state of {subject}: {exc!r}") from None


def _from_v1(state_doc: Any) -> Any:
    # Version 1 kept the highest entry id seen per channel token.
    if not isinstance(state_doc, dict) or not isinstance(
        state_doc.get("entry_marks"), dict
    ):
        raise ValueError(f"malformed {_STATE_SCHEMA_V1} state")
    upgraded = {k: v for k, v in state_doc.items() if k != "entry_marks"}
    last_seen = state_doc.get("last_seen")
    marks = SeenReadings.from_marks(
        state_doc["entry_marks"], 0.0 if last_seen is None else float(last_seen)
    )
    upgraded["seen"] = marks.to_doc()
    return upgraded


async def load_states(
    settings: Settings, keyring: Keyring, partitions: list[int]
) -> dict[str, tuple[int, SubjectState]]:
    """Read the committed state of ``partitions``: subject -> (partition, state).

    Reads each partition from its start to its last stable offset
    (read_committed), keeping the newest record per subject. A record that
    cannot be read is skipped with a warning: its subject starts afresh.
    """
    if not partitions:
        return {}
    topic = state_topic_name(settings)
    states: dict[str, tuple[int, SubjectState]] = {}
    async for message in read_to_end(settings, topic, partitions):
        _restore_one(states, message, keyring)
    logger.info(
        "restored rule state of %d subjects from %s partitions %s",
        len(states),
        topic,
        partitions,
    )
    return states


def _restore_one(
    states: dict[str, tuple[int, SubjectState]], message: Any, keyring: Keyring
) -> None:
    if message.value is None:
        states.pop(message.key.decode("utf-8", "replace"), None)
        return
    try:
        subject, state = decode_state(message.value, keyring)
    except (ValueError, KeyError, TypeError, SchemaError) as exc:
        logger.warning(
            "state record at %s/%d offset %d unreadable (%s): its subject "
            "starts with fresh rule state",
            message.topic,
            message.partition,
            message.offset,
            type(exc).__name__,
        )
        return
    states[subject] = (message.partition, state)
