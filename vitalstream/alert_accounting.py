"""The alert side of the accounting: no alert lost, none repeated.

The alerting consumer (streams/alerting) writes alerts, rule state and its
consumed offsets in one Kafka transaction per batch, so a consumer killed
and restarted neither loses nor repeats an alert. This checks it from the
outside: the rule engine is pure, so replaying the anonymised topic through
a fresh :class:`AlertEngine` (partition by partition, in offset order, with
the consumer's own de-duplication) gives the alerts that must exist. Each
alert has a stable ``alert_id`` (ALERTS.md), so:

- lost: an expected ``alert_id`` that is not on the alerts topic;
- repeated: an ``alert_id`` on the alerts topic more than once;
- unexpected: an ``alert_id`` on the alerts topic that the replay did not make.

``device_silent`` notices depend on wall-clock time, not on the records, so
they are left out on both sides (and counted as ``ignored``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from vitalstream.accounting import Record

__all__ = ["AlertAccounting", "account_alerts", "replay_alerts"]

_TIME_DEPENDENT = "device_silent"
_SHOWN = 5


@dataclass(frozen=True)
class AlertAccounting:
    """Expected alerts against written ones."""

    expected: int
    written: int
    lost: int
    repeated: int
    unexpected: int
    ignored: int = 0
    lost_ids: tuple[str, ...] = ()
    repeated_ids: tuple[str, ...] = ()

    def holds(self) -> bool:
        """No alert lost, repeated or made up."""
        return not (self.lost or self.repeated or self.unexpected)

    def summary(self) -> str:
        line = (
            f"alerts expected {self.expected}, written {self.written}, "
            f"lost {self.lost}, repeated {self.repeated}, "
            f"unexpected {self.unexpected} (time-dependent, not judged: "
            f"{self.ignored})"
        )
        if self.lost_ids:
            line += f"; first lost {list(self.lost_ids)}"
        if self.repeated_ids:
            line += f"; first repeated {list(self.repeated_ids)}"
        return line


def replay_alerts(
    anonymised: Iterable[Record], keyring: Any, rules: Any
) -> Counter[str]:
    """The ``alert_id`` of every alert the records lead to, counted.

    ``keyring`` is a :class:`schemas.keyring.Keyring`, ``rules`` a
    :class:`streams.alerting.rules.RuleConfig` (as the consumer runs with).
    Records that do not open, or carry no token, are skipped: the consumer
    does not evaluate them either.
    """
    from schemas.records import utc_iso
    from streams.alerting.engine import AlertEngine
    from streams.alerting.errors import UnopenableRecordError
    from streams.alerting.opening import observation, open_record
    from streams.alerting.record import alert_id

    engine = AlertEngine(rules)
    found: Counter[str] = Counter()
    ordered = sorted(anonymised, key=lambda r: (r.topic, r.partition, r.offset))
    for record in ordered:
        try:
            opened = open_record(record.value, keyring)
        except UnopenableRecordError:
            continue
        if not opened.authenticated:
            continue  # nothing sealed: the consumer does not evaluate it
        kafka_time = utc_iso(datetime.fromtimestamp(record.timestamp / 1000, UTC))
        try:
            evaluation = engine.observe(observation(opened, kafka_time))
        except ValueError:
            continue
        for event in evaluation.events:
            if event.kind != _TIME_DEPENDENT:
                found[alert_id(event)] += 1
    return found


def account_alerts(
    anonymised: Iterable[Record], alerts: Iterable[Record], keyring: Any, rules: Any
) -> AlertAccounting:
    """Compare the replayed alerts with the alerts topic's records."""
    expected = replay_alerts(anonymised, keyring, rules)
    written: Counter[str] = Counter()
    ignored = 0
    for record in alerts:
        doc = orjson.loads(record.value or b"{}")
        if doc.get("kind") == _TIME_DEPENDENT:
            ignored += 1
            continue
        written[str(doc.get("alert_id"))] += 1
    # Compared as counts: an engine may raise the same alert twice (it never
    # should), and then the topic must hold it twice, no more.
    lost = sorted(k for k, n in expected.items() if written[k] < n)
    repeated = sorted(
        k for k, n in written.items() if k in expected and n > expected[k]
    )
    return AlertAccounting(
        expected=sum(expected.values()),
        written=sum(written.values()),
        lost=sum(expected[k] - written[k] for k in lost),
        repeated=sum(written[k] - expected[k] for k in repeated),
        unexpected=sum(n for k, n in written.items() if k not in expected),
        ignored=ignored,
        lost_ids=tuple(lost[:_SHOWN]),
        repeated_ids=tuple(repeated[:_SHOWN]),
    )
