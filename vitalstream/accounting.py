"""The accounting invariant: every entry served ends up downstream, once.

For each source entry ``(channel, entry_id)`` that the ThingSpeak server
made available, exactly one of {anonymised record, dead letter} must exist
downstream (at least one under at-least-once, where the extra copies are
counted as duplicates). Records are matched to entries by:

- an anonymised record: ``source`` = ``{"channel": <pseudonym or id>,
  "entry_id"}``; pseudonyms are mapped back with the keyring
  (:func:`channel_names`);
- a connector dead letter: ``origin`` = ``{"channel", "entry_id", ...}``;
- an anonymiser dead letter: ``origin`` = ``{"topic", "partition",
  "offset"}`` of a raw record, whose own ``channel``/``entry_id`` say which
  entry it was.

Dead letters of the alerting stage concern anonymised records, not entries,
and are counted apart. Topics are read to their end with ``read_committed``
(:class:`TopicTail`): records of aborted transactions never count.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeGuard

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from vitalstream.errors import VitalstreamError

__all__ = [
    "AccountingResult",
    "Record",
    "SourceKey",
    "TopicTail",
    "account",
    "channel_names",
    "expected_entries",
]

SourceKey = tuple[int, int]
_SHOWN = 5  # lost or duplicated keys quoted in a result


@dataclass(frozen=True, slots=True)
class Record:
    """One committed Kafka record, as accounting needs it."""

    topic: str
    partition: int
    offset: int
    timestamp: int
    key: bytes | None
    value: bytes | None


@dataclass(frozen=True)
class AccountingResult:
    """What was served, what came out, and what went missing or twice."""

    expected: int
    anonymised: int
    dead_lettered: int
    lost: int
    duplicated: int
    raw: int = 0
    raw_duplicated: int = 0
    unexpected: int = 0
    unattributed: int = 0
    alerting_dead_letters: int = 0
    lost_keys: tuple[SourceKey, ...] = ()
    duplicated_keys: tuple[SourceKey, ...] = ()

    def holds(self, *, exactly_once: bool) -> bool:
        """Nothing lost or unaccounted for, and with ``exactly_once`` no copy."""
        if self.lost or self.unexpected or self.unattributed:
            return False
        return not (exactly_once and (self.duplicated or self.raw_duplicated))

    def summary(self) -> str:
        """One line with every count (and the first lost/duplicated keys)."""
        line = (
            f"expected {self.expected}, anonymised {self.anonymised}, "
            f"dead-lettered {self.dead_lettered}, lost {self.lost}, "
            f"duplicated {self.duplicated} (raw {self.raw}, raw duplicated "
            f"{self.raw_duplicated}, unexpected {self.unexpected}, "
            f"unattributed {self.unattributed})"
        )
        if self.lost_keys:
            line += f"; first lost {list(self.lost_keys)}"
        if self.duplicated_keys:
            line += f"; first duplicated {list(self.duplicated_keys)}"
        return line


def expected_entries(ranges: Mapping[str, Iterable[Iterable[int]]]) -> set[SourceKey]:
    """Entries from ``{"<channel>": [[first, last], ...]}`` (inclusive runs)."""
    entries: set[SourceKey] = set()
    for channel, runs in ranges.items():
        for first, last in runs:
            entries.update((int(channel), n) for n in range(first, last + 1))
    return entries


def channel_names(keyring: Any, channels: Iterable[int]) -> dict[object, int]:
    """How anonymised records may name each channel: pseudonym or id, to the id.

    ``keyring`` is a :class:`schemas.keyring.Keyring`; the pseudonym is the
    one the default policy writes (``schemas.pseudonym``, kind ``channel``).
    """
    from schemas.pseudonym import pseudonym

    names: dict[object, int] = {}
    for channel in channels:
        names[pseudonym(keyring, "channel", str(channel))] = channel
        names[channel] = channel
    return names


def account(
    expected: set[SourceKey],
    *,
    raw: Iterable[Record],
    anonymised: Iterable[Record],
    dead_letters: Iterable[Record],
    names: Mapping[object, int],
) -> AccountingResult:
    """Match downstream records to the ``expected`` entries and count."""
    raw_at: dict[tuple[str, int, int], bytes | None] = {}
    raw_copies: Counter[SourceKey] = Counter()
    for record in raw:
        raw_at[(record.topic, record.partition, record.offset)] = record.value
        key = _entry_of(_object(record.value))
        if key is not None:
            raw_copies[key] += 1

    copies: Counter[SourceKey] = Counter()
    unattributed = 0
    anonymised_count = 0
    for record in anonymised:
        source = _object(record.value).get("source")
        key = None
        if isinstance(source, dict):
            channel = names.get(_hashable(source.get("channel")))
            entry_id = source.get("entry_id")
            if channel is not None and _is_int(entry_id):
                key = (channel, entry_id)
        if key is None:
            unattributed += 1
            continue
        copies[key] += 1
        anonymised_count += 1

    dead_count = 0
    alerting = 0
    for record in dead_letters:
        letter = _object(record.value)
        origin = letter.get("origin")
        origin = origin if isinstance(origin, dict) else {}
        if letter.get("stage") == "alerting":
            alerting += 1
            continue
        key = _entry_of(origin)
        if key is None and {"topic", "partition", "offset"} <= set(origin):
            where = (origin["topic"], origin["partition"], origin["offset"])
            key = _entry_of(_object(raw_at.get(where)))
        if key is None:
            unattributed += 1
            continue
        copies[key] += 1
        dead_count += 1

    lost = sorted(expected - set(copies))
    twice = sorted(k for k, n in copies.items() if n > 1 and k in expected)
    return AccountingResult(
        expected=len(expected),
        anonymised=anonymised_count,
        dead_lettered=dead_count,
        lost=len(lost),
        duplicated=sum(copies[k] - 1 for k in twice),
        raw=sum(raw_copies.values()),
        raw_duplicated=sum(n - 1 for n in raw_copies.values() if n > 1),
        unexpected=sum(n for k, n in copies.items() if k not in expected),
        unattributed=unattributed,
        alerting_dead_letters=alerting,
        lost_keys=tuple(lost[:_SHOWN]),
        duplicated_keys=tuple(twice[:_SHOWN]),
    )


def _object(value: bytes | None) -> dict[str, Any]:
    # Accounting reads what stages wrote, including records they could not
    # decode themselves: anything that is not a JSON object counts as empty.
    if value is None:
        return {}
    try:
        doc = orjson.loads(value)
    except orjson.JSONDecodeError:
        return {}
    return doc if isinstance(doc, dict) else {}


def _entry_of(doc: Mapping[str, Any]) -> SourceKey | None:
    channel, entry_id = doc.get("channel"), doc.get("entry_id")
    if _is_int(channel) and _is_int(entry_id):
        return (channel, entry_id)
    return None


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _hashable(value: object) -> object:
    return value if isinstance(value, str | int) or value is None else repr(value)


class TailError(VitalstreamError):
    """A topic does not exist, or could not be read to its end in time."""


async def _partitions(bootstrap: str, topics: list[str]) -> list[TopicPartition]:
    if not topics:
        return []
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        described: list[dict[str, Any]] = await admin.describe_topics(topics)
    finally:
        await admin.close()
    found = {
        entry["topic"]: sorted(p["partition"] for p in entry["partitions"])
        for entry in described
        if entry["error_code"] == 0
    }
    missing = [topic for topic in topics if not found.get(topic)]
    if missing:
        raise TailError(f"topic {missing[0]!r} does not exist")
    return [TopicPartition(t, p) for t in topics for p in found[t]]


class TopicTail:
    """Committed records of some topics, read incrementally from their start.

    :meth:`catch_up` reads every partition up to its end as of the call
    (the last stable offset, ``read_committed``); records accumulate in
    :attr:`records` by topic.
    """

    def __init__(self, bootstrap: str, topics: Iterable[str]) -> None:
        self.bootstrap = bootstrap
        self.topics = list(topics)
        self.records: dict[str, list[Record]] = {topic: [] for topic in self.topics}
        self._consumer: AIOKafkaConsumer | None = None

    async def start(self) -> None:
        partitions = await _partitions(self.bootstrap, self.topics)
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap,
            group_id=None,
            isolation_level="read_committed",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        await consumer.start()
        self._consumer = consumer
        consumer.assign(partitions)
        if partitions:
            await consumer.seek_to_beginning(*partitions)

    async def stop(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None

    async def __aenter__(self) -> TopicTail:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def catch_up(self, timeout_s: float = 120.0) -> int:
        """Read up to each partition's end now; the number of new records."""
        consumer = self._consumer
        if consumer is None:
            raise TailError("the tail is not started")
        assigned = list(consumer.assignment())
        ends = await consumer.end_offsets(assigned)
        pending = {tp for tp in assigned if await consumer.position(tp) < ends[tp]}
        deadline = time.monotonic() + timeout_s
        added = 0
        while pending:
            if time.monotonic() > deadline:
                raise TailError(f"could not read {sorted(map(str, pending))} to end")
            batches = await consumer.getmany(*pending, timeout_ms=500)
            for tp, messages in batches.items():
                kept = self.records[tp.topic]
                for m in messages:
                    kept.append(
                        Record(
                            m.topic, m.partition, m.offset, m.timestamp, m.key, m.value
                        )
                    )
                added += len(messages)
            for tp in list(pending):
                if await consumer.position(tp) >= ends[tp]:
                    pending.discard(tp)
        return added

    async def end_offsets(self) -> dict[tuple[str, int], int]:
        """Each partition's end now, by ``(topic, partition)``."""
        if self._consumer is None:
            raise TailError("the tail is not started")
        ends = await self._consumer.end_offsets(list(self._consumer.assignment()))
        return {(tp.topic, tp.partition): offset for tp, offset in ends.items()}

    def of(self, topic: str) -> list[Record]:
        """The records of ``topic`` read so far, partition by partition in order."""
        return self.records.get(topic, [])
