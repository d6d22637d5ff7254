"""Bands that generalise nothing: one precision step wide, the value itself."""

from __future__ import annotations

import logging

import pytest

from schemas.bands import Band
from schemas.policy import FieldPolicy


@pytest.mark.parametrize(
    ("band", "value", "label"),
    [
        (Band.from_width(1), 72.0, "72-72"),
        (Band.from_width(0.1), 36.3, "36.3-36.3"),
        (Band.from_edges([92, 93, 96]), 92.0, "92-92"),
    ],
)
def test_a_one_step_band_is_flagged(band: Band, value: float, label: str) -> None:
    assert band.label(value) == label  # the exact value, in the clear
    assert band.names_single_values


@pytest.mark.parametrize(
    "band",
    [Band.from_width(20), Band.from_width(0.5), Band.from_edges([92, 94, 96])],
)
def test_a_coarser_band_is_not(band: Band) -> None:
    assert not band.names_single_values


def test_a_policy_with_one_step_bands_warns_naming_the_field(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="schemas.policy")
    FieldPolicy.from_toml(
        'version = 1\n[fields.heart_rate]\nactions = ["encrypt", "generalise"]\n'
        "band = { width = 1 }\n"
        '[fields.spo2]\nactions = ["generalise"]\nband = { width = 2 }\n'
    )

    warnings = [r.getMessage() for r in caplog.records if r.name == "schemas.policy"]
    assert len(warnings) == 1
    assert "'heart_rate'" in warnings[0]
