"""NEWS2 sub-scores at every band edge of CLINICAL.md, and the clinical risk."""

from __future__ import annotations

import math

import pytest

from streams.alerting.news2 import (
    DEFAULT_TABLES,
    NEWS2_PARAMETERS,
    ScoreTable,
    aggregate,
    clinical_risk,
)

# (metric, value, sub-score): both sides of every edge in CLINICAL.md.
EDGES = [
    ("heart_rate", 30, 3),
    ("heart_rate", 40, 3),
    ("heart_rate", 41, 1),
    ("heart_rate", 50, 1),
    ("heart_rate", 51, 0),
    ("heart_rate", 90, 0),
    ("heart_rate", 91, 1),
    ("heart_rate", 110, 1),
    ("heart_rate", 111, 2),
    ("heart_rate", 130, 2),
    ("heart_rate", 131, 3),
    ("heart_rate", 200, 3),
    ("spo2", 85, 3),
    ("spo2", 91, 3),
    ("spo2", 92, 2),
    ("spo2", 93, 2),
    ("spo2", 94, 1),
    ("spo2", 95, 1),
    ("spo2", 96, 0),
    ("spo2", 100, 0),
    ("body_temp", 34.0, 3),
    ("body_temp", 35.0, 3),
    ("body_temp", 35.1, 1),
    ("body_temp", 36.0, 1),
    ("body_temp", 36.1, 0),
    ("body_temp", 38.0, 0),
    ("body_temp", 38.1, 1),
    ("body_temp", 39.0, 1),
    ("body_temp", 39.1, 2),
    ("body_temp", 41.0, 2),
    ("respiration_rate", 8, 3),
    ("respiration_rate", 9, 1),
    ("respiration_rate", 11, 1),
    ("respiration_rate", 12, 0),
    ("respiration_rate", 20, 0),
    ("respiration_rate", 21, 2),
    ("respiration_rate", 24, 2),
    ("respiration_rate", 25, 3),
    ("systolic_bp", 90, 3),
    ("systolic_bp", 91, 2),
    ("systolic_bp", 100, 2),
    ("systolic_bp", 101, 1),
    ("systolic_bp", 110, 1),
    ("systolic_bp", 111, 0),
    ("systolic_bp", 219, 0),
    ("systolic_bp", 220, 3),
]


@pytest.mark.parametrize(("metric", "value", "expected"), EDGES)
def test_sub_score_at_band_edges(metric: str, value: float, expected: int) -> None:
    assert DEFAULT_TABLES[metric].score(value) == expected


def test_value_between_integer_bands_takes_the_upper_band() -> None:
    # "<= 40" scores 3, "41-50" scores 1: 40.5 is above 40.
    assert DEFAULT_TABLES["heart_rate"].score(40.5) == 1
    assert DEFAULT_TABLES["spo2"].score(91.5) == 2


@pytest.mark.parametrize(
    ("sub_scores", "risk"),
    [
        ({}, "none"),
        ({"heart_rate": 0, "spo2": 0}, "none"),
        ({"heart_rate": 1}, "low"),
        ({"heart_rate": 2, "spo2": 2}, "low"),
        ({"spo2": 3}, "low_medium"),
        ({"spo2": 3, "heart_rate": 1}, "low_medium"),
        ({"spo2": 3, "heart_rate": 2}, "medium"),
        ({"spo2": 2, "heart_rate": 2, "body_temp": 2}, "medium"),
        ({"spo2": 3, "heart_rate": 3}, "medium"),
        ({"spo2": 3, "heart_rate": 3, "body_temp": 1}, "high"),
        ({"spo2": 3, "heart_rate": 3, "body_temp": 2}, "high"),
    ],
)
def test_clinical_risk(sub_scores: dict[str, int], risk: str) -> None:
    assert clinical_risk(sub_scores) == risk


def test_aggregate_over_a_subset_says_it_is_partial() -> None:
    news = aggregate({"heart_rate": 1, "spo2": 2})
    assert news.total == 3
    assert news.partial
    assert "body_temp" in news.missing
    assert "heart_rate" not in news.missing


def test_aggregate_over_every_parameter_is_not_partial() -> None:
    news = aggregate(dict.fromkeys(NEWS2_PARAMETERS, 0))
    assert not news.partial
    assert news.risk == "none"


@pytest.mark.parametrize(
    "bands",
    [
        (),
        ((10.0, 1), (5.0, 0), (math.inf, 2)),
        ((10.0, 1), (20.0, 0)),
        ((10.0, 4), (math.inf, 0)),
    ],
)
def test_bad_score_table_is_refused(bands: tuple[tuple[float, int], ...]) -> None:
    with pytest.raises(ValueError, match=r"band|score"):
        ScoreTable(bands)
