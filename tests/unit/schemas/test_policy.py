"""The field policy: its file format, what it refuses, bands and times."""

from __future__ import annotations

from pathlib import Path

import pytest

from schemas.bands import Band, truncate_time
from schemas.errors import PolicyError
from schemas.policy import (
    CANONICAL_METRICS,
    FieldPolicy,
    known_fields,
)
from vitalstream.config import ChannelSettings, Settings

EXAMPLE = Path(__file__).resolve().parents[3] / "policy.example.toml"


def policy_of(fields: str) -> FieldPolicy:
    return FieldPolicy.from_toml("version = 1\n" + fields)


def test_default_pseudonymises_identity_seals_metrics_keeps_times() -> None:
    policy = FieldPolicy.default()

    assert policy.attributes.channel == "pseudonymise"
    assert policy.attributes.observed_at == "keep"
    assert policy.attribute_action("device") == "pseudonymise"
    assert policy.attribute_action("entry_id") == "keep"
    assert policy.attribute_action("temperature_site") == "keep"
    for metric in (*CANONICAL_METRICS, "room_humidity", "field7"):
        plan = policy.metric_plan(metric)
        assert (plan.seal, plan.keep, plan.band) == (True, False, None)


def test_a_file_that_names_no_metric_still_seals_them_all() -> None:
    policy = policy_of('[fields.channel]\nactions = ["keep"]\n')

    assert policy.attributes.channel == "keep"
    assert policy.metric_plan("heart_rate").seal
    assert policy.attribute_action("device") == "pseudonymise"


def test_a_metric_can_carry_a_band_and_its_sealed_value() -> None:
    policy = policy_of(
        "[fields.heart_rate]\n"
        'actions = ["encrypt", "generalise"]\n'
        "band = { width = 20, origin = 0 }\n"
    )

    plan = policy.metric_plan("heart_rate")
    assert plan.seal
    assert plan.band is not None
    assert plan.band.label(72.0) == "60-79"


@pytest.mark.parametrize(
    ("fields", "field", "found"),
    [
        ('[fields.heart_rate]\nactions = ["scramble"]', "heart_rate", "scramble"),
        ('[fields.heart_rate]\nactions = ["keep", "drop"]', "heart_rate", "keep+drop"),
        (
            '[fields.heart_rate]\nactions = ["keep", "encrypt"]',
            "heart_rate",
            "encrypt+keep",
        ),
        (
            '[fields.heart_rate]\nactions = ["pseudonymise"]',
            "heart_rate",
            "pseudonymise",
        ),
        ('[fields.device]\nactions = ["keep"]', "device", "keep"),
        ('[fields.device]\nactions = ["drop"]', "device", "drop"),
        ('[fields.entry_id]\nactions = ["drop"]', "entry_id", "drop"),
        ('[fields.observed_at]\nactions = ["encrypt"]', "observed_at", "encrypt"),
        ('[fields.spo2]\nactions = ["generalise"]', "spo2", "without a band"),
        (
            '[fields.spo2]\nactions = ["encrypt"]\nband = { width = 5 }',
            "spo2",
            "band without generalise",
        ),
        (
            '[fields.spo2]\nactions = ["generalise"]\nband = { width = -5 }',
            "spo2",
            "width must be above 0",
        ),
        (
            '[fields.spo2]\nactions = ["generalise"]\nband = { edges = [90, 80] }',
            "spo2",
            "rise strictly",
        ),
        (
            '[fields.spo2]\nactions = ["generalise"]\nband = { edges = [] }',
            "spo2",
            "at least one",
        ),
        (
            '[fields.spo2]\nactions = ["generalise"]\nband = { step = 5 }',
            "spo2",
            "step",
        ),
        (
            '[fields.observed_at]\nactions = ["generalise"]\ntruncate = "week"',
            "observed_at",
            "week",
        ),
        ('[fields.observed_at]\nactions = ["generalise"]', "observed_at", "None"),
        ('[fields.spo2]\nactions = ["encrypt"]\ncolour = "red"', "spo2", "colour"),
        ("[fields.spo2]\nactions = []", "spo2", "[]"),
        ('[fields]\nspo2 = "encrypt"', "spo2", "str"),
    ],
)
def test_bad_rules_are_refused_naming_field_and_problem(
    fields: str, field: str, found: str
) -> None:
    with pytest.raises(PolicyError) as raised:
        policy_of(fields)

    assert raised.value.field == field
    assert found in raised.value.found
    assert raised.value.allowed


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("version = 2\n", "version"),
        ("", "version"),
        ("version = 1\ncolour = 1\n", "colour"),
        ("version = 1\n[fields\n", "(file)"),
    ],
)
def test_bad_files_are_refused(text: str, field: str) -> None:
    with pytest.raises(PolicyError) as raised:
        FieldPolicy.from_toml(text)

    assert raised.value.field == field


def test_validate_refuses_a_field_no_channel_carries() -> None:
    settings = Settings(
        channels=[ChannelSettings(id=1, fields={"field4": "room_humidity"})]
    )
    policy = policy_of('[fields.room_humidty]\nactions = ["keep"]\n')

    with pytest.raises(PolicyError) as raised:
        policy.validate(known_fields(settings))

    assert raised.value.field == "room_humidty"
    assert "room_humidity" in raised.value.allowed
    policy_of('[fields.room_humidity]\nactions = ["keep"]\n').validate(
        known_fields(settings)
    )


def test_to_toml_reads_back_to_the_same_rules(tmp_path: Path) -> None:
    policy = policy_of(
        '[fields.heart_rate]\nactions = ["encrypt", "generalise"]\n'
        "band = { edges = [40, 50.5, 90, 130] }\n"
        '[fields.observed_at]\nactions = ["generalise"]\ntruncate = "hour"\n'
        '[fields."Blood \\"O2\\""]\nactions = ["drop"]\n'
    )
    path = tmp_path / "policy.toml"
    path.write_text(policy.to_toml())

    again = FieldPolicy.load(path)

    assert again.rules == policy.rules
    assert again.source == str(path)


def test_the_example_file_is_valid() -> None:
    policy = FieldPolicy.load(EXAMPLE)

    policy.validate(known_fields(Settings()))
    assert policy.metric_plan("heart_rate").band is not None


def test_an_unreadable_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match=r"absent\.toml"):
        FieldPolicy.load(tmp_path / "absent.toml")


@pytest.mark.parametrize(
    ("band", "value", "label"),
    [
        (Band.from_width(20), 72.0, "60-79"),
        (Band.from_width(20), 79.9, "60-79"),
        (Band.from_width(20), 80.0, "80-99"),
        (Band.from_width(20), -127.0, "-140--121"),
        (Band.from_width(20, origin=10), 72.0, "70-89"),
        (Band.from_width(0.5), 36.3, "36.0-36.4"),
        (Band.from_width(0.1), 36.3, "36.3-36.3"),
        (Band.from_width(0.5, origin=0.25), 36.3, "36.25-36.74"),
        (Band.from_edges([40, 50, 90, 130]), 39.0, "<40"),
        (Band.from_edges([40, 50, 90, 130]), 40.0, "40-49"),
        (Band.from_edges([40, 50, 90, 130]), 89.99, "50-89"),
        (Band.from_edges([40, 50, 90, 130]), 130.0, ">=130"),
        (Band.from_edges([35.0, 36.1, 38.1]), 36.05, "35.0-36.0"),
        (Band.from_edges([35.0, 36.1, 38.1]), 36.1, "36.1-38.0"),
        (Band.from_edges([0]), -0.0, ">=0"),
    ],
)
def test_band_labels(band: Band, value: float, label: str) -> None:
    assert band.label(value) == label


@pytest.mark.parametrize(
    ("unit", "expected"),
    [
        ("minute", "2021-07-19T19:07:00Z"),
        ("hour", "2021-07-19T19:00:00Z"),
        ("day", "2021-07-19T00:00:00Z"),
    ],
)
def test_truncate_time(unit: str, expected: str) -> None:
    assert truncate_time("2021-07-19T19:07:36Z", unit) == expected
    assert truncate_time("2021-07-19T19:07:36.250Z", unit) == expected
    assert truncate_time("2021-07-19T21:07:36+02:00", unit) == expected


def test_truncate_time_refuses_a_time_without_zone() -> None:
    with pytest.raises(ValueError, match="no time zone"):
        truncate_time("2021-07-19T19:07:36", "hour")
