"""A bad setting is blamed on where it came from: the file or the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from vitalstream.config import load_settings
from vitalstream.errors import ConfigError


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("VITALSTREAM_CONFIG", "VITALSTREAM_KAFKA__BOOTSTRAP_SERVERS"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "vitalstream.toml"
    path.write_text("[topics.raw]\npartitions = 12\n")
    return path


def test_a_bad_environment_value_names_its_variable_not_the_file(
    config_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VITALSTREAM_TOPICS__RAW__PARTITIONS", "abc")

    with pytest.raises(ConfigError) as raised:
        load_settings(config_file)

    assert raised.value.setting == "topics.raw.partitions"
    assert raised.value.source == "environment (VITALSTREAM_TOPICS__RAW__PARTITIONS)"


def test_a_bad_environment_list_names_its_variable(
    config_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VITALSTREAM_CHANNELS", '[{"id": 0}]')

    with pytest.raises(ConfigError) as raised:
        load_settings(config_file)

    assert raised.value.source == "environment (VITALSTREAM_CHANNELS)"


def test_a_bad_file_value_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "vitalstream.toml"
    path.write_text("[topics.raw]\npartitions = 0\n")

    with pytest.raises(ConfigError) as raised:
        load_settings(path)

    assert raised.value.source == str(path)
