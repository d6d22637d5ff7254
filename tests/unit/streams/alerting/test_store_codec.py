"""The rule-state record: values sealed, everything else back as it was."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
import pytest

from schemas.errors import UnsealError
from schemas.keyring import Keyring
from streams.alerting.engine import AlertEngine, Observation
from streams.alerting.rules import RuleConfig
from streams.alerting.store import decode_state, encode_state

START = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)


def engine_with_state() -> AlertEngine:
    engine = AlertEngine(RuleConfig())
    for n, metrics in enumerate(
        [{"spo2": 88.0}] * 3 + [{"body_temp": -127.0}] + [{"heart_rate": 72.5}]
    ):
        at = (START + timedelta(seconds=15 * n)).strftime("%Y-%m-%dT%H:%M:%SZ")
        engine.observe(Observation("sbj_a", at, metrics, channel="c", entry_id=n))
    return engine


def test_state_round_trips_with_its_values_sealed() -> None:
    keyring = Keyring.new()
    state = engine_with_state().state_of("sbj_a")
    assert state is not None

    data = encode_state("sbj_a", state, keyring)
    doc = orjson.loads(data)
    assert doc["state"]["metrics"]["spo2"]["value"].startswith("vs1.")
    assert doc["state"]["metrics"]["body_temp"]["last_fault_value"].startswith("vs1.")
    assert b"72.5" not in data

    subject, restored = decode_state(data, keyring)
    assert subject == "sbj_a"
    assert restored == state


def test_state_does_not_open_for_another_subject() -> None:
    keyring = Keyring.new()
    state = engine_with_state().state_of("sbj_a")
    assert state is not None
    data = encode_state("sbj_a", state, keyring).replace(b'"sbj_a"', b'"sbj_b"')
    with pytest.raises(UnsealError):
        decode_state(data, keyring)


def test_other_records_are_refused() -> None:
    with pytest.raises(ValueError, match="alerting-state"):
        decode_state(b'{"schema": "vitalstream.alert/1"}', Keyring.new())


def v1_record(subject: str, marks: dict[str, int]) -> bytes:
    # As version 1 wrote it: the highest entry id seen per channel token.
    return orjson.dumps(
        {
            "schema": "vitalstream.alerting-state/1",
            "subject": subject,
            "state": {
                "last_seen": START.timestamp(),
                "metrics": {},
                "open": {"news2": "low_medium"},
                "entry_marks": marks,
            },
        }
    )


def test_version_1_state_is_still_read() -> None:
    subject, state = decode_state(v1_record("sbj_a", {"c": 40}), Keyring.new())
    assert subject == "sbj_a"
    assert state.open == {"news2": "low_medium"}
    at = START.timestamp()
    assert state.seen.replayed("c", 40, at, ())  # the mark itself is remembered
    assert not state.seen.replayed("c", 41, at, ())


def test_a_version_1_mark_set_by_an_outlier_silences_nothing_after_upgrade() -> None:
    _, state = decode_state(v1_record("sbj_a", {"c": 2**63 - 1}), Keyring.new())
    engine = AlertEngine(RuleConfig())
    engine.restore("sbj_a", state)
    events = []
    for n in range(1, 4):
        at = (START + timedelta(seconds=15 * n)).strftime("%Y-%m-%dT%H:%M:%SZ")
        evaluation = engine.observe(
            Observation("sbj_a", at, {"spo2": 97.0}, channel="c", entry_id=n)
        )
        assert not evaluation.duplicate
        events += evaluation.events
    # The restored low-medium condition clears on real, normal readings.
    assert [(e.condition, e.state) for e in events] == [("news2", "resolved")]


def test_state_remembers_recent_entries_and_tokens_across_a_restart() -> None:
    keyring = Keyring.new()
    engine = AlertEngine(RuleConfig())
    at = START.strftime("%Y-%m-%dT%H:%M:%SZ")
    engine.observe(
        Observation(
            "sbj_a", at, {"spo2": 88.0}, channel="c", entry_id=7, tokens=("f1",)
        )
    )
    state = engine.state_of("sbj_a")
    assert state is not None
    _, restored = decode_state(encode_state("sbj_a", state, keyring), keyring)
    assert restored.seen.replayed("c", 7, START.timestamp(), ())
    assert restored.seen.replayed("c", 8, START.timestamp(), ("f1",))
