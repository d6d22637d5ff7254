"""A bad configuration stops start-up with a message naming the setting."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

import pytest

from vitalstream.config import Settings, channel_read_key, load_settings
from vitalstream.errors import ConfigError


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "vitalstream.toml"
    path.write_text(text)
    return path


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # No .env or vitalstream.toml of the developer's may leak into a test.
    monkeypatch.chdir(tmp_path)
    for name in ("VITALSTREAM_CONFIG", "VITALSTREAM_KAFKA__BOOTSTRAP_SERVERS"):
        monkeypatch.delenv(name, raising=False)


def test_defaults_without_a_file() -> None:
    settings = load_settings()

    assert settings.topics.raw.name == "vitals.raw"
    assert settings.topics.raw.retention_ms == 86_400_000
    assert settings.topics.connector_offsets.compacted is True
    assert settings.anonymiser.guarantee == "at_least_once"


def test_file_values_and_environment_override(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _write(
        tmp_path,
        '[kafka]\nbootstrap_servers = "broker-a:9092"\n'
        "[topics.raw]\npartitions = 12\n"
        '[[channels]]\nid = 1448708\ndevice = "ward3-bed2"\n'
        'fields = { field1 = "heart_rate" }\n',
    )
    monkeypatch.setenv("VITALSTREAM_KAFKA__BOOTSTRAP_SERVERS", "broker-b:9092")

    settings = load_settings(path)

    assert settings.kafka.bootstrap_servers == "broker-b:9092"
    assert settings.topics.raw.partitions == 12
    assert settings.topics.raw.name == "vitals.raw"  # other defaults kept
    assert settings.channels[0].device_label == "ward3-bed2"
    assert settings.channels[0].fields == {"field1": "heart_rate"}


@pytest.mark.parametrize(
    ("text", "setting", "found"),
    [
        ('[kafka]\nbootstrap_servers = "nope"\n', "kafka.bootstrap_servers", "'nope'"),
        ('[[channels]]\nid = "abc"\n', "channels.0.id", "'abc'"),
        ("[topics.raw]\npartitions = 0\n", "topics.raw.partitions", "0"),
        ('[anonymiser]\nguarantee = "twice"\n', "anonymiser.guarantee", "'twice'"),
        (
            '[[channels]]\nid = 1\nfields = { field9 = "x" }\n',
            "channels.0.fields",
            "field9",
        ),
        ("[[channels]]\nid = 7\n[[channels]]\nid = 7\n", "config", "channel 7"),
    ],
)
def test_bad_value_names_setting_found_and_allowed(
    tmp_path: Path, text: str, setting: str, found: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings(_write(tmp_path, text))

    assert raised.value.setting == setting
    assert found in str(raised.value)
    assert "allowed:" in str(raised.value)


def test_unknown_key_is_refused_without_echoing_its_value(tmp_path: Path) -> None:
    path = _write(tmp_path, '[[channels]]\nid = 5\napi_key = "SECRET123"\n')

    with pytest.raises(ConfigError) as raised:
        load_settings(path)

    assert raised.value.setting == "channels.0.api_key"
    assert "SECRET123" not in str(raised.value)


def test_toml_syntax_error_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="valid TOML"):
        load_settings(_write(tmp_path, "[kafka\n"))


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"missing\.toml"):
        load_settings(tmp_path / "missing.toml")


def test_read_keys_come_from_environment_or_dotenv(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".env").write_text("THINGSPEAK_READ_KEY_42=from-dotenv\nMY_KEY=mine\n")
    path = _write(
        tmp_path,
        '[[channels]]\nid = 42\n[[channels]]\nid = 43\nread_key_env = "MY_KEY"\n',
    )
    for name in ("THINGSPEAK_READ_KEY_42", "MY_KEY"):
        # setenv first so that teardown removes what the .env loader sets.
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)

    settings = load_settings(path)

    assert channel_read_key(settings.channels[0]) == "from-dotenv"
    assert channel_read_key(settings.channels[1]) == "mine"


def test_example_config_is_valid() -> None:
    example = Path(__file__).resolve().parents[3] / "vitalstream.example.toml"

    settings = load_settings(example)

    assert isinstance(settings, Settings)
    assert settings.channels


def test_heartbeat_must_fit_the_session_timeout(tmp_path: Path) -> None:
    path = _write(
        tmp_path, "[anonymiser]\nsession_timeout_s = 6\nheartbeat_interval_s = 3\n"
    )

    with pytest.raises(ConfigError, match="at most a third of session_timeout_s"):
        load_settings(path)


def test_dotenv_beside_the_config_file_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "etc"
    elsewhere.mkdir()
    (elsewhere / ".env").write_text("THINGSPEAK_READ_KEY_77=beside-config\n")
    config = elsewhere / "vitalstream.toml"
    config.write_text("[[channels]]\nid = 77\n")
    monkeypatch.setenv("THINGSPEAK_READ_KEY_77", "")
    monkeypatch.delenv("THINGSPEAK_READ_KEY_77")

    settings = load_settings(config)

    assert channel_read_key(settings.channels[0]) == "beside-config"


def test_a_misspelt_setting_gets_the_likely_name(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings(_write(tmp_path, '[kafka]\nbootstrap_server = "x:1"\n'))

    assert "did you mean 'bootstrap_servers'?" in raised.value.allowed


def test_a_setting_of_two_forms_names_the_setting_and_both_forms(
    tmp_path: Path,
) -> None:
    # backfill is 'all' or a time; pydantic reported it as
    # "connector.backfill.literal['all']" with only the first form.
    path = _write(tmp_path, '[connector]\nbackfill = "2026-13-01"\n')
    with pytest.raises(ConfigError) as raised:
        load_settings(path)
    message = str(raised.value)
    assert "bad setting 'connector.backfill'" in message
    assert "'all' or " in message
    assert "month value is outside" in message
    assert "more problem" not in message


def test_a_section_from_the_environment_that_is_not_json_names_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("VITALSTREAM_CHANNELS", '[{"id":')
    with pytest.raises(ConfigError) as raised:
        load_settings()
    message = str(raised.value)
    assert "bad setting 'channels' in environment (VITALSTREAM_CHANNELS)" in message
    assert "not valid JSON" in message
    assert "TOML" not in message


def test_a_bad_value_from_dotenv_names_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("VITALSTREAM_TOPICS__RAW__PARTITIONS", raising=False)
    (tmp_path / ".env").write_text("VITALSTREAM_TOPICS__RAW__PARTITIONS=abc\n")
    try:
        with pytest.raises(ConfigError) as raised:
            load_settings()
    finally:
        # Set by the .env loader, not by monkeypatch: undone here.
        os.environ.pop("VITALSTREAM_TOPICS__RAW__PARTITIONS", None)
    assert "in .env (VITALSTREAM_TOPICS__RAW__PARTITIONS)" in str(raised.value)


def test_a_dotenv_with_keys_open_to_others_is_warned_about(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("THINGSPEAK_READ_KEY_1", raising=False)
    dotenv = tmp_path / ".env"
    dotenv.write_text("THINGSPEAK_READ_KEY_1=ABCDEF0123456789\n")
    dotenv.chmod(0o644)
    try:
        load_settings()
    finally:
        os.environ.pop("THINGSPEAK_READ_KEY_1", None)
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any("chmod 600" in line and "mode 0644" in line for line in warnings)
    assert not any("ABCDEF0123456789" in line for line in warnings)


def test_another_broker_in_kafka_bootstrap_servers_is_warned_about(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9292")
    settings = load_settings()
    assert settings.kafka.bootstrap_servers == "127.0.0.1:9092"
    assert any(
        "VITALSTREAM_KAFKA__BOOTSTRAP_SERVERS" in r.getMessage()
        and "127.0.0.1:9292" in r.getMessage()
        for r in caplog.records
        if r.levelname == "WARNING"
    )


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("future_tolerance_s", "-1"),
        ("request_deadline_s", "0"),
        ("max_response_bytes", "12"),
        ("max_response_bytes", "lots"),
        ("shutdown_timeout_s", "0"),
    ],
)
def test_a_bad_connector_limit_stops_start_up_naming_it(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    variable = f"VITALSTREAM_CONNECTOR__{name.upper()}"
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as raised:
        load_settings()

    assert raised.value.setting == f"connector.{name}"
    assert variable in str(raised.value)
    assert "allowed:" in str(raised.value)


@pytest.mark.parametrize(
    "name",
    [
        "future_tolerance_s",
        "request_deadline_s",
        "max_response_bytes",
        "shutdown_timeout_s",
    ],
)
def test_a_connector_limit_defaults_to_what_the_example_says(name: str) -> None:
    example = Path(__file__).resolve().parents[3] / "vitalstream.example.toml"
    documented = tomllib.loads(example.read_text())["connector"][name]
    assert getattr(load_settings().connector, name) == documented
