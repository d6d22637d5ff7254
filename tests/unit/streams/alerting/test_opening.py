"""Opening anonymised records, and saying why one does not open."""

from __future__ import annotations

import logging
from dataclasses import replace

import orjson
import pytest

from schemas.anonymised import anonymise
from schemas.keyring import Keyring
from schemas.policy import FieldPolicy
from schemas.records import Reading
from streams.alerting.errors import UnopenableRecordError
from streams.alerting.opening import KeyringCheck, observation, open_record

READING = Reading(
    channel=1448708,
    entry_id=52,
    device="thingspeak-1448708",
    observed_at="2021-07-19T19:08:07Z",
    ingested_at="2021-07-19T19:08:10Z",
    metrics={"heart_rate": None, "spo2": None, "body_temp": 31.8125},
    temperature_site="skin",
)


def sealed(keyring: Keyring) -> bytes:
    return anonymise(READING, FieldPolicy.default(), keyring).to_json()


def test_open_gives_the_values_and_the_observation() -> None:
    keyring = Keyring.new()
    opened = open_record(sealed(keyring), keyring)
    assert opened.values == {"heart_rate": None, "spo2": None, "body_temp": 31.8125}

    obs = observation(opened, "2099-01-01T00:00:00Z")
    assert obs.observed_at == "2021-07-19T19:08:07Z"
    assert obs.entry_id == 52
    assert obs.temperature_site == "skin"
    assert obs.channel is not None
    assert obs.channel != "1448708"  # a pseudonym under the default policy


def test_unknown_key_id_is_named() -> None:
    right, wrong = Keyring.new(), Keyring.new()
    with pytest.raises(UnopenableRecordError) as caught:
        open_record(sealed(right), wrong)
    assert caught.value.unseal
    assert caught.value.unknown_key_id == right.primary_id
    assert "which the keyring does not hold" in caught.value.reason
    assert "31.8" not in caught.value.reason


def test_tampered_token_says_it_does_not_open() -> None:
    keyring = Keyring.new()
    doc = orjson.loads(sealed(keyring))
    doc["subject"] = "sbj_someone_else"
    with pytest.raises(UnopenableRecordError, match="does not open") as caught:
        open_record(orjson.dumps(doc), keyring)
    assert caught.value.unknown_key_id is None


@pytest.mark.parametrize("data", [None, b"not json", b'{"schema": "x"}'])
def test_undecodable_record_is_not_an_unseal_failure(data: bytes | None) -> None:
    with pytest.raises(UnopenableRecordError) as caught:
        open_record(data, Keyring.new())
    assert not caught.value.unseal


def test_keyring_check_speaks_up_once_when_the_first_records_all_fail(
    caplog: pytest.LogCaptureFixture,
) -> None:
    right, wrong = Keyring.new(), Keyring.new()
    check = KeyringCheck(wrong, records=3)
    for _ in range(5):
        try:
            open_record(sealed(right), wrong)
        except UnopenableRecordError as exc:
            check.failed(exc)
    assert check.mismatch is not None
    assert f"key id {right.primary_id!r} unknown" in check.mismatch
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1


def test_keyring_check_stays_quiet_once_a_record_opened() -> None:
    keyring = Keyring.new()
    check = KeyringCheck(keyring, records=2)
    check.opened()
    for _ in range(5):
        try:
            open_record(sealed(Keyring.new()), keyring)
        except UnopenableRecordError as exc:
            check.failed(exc)
    assert check.mismatch is None


def forged(**clear: object) -> bytes:
    # What anyone who can write the anonymised topic can write: no token.
    return orjson.dumps(
        {
            "schema": "vitalstream.anonymised/1",
            "subject": "sbj_forged",
            "source": {"channel": "chn_forged", "entry_id": 1},
            "observed_at": "2026-05-01T08:00:00Z",
            "clear": clear,
            "bands": {},
            "sealed": {},
            "pseudonyms": {},
        }
    )


def test_clear_values_are_never_taken_as_measured() -> None:
    opened = open_record(
        forged(spo2=84.0, heart_rate=140.0, temperature_site="core", body_temp=39.5),
        Keyring.new(),
    )
    assert opened.values == {}
    assert not opened.authenticated
    assert opened.clear_metrics() == ["body_temp", "heart_rate", "spo2"]


def test_a_clear_value_beside_a_token_does_not_replace_it() -> None:
    keyring = Keyring.new()
    doc = orjson.loads(sealed(keyring))
    doc["clear"]["body_temp"] = 39.5
    doc["clear"]["spo2"] = 84.0
    opened = open_record(orjson.dumps(doc), keyring)
    assert opened.authenticated
    assert opened.values == {"heart_rate": None, "spo2": None, "body_temp": 31.8125}


def test_a_record_with_nothing_measured_is_not_authenticated() -> None:
    keyring = Keyring.new()
    empty = replace(READING, metrics={"spo2": None})
    opened = open_record(
        anonymise(empty, FieldPolicy.default(), keyring).to_json(), keyring
    )
    assert opened.values == {"spo2": None}
    assert not opened.authenticated
    assert opened.clear_metrics() == []


def test_a_copied_record_carries_the_same_token_fingerprints() -> None:
    keyring = Keyring.new()
    record = sealed(keyring)
    again = anonymise(READING, FieldPolicy.default(), keyring).to_json()
    assert open_record(record, keyring).tokens == open_record(record, keyring).tokens
    # Sealing the same reading again draws new nonces: new tokens.
    assert open_record(again, keyring).tokens != open_record(record, keyring).tokens
    assert len(open_record(record, keyring).tokens) == 1
