"""A scored metric the policy does not seal is said at start-up."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.alerting.coverage import warn_unsealed_scored
from streams.alerting.news2 import DEFAULT_TABLES
from vitalstream.config import Settings


def test_a_policy_keeping_spo2_in_the_clear_is_warned_about(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text(
        'version = 1\n[fields.spo2]\nactions = ["keep"]\n'
        '[fields.heart_rate]\nactions = ["keep", "generalise"]\n'
        "band = { width = 20 }\n"
        '[fields.body_temp]\nactions = ["encrypt", "generalise"]\n'
        "band = { width = 2 }\n"
    )
    settings = Settings(anonymiser={"policy": policy})

    assert warn_unsealed_scored(settings, DEFAULT_TABLES) == ["heart_rate", "spo2"]
    lines = [r.getMessage() for r in caplog.records if r.name.endswith("coverage")]
    assert len(lines) == 2
    assert "does not seal spo2: it is never alerted on" in lines[1]


def test_the_default_policy_seals_every_scored_metric() -> None:
    assert warn_unsealed_scored(Settings(), DEFAULT_TABLES) == []


def test_an_unreadable_policy_is_said_not_raised(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(anonymiser={"policy": tmp_path / "nowhere.toml"})
    assert warn_unsealed_scored(settings, DEFAULT_TABLES) == []
    assert "cannot check which metrics policy" in caplog.text
