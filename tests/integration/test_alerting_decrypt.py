"""`vitalstream decrypt` on a real broker: value for value, and audited."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import uuid
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest

from schemas.anonymised import anonymise
from schemas.keyring import Keyring
from schemas.policy import FieldPolicy
from tests.conftest import PROJECT_ROOT, RECORDED_CHANNEL
from tests.integration.alerting_support import (
    RECORDED_FIELDS,
    prepare,
    produce,
    produce_raw_value,
    reading,
    write_config,
)
from vitalstream.config import Settings

pytestmark = pytest.mark.kafka

VITALSTREAM = str(PROJECT_ROOT / ".venv" / "bin" / "vitalstream")


def decrypt(config: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [VITALSTREAM, "--config", str(config), "decrypt", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={
            **{k: v for k, v in os.environ.items() if k != "VITALSTREAM_KEYS__KEYRING"},
            **env,
        },
    )


@pytest.fixture
def recorded(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> tuple[Settings, Path, Keyring]:
    settings = make_settings(
        alerting={
            "group_id": f"test-alerting-{uuid.uuid4().hex[:8]}",
            "audit_log": str(tmp_path / "audit.log"),
            "operator": "nurse-on-duty",
        }
    )
    keyring = Keyring.generate(tmp_path / "keyring.json")
    config = write_config(settings, tmp_path / "vitalstream.toml", keyring.path)  # type: ignore[arg-type]
    return settings, config, keyring


async def test_csv_matches_the_recorded_file_value_for_value(
    recorded: tuple[Settings, Path, Keyring], tmp_path: Path
) -> None:
    from tests.integration.alerting_support import recorded_readings

    settings, config, keyring = recorded
    await prepare(settings)
    await produce(settings, keyring, recorded_readings(RECORDED_CHANNEL / "feeds.csv"))
    output = tmp_path / "out" / "decrypted.csv"

    result = decrypt(config, "--format", "csv", "--output", str(output))

    assert result.returncode == 0, result.stderr
    assert "149 records" in result.stderr
    assert output.stat().st_mode & 0o077 == 0
    with (RECORDED_CHANNEL / "feeds.csv").open(newline="") as handle:
        source = {int(row["entry_id"]): row for row in csv.DictReader(handle)}
    rows = list(csv.DictReader(io.StringIO(output.read_text())))
    assert len(rows) == len(source) == 149
    compared = 0
    for row in rows:
        original = source[int(row["entry_id"])]
        for field, metric in RECORDED_FIELDS.items():
            expected = float(original[field]) if original[field] else None
            found = float(row[metric]) if row[metric] else None
            assert found == expected, (row["entry_id"], metric)
            compared += expected is not None
            # The anonymised form sits beside it: a token wherever a value is.
            assert bool(row[f"{metric}.sealed"]) == (expected is not None)
        assert row["clear.temperature_site"] == "skin"
    assert compared == 149  # one measured field per entry

    (entry,) = [json.loads(line) for line in settings.alerting.audit_log.open()]
    assert entry["operator"] == "nurse-on-duty"
    assert entry["action"] == "decrypt"
    assert entry["records"] == 149
    assert entry["output"] == str(output)
    assert entry["since"] is None
    assert entry["subject"] is None
    assert entry["outcome"] == "ok"


async def test_json_for_a_subject_and_time_range_is_audited(
    recorded: tuple[Settings, Path, Keyring],
) -> None:
    settings, config, keyring = recorded
    await prepare(settings)
    readings = [reading("alice", n, heart_rate=60 + n) for n in range(1, 21)]
    readings += [reading("bob", n, heart_rate=100 + n) for n in range(1, 21)]
    await produce(settings, keyring, readings)

    # START is 08:00:00 and entries are 15 s apart: entries 4..7 in range.
    result = decrypt(
        config,
        "--device",
        "alice",
        "--since",
        "2026-05-01T08:01:00Z",
        "--until",
        "2026-05-01T08:02:00Z",
        "--format",
        "json",
    )

    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert [row["entry_id"] for row in sorted(rows, key=lambda r: r["entry_id"])] == [
        4,
        5,
        6,
        7,
    ]
    assert {row["values"]["heart_rate"] for row in rows} == {64.0, 65.0, 66.0, 67.0}
    alice = keyring.pseudonymiser.pseudonym("device", "alice")
    assert {row["subject"] for row in rows} == {alice}
    assert all(row["sealed"]["heart_rate"].startswith("vs1.") for row in rows)

    (entry,) = [json.loads(line) for line in settings.alerting.audit_log.open()]
    assert entry["subject"] == alice
    assert entry["since"] == "2026-05-01T08:01:00Z"
    assert entry["until"] == "2026-05-01T08:02:00Z"
    assert entry["records"] == 4
    assert entry["output"] == "-"


async def test_bad_time_is_refused_naming_the_option(
    recorded: tuple[Settings, Path, Keyring],
) -> None:
    _, config, _ = recorded
    result = decrypt(config, "--since", "yesterday")
    assert result.returncode == 2
    assert "--since" in result.stderr
    assert "ISO-8601" in result.stderr


@pytest.mark.parametrize("scope", [[], ["--since", "2000-01-01T00:00:00Z"]])
async def test_a_wrong_keyring_is_a_failure_not_an_empty_answer(
    recorded: tuple[Settings, Path, Keyring], tmp_path: Path, scope: list[str]
) -> None:
    settings, config, keyring = recorded
    await prepare(settings)
    await produce(
        settings, keyring, [reading("wrist-7", n, heart_rate=70) for n in range(1, 6)]
    )
    Keyring.generate(keyring.path, overwrite=True)  # not the one that sealed

    result = decrypt(
        config, "--format", "json", "--output", str(tmp_path / "o.json"), *scope
    )

    assert result.returncode == 1
    assert (
        "none of the 5 record(s) could be unsealed: is this the keyring the "
        "anonymiser seals with?" in result.stderr
    )
    audit = json.loads(settings.alerting.audit_log.read_text().splitlines()[-1])
    assert audit["unseal_failures"] == 5
    assert audit["outcome"].startswith("incomplete")


@pytest.mark.parametrize("to_file", [False, True])
async def test_an_audit_log_that_cannot_be_written_stops_before_any_plaintext(
    recorded: tuple[Settings, Path, Keyring], tmp_path: Path, to_file: bool
) -> None:
    settings, config, keyring = recorded
    await prepare(settings)
    await produce(
        settings, keyring, [reading("wrist-8", n, heart_rate=70) for n in range(1, 6)]
    )
    output = tmp_path / "out.json"

    result = decrypt(
        config,
        "--format",
        "json",
        *(["--output", str(output)] if to_file else []),
        VITALSTREAM_ALERTING__AUDIT_LOG="/proc/audit.log",
    )

    assert result.returncode == 2
    assert result.stdout == ""
    assert not output.exists()
    assert "Traceback" not in result.stderr
    line = result.stderr.strip().splitlines()[-1]  # after the INFO log lines
    assert line.startswith("vitalstream: bad setting 'alerting.audit_log'")
    assert "/proc/audit.log" in line
    assert "nothing was decrypted" in line


async def test_an_output_that_cannot_be_written_is_audited_as_failed(
    recorded: tuple[Settings, Path, Keyring], tmp_path: Path
) -> None:
    settings, config, keyring = recorded
    await prepare(settings)
    await produce(settings, keyring, [reading("wrist-9", 1, heart_rate=70)])
    blocked = tmp_path / "a-file"
    blocked.write_text("")

    result = decrypt(config, "--output", str(blocked / "out.csv"))

    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "--output" in result.stderr
    (entry,) = [json.loads(line) for line in settings.alerting.audit_log.open()]
    assert entry["outcome"].startswith("failed: ")
    assert entry["records"] is None


async def test_some_tampered_records_are_not_blamed_on_the_keyring(
    recorded: tuple[Settings, Path, Keyring], tmp_path: Path
) -> None:
    settings, config, keyring = recorded
    await prepare(settings)
    await produce(
        settings, keyring, [reading("wrist-10", n, heart_rate=70) for n in range(1, 6)]
    )
    record = anonymise(
        reading("wrist-10", 6, heart_rate=71), FieldPolicy.default(), keyring
    )
    doc = orjson.loads(record.to_json())
    doc["subject"] = "sbj_someoneelse"  # the token no longer opens
    await produce_raw_value(settings, record.key, orjson.dumps(doc))

    result = decrypt(config, "--format", "json", "--output", str(tmp_path / "o.json"))

    assert result.returncode == 1
    assert "1 of 6 record(s) could not be unsealed" in result.stderr
    assert "the keyring opened the other 5" in result.stderr
    assert "is this the keyring" not in result.stderr


@pytest.mark.parametrize("scope", [[], ["--since", "2026-05-01T09:00:00Z"]])
async def test_a_device_no_record_has_is_said(
    recorded: tuple[Settings, Path, Keyring], scope: list[str]
) -> None:
    settings, config, keyring = recorded
    await prepare(settings)
    await produce(settings, keyring, [reading("wrist-11", 1, heart_rate=70)])

    nosuch = decrypt(config, "--device", "nosuch", "--format", "json", *scope)
    elsewhere = decrypt(config, "--device", "wrist-11", "--format", "json", *scope)

    assert nosuch.returncode == 0
    assert json.loads(nosuch.stdout) == []
    pseudonym = keyring.pseudonymiser.pseudonym("device", "nosuch")
    assert (
        f"no record has the subject pseudonym of device 'nosuch' ({pseudonym})"
        in nosuch.stderr
    )
    if scope:
        assert "1 record(s) of the subject, none in the time asked for" in (
            elsewhere.stderr
        )
    else:
        assert len(json.loads(elsewhere.stdout)) == 1
        assert "no record has" not in elsewhere.stderr
