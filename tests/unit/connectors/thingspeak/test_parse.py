"""Feed entries into readings and dead letters, on recorded and crafted input."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from connectors.errors import ChannelResponseError
from connectors.thingspeak.fields import FieldMap
from connectors.thingspeak.parse import (
    FeedEntry,
    parse_feed,
    parse_time,
    parse_value,
    read_csv_feed,
    to_reading,
)
from schemas.records import DeadLetter, Reading
from tests.conftest import RECORDED_CHANNEL
from vitalstream.config import ChannelSettings

CHANNEL = ChannelSettings(id=1448708, device="wrist-07", temperature_site="skin")
FIELDS = FieldMap({"field1": "heart_rate", "field2": "spo2", "field3": "body_temp"})


def entry(**raw: Any) -> FeedEntry:
    doc = {"created_at": "2021-07-19T19:07:36Z", "entry_id": 50, **raw}
    page = parse_feed({"feeds": [doc]}, CHANNEL.id)
    return page.entries[0]


@pytest.mark.parametrize(
    "text",
    [
        "2021-07-19T19:07:36Z",
        "2021-07-19T19:07:36+00:00",
        "2021-07-19 19:07:36 UTC",
        "2021-07-19T21:07:36+02:00",
        "2021-07-19 19:07:36+0000",
    ],
)
def test_every_time_form_is_the_same_instant(text: str) -> None:
    assert parse_time(text) == datetime(2021, 7, 19, 19, 7, 36, tzinfo=UTC)


@pytest.mark.parametrize("text", ["2021-07-19 19:07:36", "yesterday", ""])
def test_a_time_without_zone_or_no_time_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match=repr(text)):
        parse_time(text)


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("31.81250", 31.8125),
        (" 72 ", 72.0),
        ("-127", -127.0),
        ("0", 0.0),
        ("0.00000", 0.0),
        (".5", 0.5),
        ("1e2", 100.0),
        (98, 98.0),
        (36.6, 36.6),
        ("", None),
        ("   ", None),
        (None, None),
    ],
)
def test_values(raw: object, value: float | None) -> None:
    assert parse_value(raw) == value


@pytest.mark.parametrize(
    "raw",
    [
        "nan",
        "NaN",
        "inf",
        "-Infinity",
        "TC/22.98",
        "1_000",
        "0x10",
        "72bpm",
        "\u0667\u0662",  # Arabic-Indic 72
        "\uff17\uff12",  # full-width 72
        "\u0967\u0966\u0966",  # Devanagari 100
        "36.\u0665",  # ASCII with an Arabic-Indic decimal
        "1e\u0663",
        True,
        float("nan"),
        float("inf"),
        [72],
        {"v": 1},
    ],
)
def test_non_numbers_are_refused(raw: object) -> None:
    with pytest.raises(ValueError, match="not a"):
        parse_value(raw)


def test_entry_becomes_a_reading_with_every_metric() -> None:
    reading = to_reading(
        entry(field1=None, field2="", field3="31.81250"),
        FIELDS,
        CHANNEL,
        ingested_at="2026-01-01T00:00:00Z",
    )
    assert reading == Reading(
        channel=1448708,
        entry_id=50,
        device="wrist-07",
        observed_at="2021-07-19T19:07:36Z",
        ingested_at="2026-01-01T00:00:00Z",
        metrics={"heart_rate": None, "spo2": None, "body_temp": 31.8125},
        temperature_site="skin",
    )


def test_sensor_fault_values_are_kept() -> None:
    reading = to_reading(
        entry(field1="0", field2="0.00000", field3="-127.00000"), FIELDS, CHANNEL
    )
    assert isinstance(reading, Reading)
    assert reading.metrics == {"heart_rate": 0.0, "spo2": 0.0, "body_temp": -127.0}


def test_offset_time_is_written_in_utc_with_z() -> None:
    reading = to_reading(
        entry(created_at="2025-12-17T16:44:01+01:00", field1="70"), FIELDS, CHANNEL
    )
    assert isinstance(reading, Reading)
    assert reading.observed_at == "2025-12-17T15:44:01Z"


@pytest.mark.parametrize("bad", ["nan", "TC/22.98", "inf"])
def test_non_number_makes_the_entry_a_dead_letter(bad: str) -> None:
    letter = to_reading(entry(field1="72", field3=bad), FIELDS, CHANNEL)
    assert isinstance(letter, DeadLetter)
    assert letter.stage == "connector"
    assert letter.origin == {
        "channel": 1448708,
        "entry_id": 50,
        "field": "field3",
        "raw_value": bad,
    }
    assert "field3" in letter.reason
    assert letter.payload is not None
    assert orjson.loads(letter.payload)["field3"] == bad


def test_dead_letter_names_the_first_bad_field_and_lists_all() -> None:
    letter = to_reading(entry(field1="x", field2="y"), FIELDS, CHANNEL)
    assert isinstance(letter, DeadLetter)
    assert letter.origin["field"] == "field1"
    assert "field1" in letter.reason
    assert "field2" in letter.reason


def test_entry_with_a_bad_time_is_a_dead_letter() -> None:
    letter = to_reading(entry(created_at="19:07", field1="72"), FIELDS, CHANNEL)
    assert isinstance(letter, DeadLetter)
    assert letter.origin["field"] == "created_at"
    assert letter.origin["raw_value"] == "19:07"


def test_unmapped_field_is_kept_under_its_number() -> None:
    reading = to_reading(entry(field1="70", field6="3.5"), FIELDS, CHANNEL)
    assert isinstance(reading, Reading)
    assert reading.metrics["field6"] == 3.5


@pytest.mark.parametrize(
    ("doc", "complaint"),
    [
        ([], "expected a JSON object"),
        (-1, "expected a JSON object"),
        ({"channel": {}}, "'feeds' should be a list"),
        ({"feeds": {"entry_id": 1}}, "'feeds' should be a list"),
        ({"feeds": ["x"]}, r"feeds\[0\] should be an object"),
        ({"feeds": [{"entry_id": "5"}]}, r"feeds\[0\] has no positive integer"),
        ({"feeds": [{"entry_id": True}]}, "no positive integer"),
        ({"channel": [], "feeds": []}, "'channel' should be an object"),
    ],
)
def test_wrong_shape_is_an_error_naming_the_problem(
    doc: object, complaint: str
) -> None:
    with pytest.raises(ChannelResponseError, match=complaint) as caught:
        parse_feed(doc, 5)
    assert "channel 5" in str(caught.value)


def test_recorded_json_and_csv_agree_entry_by_entry() -> None:
    page = parse_feed(
        orjson.loads((RECORDED_CHANNEL / "feeds.json").read_bytes()), 1448708
    )
    export = read_csv_feed((RECORDED_CHANNEL / "feeds.csv").read_text(), 1448708)
    assert page.channel is not None
    fields = FieldMap.resolve(1448708, page.channel.field_names)
    assert fields == FIELDS
    assert [e.entry_id for e in export.entries] == list(range(1, 150))
    assert [e.entry_id for e in page.entries] == list(range(50, 150))

    from_csv = {
        e.entry_id: to_reading(e, fields, CHANNEL, ingested_at="x")
        for e in export.entries
    }
    for json_entry in page.entries:
        reading = to_reading(json_entry, fields, CHANNEL, ingested_at="x")
        assert reading == from_csv[json_entry.entry_id]


def test_recorded_csv_first_and_last_rows() -> None:
    export = read_csv_feed((RECORDED_CHANNEL / "feeds.csv").read_text(), 1448708)
    first = to_reading(export.entries[0], FIELDS, CHANNEL)
    last = to_reading(export.entries[-1], FIELDS, CHANNEL)
    assert isinstance(first, Reading)
    assert isinstance(last, Reading)
    assert first.observed_at == "2021-07-19T18:53:53Z"
    assert first.metrics == {"heart_rate": 0.0, "spo2": None, "body_temp": None}
    assert last.observed_at == "2021-07-19T19:41:04Z"
    assert last.metrics == {"heart_rate": None, "spo2": 0.0, "body_temp": None}


def test_csv_without_entry_ids_is_refused() -> None:
    with pytest.raises(ChannelResponseError, match="entry_id"):
        read_csv_feed("created_at,field1\n2021-07-19 18:53:53 UTC,1\n", 3)
    with pytest.raises(ChannelResponseError, match="line 3"):
        read_csv_feed(
            "created_at,entry_id,field1\n2021-07-19 18:53:53 UTC,1,1\nx,two,3\n", 3
        )


READ_AT = datetime(2021, 7, 19, 19, 0, tzinfo=UTC)


@pytest.mark.parametrize("created_at", ["2099-01-01T00:00:00Z", "2021-07-19T19:05:01Z"])
def test_an_entry_dated_beyond_the_tolerance_is_a_dead_letter(created_at: str) -> None:
    ahead_s = (parse_time(created_at) - READ_AT).total_seconds()
    letter = to_reading(
        entry(created_at=created_at, field1="72"),
        FIELDS,
        CHANNEL,
        read_at=READ_AT,
        future_tolerance_s=300,
    )
    assert isinstance(letter, DeadLetter)
    assert letter.origin["field"] == "created_at"
    assert letter.origin["raw_value"] == created_at
    assert f"{ahead_s:,.0f} s ahead of the connector's clock" in letter.reason
    assert "connector.future_tolerance_s allows 300" in letter.reason


@pytest.mark.parametrize("ahead_s", [0, 299, 300])
def test_an_entry_dated_within_the_tolerance_is_a_reading(ahead_s: int) -> None:
    created = READ_AT.timestamp() + ahead_s
    text = datetime.fromtimestamp(created, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    reading = to_reading(
        entry(created_at=text, field1="72"),
        FIELDS,
        CHANNEL,
        read_at=READ_AT,
        future_tolerance_s=300,
    )
    assert isinstance(reading, Reading)
    assert reading.observed_at == text


@pytest.mark.parametrize("entry_id", ["\u0665", "\uff15", "1_000", "5.0"])
def test_a_csv_entry_id_in_other_digits_is_refused(entry_id: str) -> None:
    text = f"created_at,entry_id,field1\n2021-07-19 18:53:53 UTC,{entry_id},72\n"
    with pytest.raises(ChannelResponseError, match="is no integer"):
        read_csv_feed(text, CHANNEL.id)


def test_a_value_in_other_digits_is_a_dead_letter_saying_so() -> None:
    letter = to_reading(entry(field1="\u0667\u0662"), FIELDS, CHANNEL)
    assert isinstance(letter, DeadLetter)
    assert letter.origin["raw_value"] == "\u0667\u0662"
    assert "field1: '\u0667\u0662' is not a number" in letter.reason
