"""ReadingAnonymiser: one raw value in, an anonymised record or a reason out."""

from __future__ import annotations

from pathlib import Path

import pytest

from schemas.anonymised import AnonymisedReading, unseal_reading
from schemas.keyring import Keyring
from schemas.policy import FieldPolicy
from schemas.records import Reading
from streams.anonymiser.deadletter import dead_letter
from streams.anonymiser.keys import KeyringSource
from streams.anonymiser.process import Anonymised, ReadingAnonymiser, Rejected

READING = Reading(
    channel=1448708,
    entry_id=42,
    device="ward-2/wearable-9",
    observed_at="2021-07-19T19:07:36Z",
    ingested_at="2021-07-19T19:07:40Z",
    metrics={"heart_rate": 71.0, "spo2": None, "body_temp": 36.6875},
)


@pytest.fixture
def keys(tmp_path: Path) -> KeyringSource:
    path = tmp_path / "keyring.json"
    Keyring.generate(path)
    return KeyringSource(path)


@pytest.fixture
def anonymiser(keys: KeyringSource) -> ReadingAnonymiser:
    return ReadingAnonymiser(FieldPolicy.default(), keys)


def test_a_reading_becomes_a_record_keyed_by_its_subject(
    anonymiser: ReadingAnonymiser, keys: KeyringSource
) -> None:
    outcome = anonymiser.process(READING.to_json())

    assert isinstance(outcome, Anonymised)
    record = AnonymisedReading.from_json(outcome.value)
    assert outcome.key == record.subject.encode()
    assert READING.device.encode() not in outcome.key + outcome.value
    assert record.source["entry_id"] == 42
    assert record.sealed["spo2"] is None
    assert unseal_reading(record, keys.current) == READING.metrics


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (None, "tombstone"),
        (b"", "not JSON"),
        (b"\xff\xfe{", "not JSON"),
        (b'"a string"', "expected a JSON object"),
        (READING.to_json().replace(b"raw/1", b"raw/9"), "schema"),
        (READING.to_json().replace(b'"entry_id":42', b'"entry_id":"42"'), "entry_id"),
        (READING.to_json().replace(b"71.0", b"true"), "metrics.heart_rate"),
        (
            READING.to_json().replace(b'"device":"ward-2/wearable-9"', b'"device":""'),
            "device",
        ),
        (
            READING.to_json().replace(b"2021-07-19T19:07:36Z", b"19/07/2021"),
            "observed_at",
        ),
    ],
)
def test_a_bad_record_is_rejected_with_its_reason(
    anonymiser: ReadingAnonymiser, value: bytes | None, reason: str
) -> None:
    outcome = anonymiser.process(value)

    assert isinstance(outcome, Rejected)
    assert reason in outcome.reason


def test_a_reason_never_quotes_a_metric_value(anonymiser: ReadingAnonymiser) -> None:
    value = READING.to_json().replace(b"71.0", b'"71.0 bpm"')
    outcome = anonymiser.process(value)

    assert isinstance(outcome, Rejected)
    assert "71" not in outcome.reason


def test_dead_letter_names_the_origin_and_keeps_the_payload() -> None:
    letter = dead_letter(
        "not JSON", topic="vitals.raw", partition=4, offset=1234, payload=b"{\xff"
    )

    assert letter.stage == "anonymiser"
    assert letter.origin == {"topic": "vitals.raw", "partition": 4, "offset": 1234}
    assert letter.payload == "{\\xff"
    assert letter.reason == "not JSON"
