"""Record types that travel on vitalstream's topics, and their JSON encoding.

Each record carries a ``schema`` tag, ``<type>/<version>``; see RECORDS.md
in this folder for the documented shapes. Decoders refuse anything that is
not exactly the documented shape with :class:`RecordError`, whose message
names the offending field; a stage turns that into a dead letter.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import orjson

from schemas.errors import RecordError

T = TypeVar("T")

RAW_SCHEMA = "vitalstream.raw/1"
DEADLETTER_SCHEMA = "vitalstream.deadletter/2"
_DEADLETTER_SCHEMAS = ("vitalstream.deadletter/1", DEADLETTER_SCHEMA)

# What utc_iso writes: seconds, or milliseconds that are not all zero.
_UTC_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.(?!000)\d{3})?Z", re.ASCII)
# A ThingSpeak channel has eight fields; room for channels merged or mapped.
MAX_METRICS = 32
MAX_NAME_CHARS = 128
# Kafka ids of channels and entries are positive and fit a signed 64-bit int.
_MAX_ID = 2**63 - 1
# A dead letter must be writable where the record it stands for was not:
# the producer refuses records above its max_request_size (1 MiB), and a
# stage that cannot write a dead letter stops, then stops again at the same
# record on every restart. So its texts are excerpts of bounded length.
DEADLETTER_PAYLOAD_CHARS = 16_384
DEADLETTER_TEXT_CHARS = 1_024

# Identifying or descriptive fields of a raw reading, beside its metrics.
# The field policy (schemas.policy) names these and metric names alike.
READING_ATTRIBUTES = (
    "device",
    "channel",
    "entry_id",
    "observed_at",
    "ingested_at",
    "temperature_site",
)
# Where a temperature was taken (CLINICAL.md); config.MeasurementSite.
TEMPERATURE_SITES = ("core", "oral", "tympanic", "axillary", "skin")
_RAW_FIELDS = frozenset({"schema", "metrics", "temperature_site", *READING_ATTRIBUTES})


def utc_iso(moment: datetime) -> str:
    """Format an aware datetime as UTC ISO-8601 with a ``Z``: ``...T19:07:36Z``.

    Sub-second precision is kept only when present (milliseconds).
    """
    if moment.tzinfo is None:
        raise ValueError("a naive datetime has no time zone; give it one (UTC)")
    moment = moment.astimezone(UTC)
    # Milliseconds or nothing: one instant has one spelling (a time of
    # 12 microseconds past the second is written without a fraction).
    # Not strftime: its %Y writes year 21 as "21", and it is slower.
    milliseconds = moment.microsecond // 1000
    text = (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}"
        f"T{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}"
    )
    if milliseconds:
        return f"{text}.{milliseconds:03d}Z"
    return text + "Z"


def parse_utc(text: str) -> datetime:
    """Parse a UTC ISO-8601 time as written by :func:`utc_iso` (or with an offset)."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError(f"time {text!r} has no time zone")
    return moment.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class Reading:
    """One ThingSpeak entry turned into named metrics: the raw topic's record.

    ``metrics`` maps metric names (``heart_rate``) to floats, or to ``None``
    when the entry did not measure that metric. Physically odd values (-127,
    0) are kept as sent; later stages judge them.
    """

    channel: int
    entry_id: int
    device: str
    observed_at: str
    ingested_at: str
    metrics: dict[str, float | None]
    temperature_site: str = "skin"

    @property
    def source_key(self) -> tuple[int, int]:
        """``(channel, entry_id)``: what makes an entry unique."""
        return (self.channel, self.entry_id)

    def to_json(self) -> bytes:
        return orjson.dumps(
            {
                "schema": RAW_SCHEMA,
                "channel": self.channel,
                "entry_id": self.entry_id,
                "device": self.device,
                "observed_at": self.observed_at,
                "ingested_at": self.ingested_at,
                "temperature_site": self.temperature_site,
                "metrics": self.metrics,
            }
        )

    @classmethod
    def from_json(cls, data: bytes | str) -> Reading:
        """Decode a raw-topic value; raise :class:`RecordError` on any deviation."""
        doc = _load_object(data)
        _expect_schema(doc, RAW_SCHEMA)
        if len(doc) > len(_RAW_FIELDS):
            unknown = sorted(set(doc) - _RAW_FIELDS)
            raise RecordError(f"{unknown[0][:64]}: not a field of {RAW_SCHEMA}")
        metrics = _field(doc, "metrics", dict)
        if len(metrics) > MAX_METRICS:
            raise RecordError(
                f"metrics: {len(metrics)} metrics, at most {MAX_METRICS} allowed"
            )
        checked: dict[str, float | None] = {}
        for name, value in metrics.items():
            if not name or len(name) > MAX_NAME_CHARS:
                raise RecordError(
                    f"metrics: a metric name must be 1 to {MAX_NAME_CHARS} "
                    f"characters, found {len(name)} ({name[:32]!r})"
                )
            if value is None:
                checked[name] = None
            elif isinstance(value, (int, float)) and not isinstance(value, bool):
                if not math.isfinite(value):
                    raise RecordError(f"metrics.{name}: {value!r} is not finite")
                checked[name] = float(value)
            else:
                raise RecordError(
                    f"metrics.{name}: expected a number or null, "
                    f"found {type(value).__name__}"
                )
        reading = cls(
            channel=_field(doc, "channel", int),
            entry_id=_field(doc, "entry_id", int),
            device=_field(doc, "device", str),
            observed_at=_time_field(doc, "observed_at"),
            ingested_at=_time_field(doc, "ingested_at"),
            metrics=checked,
            temperature_site=_field(doc, "temperature_site", str),
        )
        if not reading.device:
            raise RecordError("device: must not be empty")
        for name in ("channel", "entry_id"):
            number = getattr(reading, name)
            if not 1 <= number <= _MAX_ID:
                raise RecordError(f"{name}: {number} is not between 1 and 2**63-1")
        if reading.temperature_site not in TEMPERATURE_SITES:
            raise RecordError(
                f"temperature_site: {reading.temperature_site[:64]!r} is not one of "
                f"{', '.join(TEMPERATURE_SITES)}"
            )
        return reading


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A record a stage could not process, kept with the reason and its origin.

    ``origin`` says where it came from: for the connector the channel,
    ``entry_id``, field and raw value; for a stream stage the source topic,
    partition and offset. ``payload`` is the original bytes as text (UTF-8,
    with undecodable bytes escaped), or ``None`` when there was none.

    Texts are cut to excerpts so that the dead letter stays writable: the
    reason and each text in ``origin`` to ``DEADLETTER_TEXT_CHARS``, the
    payload to ``DEADLETTER_PAYLOAD_CHARS``; ``payload_truncated`` says
    whether the payload was cut.
    """

    stage: str
    reason: str
    origin: dict[str, Any]
    payload: str | None
    failed_at: str = field(default_factory=lambda: utc_iso(datetime.now(UTC)))
    payload_truncated: bool = False

    def __post_init__(self) -> None:
        set_field = object.__setattr__
        set_field(self, "reason", _excerpt(self.reason, DEADLETTER_TEXT_CHARS))
        set_field(
            self,
            "origin",
            {
                _excerpt(str(key), DEADLETTER_TEXT_CHARS): (
                    _excerpt(value, DEADLETTER_TEXT_CHARS)
                    if isinstance(value, str)
                    else value
                )
                for key, value in self.origin.items()
            },
        )
        payload = self.payload
        if payload is not None and len(payload) > DEADLETTER_PAYLOAD_CHARS:
            set_field(self, "payload", _excerpt(payload, DEADLETTER_PAYLOAD_CHARS))
            set_field(self, "payload_truncated", True)

    def to_json(self) -> bytes:
        return orjson.dumps(
            {
                "schema": DEADLETTER_SCHEMA,
                "stage": self.stage,
                "reason": self.reason,
                "origin": self.origin,
                "payload": self.payload,
                "payload_truncated": self.payload_truncated,
                "failed_at": self.failed_at,
            }
        )

    @classmethod
    def from_json(cls, data: bytes | str) -> DeadLetter:
        """Decode a dead letter of version 1 or 2; :class:`RecordError` if not."""
        doc = _load_object(data)
        if doc.get("schema") not in _DEADLETTER_SCHEMAS:
            _expect_schema(doc, DEADLETTER_SCHEMA)
        payload = doc.get("payload")
        if payload is not None and not isinstance(payload, str):
            raise RecordError("payload: expected a string or null")
        truncated = doc.get("payload_truncated", False)
        if not isinstance(truncated, bool):
            raise RecordError("payload_truncated: expected a boolean")
        return cls(
            stage=_field(doc, "stage", str),
            reason=_field(doc, "reason", str),
            origin=_field(doc, "origin", dict),
            payload=payload,
            failed_at=_time_field(doc, "failed_at"),
            payload_truncated=truncated,
        )


def payload_text(data: bytes | None) -> str | None:
    """Original bytes as text for a dead letter, never failing on bad UTF-8."""
    if data is None:
        return None
    return data.decode("utf-8", errors="backslashreplace")


def _excerpt(text: str, limit: int) -> str:
    # Head and tail: a reason says what failed at its end, a payload starts
    # with its schema.
    if len(text) <= limit:
        return text
    cut = f" ...({len(text)} characters in all)... "
    head = (limit - len(cut)) * 2 // 3
    tail = limit - len(cut) - head
    return text[:head] + cut + text[-tail:]


def _load_object(data: bytes | str) -> dict[str, Any]:
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise RecordError(f"not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise RecordError(f"expected a JSON object, found {type(doc).__name__}")
    return doc


def _expect_schema(doc: dict[str, Any], expected: str) -> None:
    found = doc.get("schema")
    if found != expected:
        raise RecordError(f"schema: expected {expected!r}, found {found!r}")


def _field(doc: dict[str, Any], name: str, kind: type[T]) -> T:
    if name not in doc:
        raise RecordError(f"{name}: missing")
    value = doc[name]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise RecordError(
            f"{name}: expected {kind.__name__}, found {type(value).__name__}"
        )
    return value


def _time_field(doc: dict[str, Any], name: str) -> str:
    # Times on the topics are UTC with a "Z" (RECORDS.md): the anonymiser
    # binds them byte for byte into sealed values, so one instant has one
    # spelling.
    text = _field(doc, name, str)
    try:
        moment = parse_utc(text)
    except ValueError:
        raise RecordError(
            f"{name}: {text[:64]!r} is not an ISO-8601 time with zone"
        ) from None
    if not _UTC_TIME.fullmatch(text):
        raise RecordError(
            f"{name}: {text[:64]!r} is not in UTC as vitalstream writes it "
            f"({utc_iso(moment)!r})"
        )
    return text
