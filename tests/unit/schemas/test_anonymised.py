"""anonymise / unseal_reading, and the anonymised record's strict decoder."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.anonymised import (
    ANONYMISED_SCHEMA,
    AnonymisedReading,
    anonymise,
    unseal_reading,
)
from schemas.errors import PolicyError, RecordError, UnsealError
from schemas.keyring import Keyring
from schemas.policy import CANONICAL_METRICS, FieldPolicy
from schemas.pseudonym import pseudonym
from schemas.records import Reading, utc_iso
from tests.conftest import RECORDED_CHANNEL

KEYRING = Keyring.new()
TOKEN = re.compile(r"vs1\.[A-Za-z0-9_-]{1,32}\.[A-Za-z0-9_-]{48}")


def reading(**changes: Any) -> Reading:
    fields: dict[str, Any] = {
        "channel": 1448708,
        "entry_id": 57,
        "device": "ward3-bed2",
        "observed_at": "2021-07-19T19:07:36Z",
        "ingested_at": "2026-05-09T07:00:12Z",
        "metrics": {"heart_rate": 72.0, "spo2": None, "body_temp": 31.8125},
        "temperature_site": "skin",
    }
    fields.update(changes)
    return Reading(**fields)


def test_default_policy_record() -> None:
    raw = reading(metrics={"heart_rate": 72.0, "spo2": None, "room_humidity": 40.5})

    record = anonymise(raw, FieldPolicy.default(), KEYRING)

    assert record.subject == pseudonym(KEYRING, "device", "ward3-bed2")
    assert record.key == record.subject.encode()
    assert record.source == {
        "channel": pseudonym(KEYRING, "channel", "1448708"),
        "entry_id": 57,
    }
    assert record.observed_at == "2021-07-19T19:07:36Z"
    assert record.clear == {
        "ingested_at": "2026-05-09T07:00:12Z",
        "temperature_site": "skin",
    }
    assert record.bands == {}
    assert record.pseudonyms == {}
    assert record.sealed["spo2"] is None
    assert TOKEN.fullmatch(record.sealed["heart_rate"] or "")
    # A metric with no known name is sealed too, never passed in the clear.
    assert TOKEN.fullmatch(record.sealed["room_humidity"] or "")
    assert unseal_reading(record, KEYRING) == raw.metrics


def test_json_round_trip() -> None:
    record = anonymise(reading(), FieldPolicy.default(), KEYRING)

    again = AnonymisedReading.from_json(record.to_json())

    assert again == record
    assert orjson.loads(record.to_json())["schema"] == ANONYMISED_SCHEMA
    assert unseal_reading(again, KEYRING) == reading().metrics


def test_a_custom_policy_bands_keeps_drops_and_truncates() -> None:
    policy = FieldPolicy.from_toml(
        "version = 1\n"
        '[fields.heart_rate]\nactions = ["encrypt", "generalise"]\n'
        "band = { width = 20 }\n"
        '[fields.spo2]\nactions = ["generalise"]\nband = { edges = [92, 96] }\n'
        '[fields.body_temp]\nactions = ["drop"]\n'
        '[fields.battery]\nactions = ["keep", "generalise"]\n'
        "band = { width = 25 }\n"
        '[fields.channel]\nactions = ["keep"]\n'
        '[fields.observed_at]\nactions = ["generalise"]\ntruncate = "hour"\n'
        '[fields.ingested_at]\nactions = ["drop"]\n'
        '[fields.temperature_site]\nactions = ["pseudonymise"]\n'
    )
    raw = reading(
        metrics={"heart_rate": 72.0, "spo2": None, "body_temp": 36.6, "battery": 55.0}
    )

    record = anonymise(raw, policy, KEYRING)

    assert record.source["channel"] == 1448708
    assert record.observed_at == "2021-07-19T19:00:00Z"
    assert record.clear == {"battery": 55.0}
    assert record.bands == {"heart_rate": "60-79", "spo2": None, "battery": "50-74"}
    assert set(record.sealed) == {"heart_rate"}
    assert record.pseudonyms["temperature_site"].startswith("psd_")
    assert unseal_reading(record, KEYRING) == {"heart_rate": 72.0}


def test_dropped_channel_and_time() -> None:
    policy = FieldPolicy.from_toml(
        'version = 1\n[fields.channel]\nactions = ["drop"]\n'
        '[fields.observed_at]\nactions = ["drop"]\n'
    )

    record = anonymise(reading(), policy, KEYRING)

    assert record.source == {"channel": None, "entry_id": 57}
    assert record.observed_at is None
    assert AnonymisedReading.from_json(record.to_json()) == record
    assert unseal_reading(record, KEYRING)["heart_rate"] == 72.0


def test_a_metric_named_like_an_attribute_is_sealed_not_confused() -> None:
    raw = reading(metrics={"ingested_at": 1.5, "temperature_site": 2.5})

    record = anonymise(raw, FieldPolicy.default(), KEYRING)

    assert record.clear["ingested_at"] == raw.ingested_at
    assert record.clear["temperature_site"] == "skin"
    assert unseal_reading(record, KEYRING) == raw.metrics


@pytest.mark.parametrize("value", [math.nan, math.inf])
def test_a_value_that_cannot_be_sealed_is_a_policy_error(value: float) -> None:
    with pytest.raises(PolicyError) as raised:
        anonymise(reading(metrics={"spo2": value}), FieldPolicy.default(), KEYRING)

    assert raised.value.field == "spo2"


def test_a_time_that_cannot_be_generalised_is_a_policy_error() -> None:
    policy = FieldPolicy.from_toml(
        'version = 1\n[fields.observed_at]\nactions = ["generalise"]\n'
        'truncate = "hour"\n'
    )

    with pytest.raises(PolicyError) as raised:
        anonymise(reading(observed_at="yesterday"), policy, KEYRING)

    assert raised.value.field == "observed_at"


def test_a_sealed_value_moved_to_another_record_or_field_fails() -> None:
    policy = FieldPolicy.default()
    first = anonymise(reading(), policy, KEYRING)
    later = anonymise(
        reading(entry_id=58, observed_at="2021-07-19T19:07:52Z"), policy, KEYRING
    )
    other = anonymise(reading(device="ward3-bed3"), policy, KEYRING)
    token = first.sealed["heart_rate"]

    for target, field in (
        (later, "heart_rate"),
        (other, "heart_rate"),
        (first, "body_temp"),
    ):
        target.sealed[field] = token
        with pytest.raises(UnsealError):
            unseal_reading(target, KEYRING)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"schema": "vitalstream.raw/1"}, "schema"),
        ({"subject": ""}, "subject"),
        ({"subject": 7}, "subject"),
        ({"source": {"channel": "c"}}, "source"),
        ({"source": {"channel": True, "entry_id": 1}}, "source.channel"),
        ({"source": {"channel": 1.5, "entry_id": 1}}, "source.channel"),
        ({"source": {"channel": "c", "entry_id": "1"}}, "source.entry_id"),
        ({"source": {"channel": "c", "entry_id": False}}, "source.entry_id"),
        ({"observed_at": "soon"}, "observed_at"),
        ({"observed_at": 1626721656}, "observed_at"),
        ({"sealed": {"heart_rate": 72.0}}, "sealed.heart_rate"),
        ({"sealed": []}, "sealed"),
        ({"bands": {"heart_rate": 60}}, "bands.heart_rate"),
        ({"pseudonyms": {"temperature_site": None}}, "pseudonyms.temperature_site"),
        ({"clear": None}, "clear"),
        ({"device": "ward3-bed2"}, "device"),
    ],
)
def test_from_json_refuses_deviations_naming_the_field(
    change: dict[str, Any], message: str
) -> None:
    doc = orjson.loads(anonymise(reading(), FieldPolicy.default(), KEYRING).to_json())
    doc.update(change)

    with pytest.raises(RecordError) as raised:
        AnonymisedReading.from_json(orjson.dumps(doc))

    assert str(raised.value).startswith(message)


@pytest.mark.parametrize("name", ["subject", "source", "observed_at", "sealed"])
def test_from_json_refuses_missing_fields(name: str) -> None:
    doc = orjson.loads(anonymise(reading(), FieldPolicy.default(), KEYRING).to_json())
    del doc[name]

    with pytest.raises(RecordError, match=name):
        AnonymisedReading.from_json(orjson.dumps(doc))


def test_from_json_refuses_what_is_not_an_object() -> None:
    for data in (b"", b"[]", b"nope"):
        with pytest.raises(RecordError):
            AnonymisedReading.from_json(data)


# -- properties over random readings -------------------------------------

metric_names = st.sampled_from(CANONICAL_METRICS) | st.from_regex(
    r"[a-z][a-z0-9_]{2,20}", fullmatch=True
)
values = st.none() | st.floats(allow_nan=False, allow_infinity=False)
# Whole seconds: a time such as 19:07:36.500Z would itself contain "36.5".
times = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)
).map(lambda moment: utc_iso(moment.replace(microsecond=0, tzinfo=UTC)))
readings = st.builds(
    Reading,
    channel=st.integers(min_value=100_000, max_value=10**9),
    entry_id=st.integers(min_value=1, max_value=10**9),
    device=st.from_regex(r"dev:[A-Za-z0-9 ._-]{6,30}", fullmatch=True),
    observed_at=times,
    ingested_at=times,
    metrics=st.dictionaries(metric_names, values, max_size=8),
    temperature_site=st.sampled_from(["core", "oral", "tympanic", "axillary", "skin"]),
)


@given(raw=readings)
def test_unseal_reading_gives_back_every_value(raw: Reading) -> None:
    record = anonymise(raw, FieldPolicy.default(), KEYRING)
    decoded = AnonymisedReading.from_json(record.to_json())

    opened = unseal_reading(decoded, KEYRING)

    assert opened == raw.metrics
    for name, value in raw.metrics.items():
        assert (decoded.sealed[name] is None) == (value is None)
        got = opened[name]
        if value is not None and got is not None:
            assert math.copysign(1, got) == math.copysign(1, value)


def _clear_values(doc: Any, path: str = "") -> list[tuple[str, Any]]:
    # Every leaf of the record except the sealed tokens themselves.
    if isinstance(doc, dict):
        return [
            leaf
            for key, item in doc.items()
            for leaf in _clear_values(item, f"{path}.{key}")
        ]
    if isinstance(doc, str) and TOKEN.fullmatch(doc):
        return []
    return [(path, doc)]


@settings(max_examples=200)
@given(raw=readings)
def test_the_record_shows_no_sealed_value_device_or_channel(raw: Reading) -> None:
    data = anonymise(raw, FieldPolicy.default(), KEYRING).to_json()
    leaves = _clear_values(orjson.loads(data))
    sealed = [v for v in raw.metrics.values() if v is not None]

    assert raw.device.encode() not in data
    for path, leaf in leaves:
        if isinstance(leaf, str):
            for value in sealed:
                assert repr(value) not in leaf
                assert orjson.dumps(value).decode() not in leaf
            assert str(raw.channel) not in leaf
        elif path != ".source.entry_id":
            assert leaf not in (*sealed, raw.channel) or leaf is None


def test_the_recorded_channel_round_trips() -> None:
    feed = orjson.loads((RECORDED_CHANNEL / "feeds.json").read_bytes())
    names = {"field1": "heart_rate", "field2": "spo2", "field3": "body_temp"}
    policy = FieldPolicy.default()
    raws = [
        Reading(
            channel=feed["channel"]["id"],
            entry_id=entry["entry_id"],
            device="ward3-bed2",
            observed_at=entry["created_at"],
            ingested_at="2026-05-09T07:00:00Z",
            metrics={
                metric: None if entry.get(field) is None else float(entry[field])
                for field, metric in names.items()
            },
        )
        for entry in feed["feeds"]
    ]

    records = [anonymise(raw, policy, KEYRING).to_json() for raw in raws]

    assert len(records) == 100
    for raw, data in zip(raws, records, strict=True):
        assert b"ward3-bed2" not in data
        assert b"1448708" not in data
        record = AnonymisedReading.from_json(data)
        assert unseal_reading(record, KEYRING) == raw.metrics
    assert {AnonymisedReading.from_json(d).subject for d in records} == {
        pseudonym(KEYRING, "device", "ward3-bed2")
    }
