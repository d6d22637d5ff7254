"""Record decoders and the stages' record handling on hostile input.

Decoders refuse anything but the documented shape with :class:`RecordError`
(RECORDS.md); the anonymiser turns every raw value into an anonymised
record or a reason for a dead letter; the alerting side opens a record or
says why not with :class:`UnopenableRecordError`.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import orjson
from hypothesis import given
from hypothesis import strategies as st

from schemas.anonymised import AnonymisedReading, anonymise
from schemas.errors import RecordError
from schemas.keyring import Keyring
from schemas.policy import FieldPolicy
from schemas.records import DeadLetter, Reading
from streams.alerting.errors import UnopenableRecordError
from streams.alerting.opening import open_record
from streams.anonymiser.keys import KeyringSource
from streams.anonymiser.process import Anonymised, ReadingAnonymiser, Rejected
from tests.property.support import (
    EDITS,
    HOSTILE_FLOATS,
    HOSTILE_INTS,
    HOSTILE_TEXT,
    deeply_nested,
    examples,
    json_values,
    mutate,
    outcome,
    tried,
)

_KEYS_DIR = Path(tempfile.mkdtemp(prefix="vitalstream-property-"))
KEYRING = Keyring.generate(_KEYS_DIR / "keyring.json")
ANONYMISER = ReadingAnonymiser(
    FieldPolicy.default(), KeyringSource(_KEYS_DIR / "keyring.json")
)

READING = Reading(
    channel=1448708,
    entry_id=57,
    device="care-home-3/wearable-17",
    observed_at="2021-07-19T19:07:36Z",
    ingested_at="2026-05-09T07:00:00Z",
    metrics={"heart_rate": 72.0, "spo2": None, "body_temp": 31.8125},
)
RAW_JSON = READING.to_json()
ANONYMISED_JSON = anonymise(READING, FieldPolicy.default(), KEYRING).to_json()
DEAD_JSON = DeadLetter(
    "anonymiser", "metrics.spo2: not finite", {"topic": "t", "offset": 1}, "x"
).to_json()
SAMPLES = {"raw": RAW_JSON, "anonymised": ANONYMISED_JSON, "deadletter": DEAD_JSON}

ANY_VALUE = st.one_of(json_values(6), HOSTILE_TEXT, HOSTILE_FLOATS, HOSTILE_INTS)


def decode_all(data: bytes | str) -> None:
    """Every decoder and stage on one value: only the documented outcomes."""
    for decoder in (
        Reading.from_json,
        AnonymisedReading.from_json,
        DeadLetter.from_json,
    ):
        decoded = outcome(lambda: decoder(data), RecordError)  # noqa: B023
        if isinstance(decoded, RecordError):
            assert str(decoded)
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    processed = ANONYMISER.process(raw)
    assert isinstance(processed, Anonymised | Rejected)
    if isinstance(processed, Rejected):
        assert processed.reason
    else:
        AnonymisedReading.from_json(processed.value)
    opened = outcome(lambda: open_record(raw, KEYRING), UnopenableRecordError)
    if isinstance(opened, UnopenableRecordError):
        assert opened.reason


def with_field(sample: bytes, name: str, value: Any) -> bytes:
    doc = orjson.loads(sample)
    doc[name] = value
    return orjson.dumps(doc, option=orjson.OPT_SERIALIZE_NUMPY)


@examples(3)
@given(st.binary(max_size=400))
def test_random_bytes(data: bytes) -> None:
    tried("records: random bytes (non-UTF-8 included)")
    decode_all(data)


@examples(1.5)
@given(st.sampled_from(sorted(SAMPLES)), EDITS)
def test_mutated_records(kind: str, edits: list[tuple[int, int, int]]) -> None:
    tried("records: mutated valid records")
    decode_all(mutate(SAMPLES[kind], edits))


def _field_names(kind: str) -> list[str]:
    return sorted(orjson.loads(SAMPLES[kind]))


@examples(0.4)
@given(st.data())
def test_wrong_types_in_every_field(data: st.DataObject) -> None:
    tried("records: wrong types in every field")
    kind = data.draw(st.sampled_from(sorted(SAMPLES)))
    doc = orjson.loads(SAMPLES[kind])
    for name in data.draw(st.sets(st.sampled_from(_field_names(kind)), min_size=1)):
        value = data.draw(ANY_VALUE)
        if value is ...:
            del doc[name]
        else:
            doc[name] = value
    try:
        text = orjson.dumps(doc)
    except TypeError:
        return  # an integer beyond 64 bits: no JSON encoder writes it
    decode_all(text)


@examples(0.3)
@given(json_values())
def test_any_json_document(doc: Any) -> None:
    tried("records: any JSON document")
    try:
        text = orjson.dumps(doc)
    except TypeError:
        return
    decode_all(text)


def test_deeply_nested_and_oversized_records() -> None:
    for depth in (10, 1_000, 100_000):
        tried("records: deeply nested and oversized")
        decode_all(deeply_nested(depth))
        decode_all(with_field(RAW_JSON, "metrics", orjson.loads(deeply_nested(200))))
    tried("records: deeply nested and oversized")
    decode_all(with_field(RAW_JSON, "device", "x" * 5_000_000))
    tried("records: deeply nested and oversized")
    decode_all(with_field(RAW_JSON, "metrics", {f"m{n}": n for n in range(50_000)}))
