"""The alert side of the accounting: replay, lost, repeated (no broker)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from schemas.anonymised import anonymise
from schemas.keyring import Keyring
from schemas.policy import FieldPolicy
from schemas.records import Reading, utc_iso
from streams.alerting.engine import AlertEngine
from streams.alerting.opening import observation, open_record
from streams.alerting.record import seal_alert
from streams.alerting.rules import RuleConfig
from vitalstream.accounting import Record
from vitalstream.alert_accounting import account_alerts, replay_alerts

KEYRING = Keyring.new()
RULES = RuleConfig()
START = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)


def anonymised_records() -> list[Record]:
    """One wearer's SpO2 falling to 88 and back: raised, then resolved."""
    values = [97, 97, 97, 88, 88, 88, 88, 97, 97, 97, 97]
    records = []
    for entry_id, spo2 in enumerate(values, start=1):
        at = utc_iso(START + timedelta(seconds=15 * entry_id))
        reading = Reading(9, entry_id, "wearer", at, at, {"spo2": float(spo2)}, "core")
        value = anonymise(reading, FieldPolicy.default(), KEYRING).to_json()
        records.append(Record("anon", 0, entry_id, 0, None, value))
    return records


def alerts_as_written(records: list[Record]) -> list[Record]:
    """What the consumer writes: the engine's events, sealed."""
    engine = AlertEngine(RULES)
    written = []
    for record in records:
        opened = open_record(record.value, KEYRING)
        for event in engine.observe(observation(opened, "unused")).events:
            written.append(
                Record(
                    "alerts",
                    0,
                    len(written),
                    0,
                    None,
                    seal_alert(event, KEYRING).to_json(),
                )
            )
    return written


def test_the_replay_finds_the_alerts_the_consumer_writes() -> None:
    records = anonymised_records()
    written = alerts_as_written(records)
    assert len(written) >= 2
    result = account_alerts(records, written, KEYRING, RULES)
    assert (result.expected, result.written) == (len(written), len(written))
    assert result.holds(), result.summary()


def test_a_duplicate_reading_raises_nothing_twice() -> None:
    records = anonymised_records()
    again = records[3:6]  # at-least-once: a few records anonymised twice
    assert replay_alerts([*records, *again], KEYRING, RULES) == replay_alerts(
        records, KEYRING, RULES
    )


def test_a_missing_alert_is_lost_and_a_second_copy_repeated() -> None:
    records = anonymised_records()
    written = alerts_as_written(records)
    lost = account_alerts(records, written[1:], KEYRING, RULES)
    assert (lost.lost, lost.repeated) == (1, 0)
    assert not lost.holds()
    repeated = account_alerts(records, [*written, written[0]], KEYRING, RULES)
    assert (repeated.lost, repeated.repeated) == (0, 1)
    assert not repeated.holds()
    assert "repeated 1" in repeated.summary()
