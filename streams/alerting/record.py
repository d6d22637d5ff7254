"""The alert record, "vitalstream.alert/1", as the alerts topic carries it.

Documented in ALERTS.md beside this file. The details (values, sub-scores,
the aggregate) are sealed with the anonymised topic's format, one token per
detail, bound to the subject, the alert time and ``detail.<name>``; the rest
says what happened without a single vital value in the clear.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from schemas.errors import RecordError
from schemas.keyring import Keyring
from schemas.records import parse_utc, utc_iso
from schemas.sealed import SealingContext
from streams.alerting.engine import AlertEvent

ALERT_SCHEMA = "vitalstream.alert/1"
KINDS = ("clinical", "sensor_fault", "device_silent")
SEVERITIES = ("low", "low_medium", "medium", "high", "notice")
STATES = ("raised", "escalated", "resolved")
DETAIL_PREFIX = "detail."


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert or notice; ``details`` maps detail names to sealed tokens."""

    alert_id: str
    subject: str
    kind: str
    condition: str
    severity: str
    state: str
    at: str
    source: dict[str, Any] | None
    missing: tuple[str, ...] = ()
    hint: str | None = None
    details: dict[str, str] = field(default_factory=dict)
    emitted_at: str = field(default_factory=lambda: utc_iso(datetime.now(UTC)))

    @property
    def key(self) -> bytes:
        """The Kafka key: the subject pseudonym."""
        return self.subject.encode("utf-8")

    @property
    def partial(self) -> bool:
        """True when a clinical score left NEWS2 parameters out."""
        return bool(self.missing)

    def to_json(self) -> bytes:
        return orjson.dumps(
            {
                "schema": ALERT_SCHEMA,
                "alert_id": self.alert_id,
                "subject": self.subject,
                "kind": self.kind,
                "condition": self.condition,
                "severity": self.severity,
                "state": self.state,
                "at": self.at,
                "emitted_at": self.emitted_at,
                "source": self.source,
                "partial": self.partial,
                "missing": list(self.missing),
                "hint": self.hint,
                "details": self.details,
            }
        )

    @classmethod
    def from_json(cls, data: bytes | str) -> Alert:
        """Decode an alerts-topic value; :class:`RecordError` names the field."""
        try:
            doc = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise RecordError(f"not JSON: {exc}") from None
        if not isinstance(doc, dict) or doc.get("schema") != ALERT_SCHEMA:
            raise RecordError(f"schema: expected {ALERT_SCHEMA!r}")
        for name, allowed in (
            ("kind", KINDS),
            ("severity", SEVERITIES),
            ("state", STATES),
        ):
            if doc.get(name) not in allowed:
                raise RecordError(f"{name}: expected one of {allowed}")
        details = doc.get("details")
        if not isinstance(details, dict) or not all(
            isinstance(v, str) for v in details.values()
        ):
            raise RecordError("details: expected an object of sealed tokens")
        try:
            parse_utc(doc["at"])
            return cls(
                alert_id=str(doc["alert_id"]),
                subject=str(doc["subject"]),
                kind=doc["kind"],
                condition=str(doc["condition"]),
                severity=doc["severity"],
                state=doc["state"],
                at=doc["at"],
                source=doc.get("source"),
                missing=tuple(doc.get("missing") or ()),
                hint=doc.get("hint"),
                details=details,
                emitted_at=str(doc["emitted_at"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise RecordError(f"malformed alert: {exc!r}") from None


def alert_id(event: AlertEvent) -> str:
    """A stable id: the same event re-evaluated after a restart gets the same id.

    Receivers of the webhook de-duplicate on it.
    """
    parts = (
        event.subject,
        event.kind,
        event.condition,
        event.state,
        event.severity,
        event.at,
        event.channel or "",
        str(event.entry_id if event.entry_id is not None else ""),
    )
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()
    return digest[:32]


def seal_alert(event: AlertEvent, keyring: Keyring) -> Alert:
    """The alert record of ``event``, its details sealed under the primary key."""
    context = SealingContext(keyring, event.subject, event.at)
    source = (
        None
        if event.entry_id is None
        else {"channel": event.channel, "entry_id": event.entry_id}
    )
    return Alert(
        alert_id=alert_id(event),
        subject=event.subject,
        kind=event.kind,
        condition=event.condition,
        severity=event.severity,
        state=event.state,
        at=event.at,
        source=source,
        missing=event.missing,
        hint=event.hint,
        details={
            name: context.seal(DETAIL_PREFIX + name, value)
            for name, value in event.details.items()
        },
    )


def open_details(alert: Alert, keyring: Keyring) -> Mapping[str, float]:
    """The details of ``alert`` in the clear; :class:`UnsealError` if any fails."""
    context = SealingContext(keyring, alert.subject, alert.at)
    return {
        name: context.unseal(DETAIL_PREFIX + name, token)
        for name, token in alert.details.items()
    }
