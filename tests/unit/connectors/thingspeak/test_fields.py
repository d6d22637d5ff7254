"""Which metric each channel field carries."""

from __future__ import annotations

import pytest

from connectors.thingspeak.fields import FieldMap
from schemas.metrics import AliasTable


def test_channel_names_go_through_the_aliases() -> None:
    fields = FieldMap.resolve(
        1448708,
        {"field1": "HeartRate", "field2": "Blood Oxygen", "field3": "Body Temperature"},
    )
    assert fields.as_dict() == {
        "field1": "heart_rate",
        "field2": "spo2",
        "field3": "body_temp",
    }


def test_explicit_mapping_overrides_a_mislabelled_channel() -> None:
    # The channel calls field1 "Temperature" but it carries SpO2.
    fields = FieldMap.resolve(
        7,
        {"field1": "Temperature", "field2": "BPM"},
        overrides={"field1": "spo2"},
    )
    assert fields.metric("field1") == "spo2"
    assert fields.metric("field2") == "heart_rate"


def test_unknown_name_is_kept_under_its_own_name() -> None:
    fields = FieldMap.resolve(7, {"field4": "Room Humidity"})
    assert fields.metric("field4") == "room_humidity"


def test_unnamed_field_seen_in_entries_is_kept_as_its_number() -> None:
    fields = FieldMap.resolve(7, {"field1": "BPM"}, present=["field5"])
    assert fields.metric("field5") == "field5"
    assert fields.metric("field7") == "field7"


def test_unusable_name_falls_back_to_the_field_number() -> None:
    fields = FieldMap.resolve(7, {"field2": "2nd sensor"})
    assert fields.metric("field2") == "field2"


def test_two_fields_with_one_metric_both_survive(
    caplog: pytest.LogCaptureFixture,
) -> None:
    fields = FieldMap.resolve(7, {"field1": "HeartRate", "field2": "BPM"})
    assert fields.metric("field1") == "heart_rate"
    assert fields.metric("field2") == "bpm"
    assert "already taken by field1" in caplog.text


def test_override_claims_its_metric_before_names() -> None:
    fields = FieldMap.resolve(
        7, {"field1": "HeartRate", "field2": "x"}, overrides={"field2": "heart_rate"}
    )
    assert fields.metric("field2") == "heart_rate"
    assert fields.metric("field1") == "heart_rate_field1"


def test_configured_aliases_are_used() -> None:
    fields = FieldMap.resolve(
        7, {"field1": "Puls"}, aliases=AliasTable({"Puls": "heart_rate"})
    )
    assert fields.metric("field1") == "heart_rate"
