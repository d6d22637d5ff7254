"""Rules from settings: overrides applied, bad tables stop start-up by name."""

from __future__ import annotations

import pytest

from streams.alerting.rules import RuleConfig, rule_config
from vitalstream.config import AlertingSettings
from vitalstream.errors import ConfigError


def test_defaults_follow_news2_and_clinical_md() -> None:
    rules = rule_config(AlertingSettings())
    assert rules.score("spo2", 91, None) == 3
    assert rules.score("body_temp", 35.0, "core") == 3
    assert rules.score("body_temp", 31.8, "skin") is None
    assert rules.score("body_temp", 35.0, None) is None
    assert rules.score("step_count", 1000, None) is None
    for metric, value in [
        ("body_temp", -127),
        ("body_temp", 85),
        ("spo2", 0),
        ("spo2", 101),
        ("heart_rate", 0),
        ("heart_rate", 301),
    ]:
        assert not rules.is_plausible(metric, value), (metric, value)
    assert rules.is_plausible("heart_rate", 38)
    assert rules.is_plausible("step_count", -5)


def test_overrides_from_settings() -> None:
    settings = AlertingSettings(
        score_tables={"spo2": [(85, 3), (float("inf"), 0)]},
        plausible={"heart_rate": (10, 250)},
        temperature_site_offsets={"axillary": 0.5},
        min_severity="medium",
    )
    rules = rule_config(settings)
    assert rules.score("spo2", 88, None) == 0
    assert rules.is_plausible("heart_rate", 15)
    assert rules.score("body_temp", 34.5, "axillary") == 3
    assert rules.score("body_temp", 37.0, "core") is None
    assert rules.min_risk == "medium"


@pytest.mark.parametrize(
    ("settings", "setting"),
    [
        ({"score_tables": {"spo2": [(95, 0), (91, 3)]}}, "score_tables.spo2"),
        ({"score_tables": {"spo2": [(91, 3), (95, 0)]}}, "score_tables.spo2"),
        ({"plausible": {"spo2": (100, 50)}}, "plausible.spo2"),
        ({"temperature_site_offsets": {"forehead": 1.0}}, "temperature_site_offsets"),
    ],
)
def test_bad_rule_settings_name_the_setting(
    settings: dict[str, object], setting: str
) -> None:
    with pytest.raises(ConfigError, match=setting):
        rule_config(AlertingSettings(**settings))  # type: ignore[arg-type]


def test_rule_config_refuses_an_unknown_minimum() -> None:
    with pytest.raises(ValueError, match="min_risk"):
        RuleConfig(min_risk="none")
