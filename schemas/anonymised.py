"""The anonymised record, and the two pure functions that make and open it.

:func:`anonymise` applies a :class:`FieldPolicy` to a raw :class:`Reading`;
:func:`unseal_reading` gives the authorised side the sealed metrics back.
The record's shape and version are documented in RECORDS.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from math import isfinite
from typing import Any

import orjson

from schemas.bands import truncate_time
from schemas.errors import PolicyError, RecordError
from schemas.keyring import Keyring
from schemas.policy import FieldPolicy
from schemas.records import Reading, _expect_schema, _load_object, parse_utc
from schemas.sealed import SealingContext

__all__ = [
    "ANONYMISED_SCHEMA",
    "AnonymisedReading",
    "anonymise",
    "unseal_reading",
]

ANONYMISED_SCHEMA = "vitalstream.anonymised/1"

_FIELDS = frozenset(
    {
        "schema",
        "subject",
        "source",
        "observed_at",
        "clear",
        "bands",
        "sealed",
        "pseudonyms",
    }
)


# Not frozen: a frozen dataclass pays a setattr call per field, and this is
# built once per record on the anonymiser's hot path. Treat it as immutable.
@dataclass(slots=True)
class AnonymisedReading:
    """A reading as the anonymised topic carries it: no identity, no sealed value.

    ``subject`` is the device's pseudonym and the Kafka key. ``source`` is
    ``{"channel": <pseudonym, id or None>, "entry_id": int}``, what consumers
    de-duplicate on. ``sealed`` maps metrics to tokens, ``None`` when the
    reading did not measure the metric (nothing is sealed then); ``bands``
    likewise maps metrics to band labels or ``None``.
    """

    subject: str
    source: dict[str, Any]
    observed_at: str | None
    clear: dict[str, Any] = field(default_factory=dict)
    bands: dict[str, str | None] = field(default_factory=dict)
    sealed: dict[str, str | None] = field(default_factory=dict)
    pseudonyms: dict[str, str] = field(default_factory=dict)

    @property
    def key(self) -> bytes:
        """The Kafka key: the subject pseudonym in UTF-8."""
        return self.subject.encode("utf-8")

    @property
    def source_key(self) -> tuple[str | int | None, int]:
        """``(channel, entry_id)`` as carried, for de-duplication."""
        return (self.source["channel"], self.source["entry_id"])

    def to_json(self) -> bytes:
        return orjson.dumps(
            {
                "schema": ANONYMISED_SCHEMA,
                "subject": self.subject,
                "source": self.source,
                "observed_at": self.observed_at,
                "clear": self.clear,
                "bands": self.bands,
                "sealed": self.sealed,
                "pseudonyms": self.pseudonyms,
            }
        )

    @classmethod
    def from_json(cls, data: bytes | str) -> AnonymisedReading:
        """Decode an anonymised-topic value; :class:`RecordError` names the field."""
        doc = _load_object(data)
        _expect_schema(doc, ANONYMISED_SCHEMA)
        unknown = sorted(set(doc) - _FIELDS)
        if unknown:
            raise RecordError(f"{unknown[0]}: not a field of {ANONYMISED_SCHEMA}")
        subject = doc.get("subject")
        if not isinstance(subject, str) or not subject:
            raise RecordError("subject: expected a non-empty string")
        observed_at = doc.get("observed_at", ...)
        if observed_at is ...:
            raise RecordError("observed_at: missing")
        if observed_at is not None:
            _check_time("observed_at", observed_at)
        return cls(
            subject=subject,
            source=_source(doc.get("source")),
            observed_at=observed_at,
            clear=_mapping(doc, "clear", object),
            bands=_mapping(doc, "bands", str, nullable=True),
            sealed=_mapping(doc, "sealed", str, nullable=True),
            pseudonyms=_mapping(doc, "pseudonyms", str),
        )


def anonymise(
    reading: Reading, policy: FieldPolicy, keyring: Keyring
) -> AnonymisedReading:
    """Apply ``policy`` to ``reading``: pseudonyms, bands and sealed values.

    Raises :class:`PolicyError` when the policy cannot be applied to this
    reading (a metric that is not a finite number, a time it cannot cut).
    """
    try:
        return _anonymise(reading, policy, keyring)
    except _CannotApplyError as exc:
        raise PolicyError(exc.field, exc.found, exc.allowed) from None


def _anonymise(
    reading: Reading, policy: FieldPolicy, keyring: Keyring
) -> AnonymisedReading:
    names = keyring.pseudonymiser
    plan = policy.attributes
    subject, channel_pseudonym = names.identity(reading.device, reading.channel)
    pseudonyms: dict[str, str] = {}
    clear: dict[str, Any] = {}

    channel: str | int | None = None
    if plan.channel == "pseudonymise":
        channel = channel_pseudonym
    elif plan.channel == "keep":
        channel = reading.channel

    observed_at: str | None = reading.observed_at
    if plan.observed_at != "keep":
        observed_at = _cut("observed_at", reading.observed_at, plan.observed_unit)
    if plan.ingested_at == "keep":
        clear["ingested_at"] = reading.ingested_at
    elif plan.ingested_unit is not None:
        clear["ingested_at"] = _cut(
            "ingested_at", reading.ingested_at, plan.ingested_unit
        )
    if plan.temperature_site == "keep":
        clear["temperature_site"] = reading.temperature_site
    elif plan.temperature_site == "pseudonymise":
        pseudonyms["temperature_site"] = names.pseudonym(
            "temperature_site", reading.temperature_site
        )

    seal = SealingContext(keyring, subject, observed_at).seal
    sealed: dict[str, str | None] = {}
    bands: dict[str, str | None] = {}
    plan_of = policy.metric_plan
    for name, value in reading.metrics.items():
        metric = plan_of(name)
        if value is not None and not isfinite(value):
            raise _CannotApplyError(name, repr(value), "a finite number or null")
        try:
            if metric.seal:
                sealed[name] = None if value is None else seal(name, value)
            if metric.keep:
                clear[name] = value
            if metric.band is not None:
                bands[name] = None if value is None else metric.band.label(value)
        except (ValueError, OverflowError):
            raise _unappliable(name, value) from None

    return AnonymisedReading(
        subject,
        {"channel": channel, "entry_id": reading.entry_id},
        observed_at,
        clear,
        bands,
        sealed,
        pseudonyms,
    )


def unseal_reading(
    record: AnonymisedReading, keyring: Keyring
) -> dict[str, float | None]:
    """Every sealed metric of ``record`` back; :class:`UnsealError` if any fails."""
    context = SealingContext(keyring, record.subject, record.observed_at)
    return {
        name: None if token is None else context.unseal(name, token)
        for name, token in record.sealed.items()
    }


class _CannotApplyError(Exception):
    def __init__(self, field: str, found: str, allowed: str) -> None:
        self.field, self.found, self.allowed = field, found, allowed


def _unappliable(name: str, value: float | None) -> _CannotApplyError:
    # Sealing refuses a field name its length prefix cannot hold
    # (SEALED-FORMAT.md); a band grid cannot index a value near the
    # largest double.
    size = len(name.encode("utf-8"))
    if size > 0xFFFF:
        return _CannotApplyError(
            f"{name[:32]}...", f"a name of {size} bytes", "at most 65535 bytes"
        )
    return _CannotApplyError(name, repr(value), "a value the band grid can place")


def _cut(name: str, text: str, unit: str | None) -> str | None:
    # unit None: the policy drops the time.
    if unit is None:
        return None
    try:
        return truncate_time(text, unit)
    except ValueError:
        raise _CannotApplyError(name, repr(text), "a UTC ISO-8601 time") from None


def _check_time(name: str, value: object) -> None:
    if not isinstance(value, str):
        raise RecordError(
            f"{name}: expected a string or null, found {type(value).__name__}"
        )
    try:
        parse_utc(value)
    except ValueError:
        raise RecordError(
            f"{name}: {value!r} is not an ISO-8601 time with zone"
        ) from None


def _source(value: object) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise RecordError("source: expected an object with channel and entry_id")
    if set(value) != {"channel", "entry_id"}:
        raise RecordError(
            f"source: expected keys channel, entry_id, found {sorted(value)}"
        )
    channel = value["channel"]
    if channel is not None and (
        isinstance(channel, bool) or not isinstance(channel, (str, int))
    ):
        raise RecordError(
            f"source.channel: expected a string, integer or null, "
            f"found {type(channel).__name__}"
        )
    entry_id = value["entry_id"]
    if isinstance(entry_id, bool) or not isinstance(entry_id, int):
        raise RecordError(
            f"source.entry_id: expected int, found {type(entry_id).__name__}"
        )
    return {"channel": channel, "entry_id": entry_id}


def _mapping(
    doc: dict[str, Any], name: str, kind: type, *, nullable: bool = False
) -> dict[str, Any]:
    if name not in doc:
        raise RecordError(f"{name}: missing")
    value = doc[name]
    if not isinstance(value, dict):
        raise RecordError(f"{name}: expected an object, found {type(value).__name__}")
    for key, item in value.items():
        if item is None and nullable:
            continue
        if not isinstance(item, kind):
            expected = kind.__name__ + (" or null" if nullable else "")
            raise RecordError(
                f"{name}.{key}: expected {expected}, found {type(item).__name__}"
            )
    return value
