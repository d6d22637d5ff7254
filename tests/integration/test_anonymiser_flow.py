"""The recorded channel flows raw -> anonymised through a real worker.

Every raw record comes out once, as an anonymised record or a dead letter;
nothing identifying or sealed is left in the clear; unsealing gives back
exactly the raw values.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from schemas.anonymised import AnonymisedReading, unseal_reading
from schemas.records import DeadLetter, Reading
from tests.integration.anonymiser_support import (
    CHANNEL_ID,
    DEVICE,
    Deployment,
    deploy,
    produce,
    raw_records,
    read_topic,
    recorded_readings,
    wait_for_output,
)
from vitalstream.config import Settings

pytestmark = pytest.mark.kafka

# Records the anonymiser must dead-letter, each for its own reason.
_GOOD = recorded_readings()[0]
BAD_RECORDS: list[tuple[bytes | None, bytes | None]] = [
    (b"bad-1", b"not json at all"),
    (b"bad-2", b"[1, 2, 3]"),
    (b"bad-3", _GOOD.to_json().replace(b'"heart_rate":0.0', b'"heart_rate":"88"')),
    (b"bad-4", _GOOD.to_json().replace(b'"device":', b'"unit":')),
    (b"bad-5", _GOOD.to_json().replace(b"raw/1", b"raw/2")),
    (b"bad-8", _GOOD.to_json().replace(b'"2021-07-19T18:53:53Z"', b'"yesterday"')),
    (b"bad-6", None),
    (b"bad-7", b'{"schema":"vitalstream.raw/1"}\xff\xfe'),
    # Too large to copy whole into a dead letter: 300 kB of invalid UTF-8
    # (1.2 MB escaped), and a reading of 16,000 metrics (1.2 MB sealed).
    (b"bad-9", b"\xff" * 300_000),
    (
        b"bad-10",
        _GOOD.to_json().replace(
            b'"metrics":{',
            b'"metrics":{' + b"".join(b'"m%d":1,' % i for i in range(16_000)),
        ),
    ),
]


@pytest.fixture
async def deployment(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> Iterator[Deployment]:
    settings = make_settings(
        anonymiser={"group_id": f"test-anon-{uuid.uuid4().hex[:10]}"}
    )
    deployment = await deploy(settings, tmp_path)
    yield deployment
    deployment.stop_all()


async def test_every_raw_record_is_anonymised_or_dead_lettered(
    deployment: Deployment,
) -> None:
    readings = recorded_readings()
    raw_topic = deployment.settings.topics.raw.name
    # As the connector writes: in a transaction, keyed by device.
    await produce(
        deployment.bootstrap,
        raw_topic,
        [*raw_records(readings[:70]), *BAD_RECORDS, *raw_records(readings[70:])],
        transactional_id=f"test-connector-{raw_topic}",
    )
    worker = deployment.start_worker()

    anonymised, letters = await wait_for_output(
        deployment, len(readings) + len(BAD_RECORDS)
    )
    assert worker.terminate() == 0

    raw = await read_topic(deployment.bootstrap, raw_topic)
    assert len(raw) == len(readings) + len(BAD_RECORDS)
    bad_origins = {
        (raw_topic, record.partition, record.offset): record.value
        for record in raw
        if record.key is not None and record.key.startswith(b"bad-")
    }

    # Dead letters: exactly the bad records, each with its origin and payload.
    decoded = [DeadLetter.from_json(letter.value) for letter in letters]
    assert sorted(_origin(letter) for letter in decoded) == sorted(bad_origins)
    for letter in decoded:
        assert letter.stage == "anonymiser"
        assert letter.reason
        original = bad_origins[_origin(letter)]
        expected = None if original is None else original.decode(errors="replace")
        if original is not None and b"\xff" in original:
            expected = original.decode("utf-8", errors="backslashreplace")
        if letter.payload_truncated:
            assert expected is not None
            assert letter.payload is not None
            head = letter.payload.split(" ...(", 1)[0]
            assert len(head) > 1_000
            assert expected.startswith(head)
        else:
            assert letter.payload == expected
    reasons = " | ".join(letter.reason for letter in decoded)
    assert "not JSON" in reasons
    assert "metrics.heart_rate" in reasons
    assert "device: missing" in reasons
    assert "vitalstream.raw/2" in reasons
    assert "observed_at" in reasons
    assert "metrics: 16003 metrics, at most 32" in reasons
    assert sum(letter.payload_truncated for letter in decoded) == 2

    # Anonymised: each good reading exactly once, keyed by its subject.
    records = [AnonymisedReading.from_json(message.value) for message in anonymised]
    assert sorted(r.source["entry_id"] for r in records) == sorted(
        reading.entry_id for reading in readings
    )
    for message, record in zip(anonymised, records, strict=True):
        assert message.key == record.key
    assert len({record.subject for record in records}) == 1


async def test_nothing_identifying_or_sealed_in_the_clear(
    deployment: Deployment,
) -> None:
    readings = recorded_readings()
    await produce(
        deployment.bootstrap,
        deployment.settings.topics.raw.name,
        raw_records(readings),
    )
    worker = deployment.start_worker()
    anonymised, letters = await wait_for_output(deployment, len(readings))
    assert worker.terminate() == 0
    assert letters == []

    by_entry = {reading.entry_id: reading for reading in readings}
    keyring = deployment.keyring()
    for message in anonymised:
        assert DEVICE.encode() not in message.value
        assert DEVICE.encode() not in message.key
        assert str(CHANNEL_ID).encode() not in message.value
        doc = orjson.loads(message.value)
        record = AnonymisedReading.from_json(message.value)
        reading = by_entry[record.source["entry_id"]]
        _assert_only_expected_clear_fields(doc, reading)

        # Every metric is sealed; an unmeasured one is null and not sealed.
        assert set(record.sealed) == set(reading.metrics)
        for name, value in reading.metrics.items():
            token = record.sealed[name]
            if value is None:
                assert token is None
            else:
                assert token is not None
                assert token.startswith("vs1.")
                assert repr(value) not in token
        # Unsealing gives back exactly the raw values.
        assert unseal_reading(record, keyring) == reading.metrics


def _assert_only_expected_clear_fields(doc: dict[str, Any], reading: Reading) -> None:
    # Enumerate every leaf outside the sealed tokens: each is one the
    # default policy keeps in the clear, none is a metric value or identity.
    leaves = dict(_leaves(doc, skip={"sealed"}))
    assert leaves.pop("source.entry_id") == reading.entry_id
    assert leaves.pop("observed_at") == reading.observed_at
    assert leaves.pop("clear.ingested_at") == reading.ingested_at
    assert leaves.pop("clear.temperature_site") == reading.temperature_site
    assert leaves.pop("schema") == "vitalstream.anonymised/1"
    subject = leaves.pop("subject")
    channel = leaves.pop("source.channel")
    assert isinstance(subject, str)
    assert subject != reading.device
    assert isinstance(channel, str)
    assert channel != str(reading.channel)
    assert leaves == {}, f"unexpected fields in the clear: {sorted(leaves)}"


def _leaves(
    value: Any, prefix: str = "", *, skip: set[str]
) -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for key, item in value.items():
            path = f"{prefix}{key}"
            if path not in skip:
                yield from _leaves(item, f"{path}.", skip=skip)
    else:
        yield prefix.rstrip("."), value


def _origin(letter: DeadLetter) -> tuple[str, int, int]:
    origin = letter.origin
    return (origin["topic"], origin["partition"], origin["offset"])
