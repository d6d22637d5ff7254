"""Canonical metric names and alias matching."""

from __future__ import annotations

import pytest

from schemas.metrics import (
    DEFAULT_ALIASES,
    METRICS,
    AliasTable,
    canonical_metric,
    metric_name,
)


@pytest.mark.parametrize(
    ("name", "metric"),
    [
        ("HeartRate", "heart_rate"),
        ("BPM", "heart_rate"),
        ("heartRate", "heart_rate"),
        ("Heart Rate", "heart_rate"),
        ("heart_rate", "heart_rate"),
        ("pulse", "heart_rate"),
        ("Blood Oxygen", "spo2"),
        ("SP02", "spo2"),
        ("SpO2", "spo2"),
        ("spo2", "spo2"),
        ("Oxygen", "spo2"),
        ("Body Temperature", "body_temp"),
        ("Body_temp", "body_temp"),
        ("Temperature", "body_temp"),
        ("temp", "body_temp"),
        ("  body  TEMPERATURE ", "body_temp"),
        ("Respiration Rate", "respiration_rate"),
        ("Systolic", "systolic_bp"),
        ("Diastolic BP", "diastolic_bp"),
        ("Steps", "steps"),
    ],
)
def test_default_aliases_match_whatever_the_spelling(name: str, metric: str) -> None:
    assert canonical_metric(name) == metric


def test_every_alias_points_at_a_canonical_metric() -> None:
    assert set(DEFAULT_ALIASES.values()) <= set(METRICS)


def test_unknown_name_is_kept_in_lower_snake_case() -> None:
    assert canonical_metric("Room Humidity") == "room_humidity"
    assert canonical_metric("AmbientLight") == "ambient_light"
    assert canonical_metric("Température peau") == "temperature_peau"


def test_configured_alias_wins_and_is_normalised_too() -> None:
    table = AliasTable({"Temperature": "ambient_temp", "Puls": "heart_rate"})
    assert table.canonical("temperature") == "ambient_temp"
    assert table.canonical("PULS") == "heart_rate"
    assert table.canonical("BPM") == "heart_rate"


def test_configured_alias_to_a_bad_metric_name_is_refused() -> None:
    with pytest.raises(ValueError, match="lower_snake_case"):
        AliasTable({"Pulse": "Heart Rate"})


@pytest.mark.parametrize("name", ["", "  ", "2nd sensor", "!!!"])
def test_metric_name_refuses_what_gives_no_name(name: str) -> None:
    with pytest.raises(ValueError, match="no usable metric name"):
        metric_name(name)


def test_metric_name_is_at_most_64_characters() -> None:
    assert len(metric_name("x" * 200)) == 64
