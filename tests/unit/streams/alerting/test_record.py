"""The alert record: round trip, sealed details, stable ids."""

from __future__ import annotations

import orjson
import pytest

from schemas.errors import RecordError, UnsealError
from schemas.keyring import Keyring
from streams.alerting.engine import AlertEvent
from streams.alerting.record import Alert, alert_id, open_details, seal_alert

EVENT = AlertEvent(
    subject="sbj_x",
    kind="clinical",
    condition="news2",
    severity="low_medium",
    state="raised",
    at="2026-05-01T08:01:30Z",
    details={"news2": 3.0, "spo2": 88.0, "score.spo2": 3.0},
    missing=("respiration_rate",),
    channel="chn_y",
    entry_id=6,
)


def test_round_trip_keeps_every_field_and_hides_the_values() -> None:
    keyring = Keyring.new()
    alert = seal_alert(EVENT, keyring)
    data = alert.to_json()

    assert Alert.from_json(data) == alert
    doc = orjson.loads(data)
    assert doc["schema"] == "vitalstream.alert/1"
    assert doc["partial"] is True
    assert doc["source"] == {"channel": "chn_y", "entry_id": 6}
    assert all(token.startswith("vs1.") for token in doc["details"].values())
    # The value is only in the sealed details; nowhere else in the clear.
    clear = {
        k: v for k, v in doc.items() if k not in ("details", "emitted_at", "alert_id")
    }
    assert b"88" not in orjson.dumps(clear)
    assert open_details(alert, keyring) == EVENT.details


def test_details_do_not_open_under_another_keyring_or_subject() -> None:
    keyring = Keyring.new()
    alert = seal_alert(EVENT, keyring)
    with pytest.raises(UnsealError):
        open_details(alert, Keyring.new())
    moved = Alert.from_json(alert.to_json().replace(b'"sbj_x"', b'"sbj_z"'))
    with pytest.raises(UnsealError):
        open_details(moved, keyring)


def test_alert_id_is_stable_and_distinguishes_events() -> None:
    assert alert_id(EVENT) == alert_id(EVENT)
    resolved = AlertEvent(**{**_fields(EVENT), "state": "resolved"})
    assert alert_id(resolved) != alert_id(EVENT)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"schema": "vitalstream.alert/2"}, "schema"),
        ({"kind": "panic"}, "kind"),
        ({"severity": "urgent"}, "severity"),
        ({"details": {"spo2": 88.0}}, "details"),
        ({"at": "yesterday"}, "malformed"),
    ],
)
def test_malformed_alert_is_refused(change: dict[str, object], message: str) -> None:
    doc = orjson.loads(seal_alert(EVENT, Keyring.new()).to_json())
    doc.update(change)
    with pytest.raises(RecordError, match=message):
        Alert.from_json(orjson.dumps(doc))


def _fields(event: AlertEvent) -> dict[str, object]:
    return {name: getattr(event, name) for name in event.__slots__}
