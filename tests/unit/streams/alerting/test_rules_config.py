"""Rules from settings: overrides applied, bad tables stop start-up by name."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from streams.alerting.news2 import DEFAULT_TABLES
from streams.alerting.rules import RuleConfig, rule_config
from vitalstream.config import AlertingSettings, Settings, load_settings
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


@pytest.fixture(autouse=True)
def _no_outside_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    for name in [n for n in os.environ if n.startswith("VITALSTREAM_")]:
        monkeypatch.delenv(name)


@pytest.mark.parametrize(
    ("text", "setting", "said"),
    [
        ("score_tables = { spo2 = [[95, 0], [91, 3]] }", "score_tables", "rise"),
        ("score_tables = { spo2 = [[91, 3], [95, 0]] }", "score_tables", "inf"),
        ("score_tables = { spo2 = [[nan, 0], [inf, 1]] }", "score_tables", "finite"),
        ("score_tables = { spo2 = [[91, 3], [nan, 0]] }", "score_tables", "inf"),
        ("score_tables = { spo2 = [[inf, 3], [inf, 0]] }", "score_tables", "finite"),
        ("score_tables = { spo2 = [[-inf, 3], [inf, 0]] }", "score_tables", "finite"),
        (
            "score_tables = { blood_sugar = [[5, 0], [inf, 3]] }",
            "score_tables",
            "NEWS2 does not score",
        ),
        ("plausible = { spo2 = [100, 50] }", "plausible", "low below high"),
        ("plausible = { spo2 = [nan, 100] }", "plausible", "finite"),
        ("plausible = { spo2 = [50, inf] }", "plausible", "finite"),
        (
            "temperature_site_offsets = { forehead = 1.0 }",
            "temperature_site_offsets",
            "not a site",
        ),
        (
            "temperature_site_offsets = { skin = nan }",
            "temperature_site_offsets",
            "finite",
        ),
        (
            "temperature_site_offsets = { skin = inf }",
            "temperature_site_offsets",
            "finite",
        ),
        (
            "temperature_site_offsets = { skin = 40.0 }",
            "temperature_site_offsets",
            "-10 to 10",
        ),
        ("silent_after_s = inf", "silent_after_s", "finite"),
        ("silent_after_s = nan", "silent_after_s", "finite"),
        ("sustained_s = inf", "sustained_s", "finite"),
        ("webhook_timeout_s = nan", "webhook_timeout_s", "finite"),
    ],
)
def test_bad_rule_settings_stop_start_up_naming_the_setting(
    tmp_path: Path, text: str, setting: str, said: str
) -> None:
    path = tmp_path / "vitalstream.toml"
    path.write_text(f"[alerting]\n{text}\n")
    with pytest.raises(ConfigError) as raised:
        load_settings(path)
    assert raised.value.setting == f"alerting.{setting}"
    assert said in raised.value.allowed


def test_rule_config_still_refuses_tables_that_skipped_validation() -> None:
    # Settings built without validation (model_construct) meet the rules' own
    # checks: a bad table is a ConfigError there too, never a crash later.
    unchecked = AlertingSettings.model_construct(
        score_tables={"spo2": [(float("nan"), 0), (float("inf"), 1)]}
    )
    with pytest.raises(ConfigError, match=r"score_tables\.spo2"):
        rule_config(unchecked)
    offsets = AlertingSettings.model_construct(
        temperature_site_offsets={"skin": float("nan")}
    )
    with pytest.raises(ConfigError, match=r"temperature_site_offsets\.skin"):
        rule_config(offsets)


def test_config_prints_inf_as_inf_and_reads_it_back(tmp_path: Path) -> None:
    path = tmp_path / "vitalstream.toml"
    path.write_text("[alerting]\nscore_tables = { spo2 = [[85, 3], [inf, 0]] }\n")
    printed = load_settings(path).model_dump_json()
    assert '"spo2":[[85.0,3],["Infinity",0]]' in printed
    again = Settings.model_validate_json(printed)
    assert again.alerting.score_tables["spo2"][-1] == (float("inf"), 0)


def test_every_score_table_has_a_metric_the_engine_scores() -> None:
    settings = AlertingSettings(
        score_tables={name: [(float("inf"), 0)] for name in DEFAULT_TABLES}
    )
    assert set(rule_config(settings).tables) == set(DEFAULT_TABLES)


def test_rule_config_refuses_an_unknown_minimum() -> None:
    with pytest.raises(ValueError, match="min_risk"):
        RuleConfig(min_risk="none")


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("http://127.0.0.1:99999/hook", "port from 1 to 65535"),
        ("http://127.0.0.1:0/hook", "port from 1 to 65535"),
        ("http://[::1/hook", "cannot parse"),
        ("http://host:S3CR3T/hook", "cannot parse"),
        ("http://xn--S3CR3T/hook", "cannot parse"),
        ("http:///hook", "host"),
        ("ftp://care.example/hook", "not ftp"),
        ("https://care example/hook", "without white space"),
    ],
)
def test_a_webhook_url_httpx_cannot_post_to_stops_start_up(
    tmp_path: Path, url: str, said: str
) -> None:
    path = tmp_path / "vitalstream.toml"
    path.write_text(f'[alerting]\nwebhook_url = "{url}"\n')
    with pytest.raises(ConfigError) as raised:
        load_settings(path)
    assert raised.value.setting == "alerting.webhook_url"
    assert said in raised.value.allowed
    assert "care" not in str(raised.value)
    assert "127.0.0.1" not in str(raised.value)
    assert "S3CR3T" not in str(raised.value)


def test_a_bad_webhook_url_error_does_not_show_its_token(tmp_path: Path) -> None:
    path = tmp_path / "vitalstream.toml"
    path.write_text('[alerting]\nwebhook_url = "ftp://care.example/T0/s3cr3t"\n')
    with pytest.raises(ConfigError) as raised:
        load_settings(path)
    assert "s3cr3t" not in str(raised.value)
    assert "not shown" in str(raised.value)


def test_a_good_webhook_url_is_kept_as_written(tmp_path: Path) -> None:
    path = tmp_path / "vitalstream.toml"
    url = "https://care.example:8443/hooks/T0/B0?token=x"
    path.write_text(f'[alerting]\nwebhook_url = "{url}"\n')
    assert load_settings(path).alerting.webhook_url == url
