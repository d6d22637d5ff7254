"""`vitalstream keys` and `vitalstream policy`, run through click's runner."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from schemas.cli import keys, policy
from schemas.errors import KeyringError, PolicyError
from schemas.keyring import Keyring
from schemas.policy import FieldPolicy
from tests.conftest import RECORDED_CHANNEL
from vitalstream.cli import AppContext


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "vitalstream.toml"
    path.write_text(
        "[[channels]]\nid = 1448708\n"
        'fields = { field1 = "heart_rate", field2 = "spo2", field4 = "room_temp" }\n'
        f'[keys]\nkeyring = "{tmp_path / "keys" / "ring.json"}"\n'
        f'[anonymiser]\npolicy = "{tmp_path / "policy.toml"}"\n'
    )
    return path


def run(command: object, args: list[str], config: Path, text: str = "") -> Result:
    runner = CliRunner()
    return runner.invoke(
        command,  # type: ignore[arg-type]
        args,
        input=text,
        obj=AppContext(config),
        catch_exceptions=True,
    )


def test_keys_generate_rotate_show(config: Path, tmp_path: Path) -> None:
    ring = tmp_path / "keys" / "ring.json"

    made = run(keys, ["generate"], config)
    rotated = run(keys, ["rotate"], config)
    shown = run(keys, ["show"], config)

    assert made.exit_code == 0, made.output
    assert stat.S_IMODE(ring.stat().st_mode) == 0o600
    keyring = Keyring.load(ring)
    assert keyring.primary_id in rotated.output
    assert shown.output.count("created") == 2
    assert f"{keyring.primary_id}  created" in shown.output
    assert shown.output.rstrip().endswith("primary")
    for secret in ring.read_text().split('"'):
        if len(secret) == 44:  # a base64 key
            assert secret not in shown.output + made.output + rotated.output


def test_keys_generate_will_not_replace(config: Path) -> None:
    run(keys, ["generate"], config)

    again = run(keys, ["generate"], config)

    assert isinstance(again.exception, KeyringError)
    assert run(keys, ["generate", "--force"], config).exit_code == 0


def test_policy_init_defaults(config: Path, tmp_path: Path) -> None:
    result = run(policy, ["init", "--defaults"], config)

    assert result.exit_code == 0, result.output
    written = FieldPolicy.load(tmp_path / "policy.toml")
    assert written.rules == FieldPolicy.default().rules
    assert run(policy, ["check"], config).exit_code == 0


def test_policy_init_asks_field_by_field(config: Path, tmp_path: Path) -> None:
    answers = [
        "keep",  # channel
        "",  # temperature_site: default (keep)
        "generalise",  # observed_at
        "hour",
        "",  # ingested_at: keep
        "yes",  # heart_rate sensitive
        "encrypt+generalise",
        "abc",  # not a number: asked again
        "20",
        "no",  # spo2 not sensitive
        "keep+generalise",
        "92,94,96",
        "yes",  # room_temp
        "drop",
    ]
    # Every other canonical metric: the defaults (sensitive, encrypt).
    text = "\n".join(answers) + "\n" * 40

    result = run(policy, ["init"], config, text)

    assert result.exit_code == 0, result.output
    assert "room_temp" in result.output
    assert "'abc' is not a number" in result.output
    written = FieldPolicy.load(tmp_path / "policy.toml")
    assert written.attributes.channel == "keep"
    assert written.rules["observed_at"].truncate == "hour"
    assert written.rules["heart_rate"].describe() == "encrypt+generalise"
    assert written.metric_plan("heart_rate").band.label(72) == "60-79"  # type: ignore[union-attr]
    assert written.metric_plan("spo2").keep
    assert written.rules["room_temp"].describe() == "drop"
    assert written.metric_plan("body_temp").seal


def test_policy_init_refuses_to_replace(config: Path, tmp_path: Path) -> None:
    (tmp_path / "policy.toml").write_text("version = 1\n")

    result = run(policy, ["init", "--defaults"], config)

    assert result.exit_code != 0
    assert "exists" in result.output


def test_policy_init_reads_field_names_from_a_recorded_feed(
    config: Path, tmp_path: Path
) -> None:
    output = tmp_path / "feed-policy.toml"

    result = run(
        policy,
        [
            "init",
            "--defaults",
            "--output",
            str(output),
            "--from-feed",
            str(RECORDED_CHANNEL / "feeds.json"),
            "--from-feed",
            str(RECORDED_CHANNEL / "feeds.csv"),
        ],
        config,
    )

    assert result.exit_code == 0, result.output
    # The CSV export names its columns field1..field3 only.
    assert "field1, field2, field3" in result.output
    assert output.is_file()


def test_policy_check_names_the_bad_field(config: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('version = 1\n[fields.heart_rate]\nactions = ["keep", "drop"]\n')
    unknown = tmp_path / "unknown.toml"
    unknown.write_text('version = 1\n[fields.pulse_ox]\nactions = ["keep"]\n')

    for path, field in ((bad, "heart_rate"), (unknown, "pulse_ox")):
        result = run(policy, ["check", str(path)], config)
        assert isinstance(result.exception, PolicyError)
        assert result.exception.field == field


def test_a_band_asked_for_spo2_suggests_the_news2_edges() -> None:
    from schemas.policy_init import _ask_band

    asked: list[str] = []

    def take_default(question: str, default: str) -> str:
        asked.append(default)
        return default

    band = _ask_band("spo2", take_default, lambda _: None)
    assert asked == ["92,94,96"]
    # A band never straddles a NEWS2 score boundary (91 | 92-93 | 94-95 | 96+).
    assert band.label(91) != band.label(92)
    assert band.label(93) == band.label(92)
    assert band.label(95) != band.label(96)
