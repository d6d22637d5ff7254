"""ThingSpeak feeds (JSON answers and CSV exports) into readings and dead letters.

A feed entry carries its time and up to eight field values as text. Empty or
null means "not measured in this entry"; a value that is not a finite number
makes the whole entry a dead letter naming the field and the raw value, and
the rest of the feed goes on. Physically odd numbers (-127, 0) are kept:
later stages judge them.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
import reprlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from connectors.errors import ChannelResponseError
from connectors.thingspeak.fields import FieldMap, is_field_key
from schemas.records import DeadLetter, Reading, utc_iso
from vitalstream.config import ChannelSettings

# A decimal number as devices write it, in ASCII digits. Python's float()
# also takes "nan", "inf", "1_000" and the digits of any script (Arabic-Indic
# U+0660.., full-width U+FF10..), which are not what a device writes.
_DECIMAL = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?")
# ASCII digits, few enough for int() (it refuses more than 4,300); the
# range is checked with the JSON answer's ids.
_ENTRY_ID = re.compile(r"[0-9]{1,30}")
# Reasons and errors quote the value they refuse, and a value can be
# 400,000 characters: they quote its start and say how long it is.
_QUOTED_CHARS = 40
_QUOTE = reprlib.Repr()  # keyword arguments only from Python 3.12
_QUOTE.maxother = _QUOTED_CHARS
# Records carry entry ids as JSON integers, which orjson (and Kafka's
# consumers) hold in 64 bits; a CSV export can spell any integer.
_MAX_ENTRY_ID = 2**63 - 1


@dataclass(frozen=True, slots=True)
class ChannelInfo:
    """What a feed answer says about its channel."""

    id: int
    field_names: dict[str, str | None]
    last_entry_id: int | None = None


@dataclass(frozen=True, slots=True)
class FeedEntry:
    """One feed entry as received: its id, its time if it parsed, its raw document."""

    entry_id: int
    created_at: datetime | None
    raw: dict[str, Any] = field(repr=False)


@dataclass(frozen=True, slots=True)
class FeedPage:
    """One feed answer: the channel object and its entries in the order sent."""

    channel: ChannelInfo | None
    entries: list[FeedEntry]


def parse_time(text: str) -> datetime:
    """A ThingSpeak time as an aware UTC datetime; :class:`ValueError` if it is not one.

    Accepts ``2021-07-19T19:07:36Z``, ``2025-12-17T15:44:01+00:00`` (any
    offset) and the CSV export's ``2021-07-19 18:53:53 UTC``. A time with no
    zone is refused: guessing one would shift readings by hours.
    """
    value = text.strip()
    if value.endswith(" UTC"):
        value = value[: -len(" UTC")] + "+00:00"
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{quote(text)} is not an ISO-8601 time") from None
    if moment.tzinfo is None:
        raise ValueError(f"{quote(text)} has no time zone")
    return moment.astimezone(UTC)


def parse_value(raw: object) -> float | None:
    """A field value as a float, ``None`` when not measured; :class:`ValueError` else.

    ``None``, ``""`` and blanks mean not measured. Strings must be decimal
    numbers (``" 72 "``, ``"31.81250"``, ``"-127"``); JSON numbers must be
    finite. ``"nan"``, ``"inf"``, ``"TC/22.98"`` and booleans are refused.
    """
    if raw is None:
        return None
    if isinstance(raw, str):
        text = raw.strip()
        if not text:
            return None
        if not _DECIMAL.fullmatch(text):
            raise ValueError(f"{quote(raw)} is not a number")
        number = float(text)
    elif isinstance(raw, (int, float)) and not isinstance(raw, bool):
        number = float(raw)
    else:
        raise ValueError(f"{quote(raw)} is not a number")
    if not math.isfinite(number):
        raise ValueError(f"{quote(raw)} is not a finite number")
    return number


def quote(value: object) -> str:
    """``repr`` of a received value, cut to an excerpt that says how long it was."""
    if isinstance(value, str) and len(value) > _QUOTED_CHARS:
        return f"{value[:_QUOTED_CHARS]!r}... ({len(value):,} characters)"
    return _QUOTE.repr(value)


def parse_feed(doc: Any, channel: int) -> FeedPage:
    """Check the shape of a decoded ``feeds.json`` answer and take it apart.

    Raises :class:`ChannelResponseError` naming what is wrong: not an object,
    no ``feeds`` list, an entry without an integer ``entry_id``.
    """
    if not isinstance(doc, dict):
        raise ChannelResponseError(
            channel, f"expected a JSON object with 'feeds', found {_kind(doc)}"
        )
    feeds = doc.get("feeds")
    if not isinstance(feeds, list):
        raise ChannelResponseError(
            channel, f"'feeds' should be a list, found {_kind(feeds)}"
        )
    info = _channel_info(doc.get("channel"), channel)
    return FeedPage(info, [_feed_entry(raw, channel, n) for n, raw in enumerate(feeds)])


def read_csv_feed(text: str, channel: int) -> FeedPage:
    """A ThingSpeak CSV export (header ``created_at,entry_id,field1,...``) as a page.

    The export names no fields, so the page has no channel object. Raises
    :class:`ChannelResponseError` on a missing column, a bad ``entry_id`` or
    text the csv module cannot read (a stray carriage return, a huge field).
    """
    try:
        return FeedPage(None, _csv_entries(text, channel))
    except csv.Error as exc:
        raise ChannelResponseError(channel, f"CSV export unreadable: {exc}") from None


def _csv_entries(text: str, channel: int) -> list[FeedEntry]:
    rows = csv.DictReader(io.StringIO(text))
    missing = {"created_at", "entry_id"} - set(rows.fieldnames or ())
    if missing:
        raise ChannelResponseError(
            channel, f"CSV export lacks the column(s) {', '.join(sorted(missing))}"
        )
    entries = []
    for line, row in enumerate(rows, start=2):
        raw: dict[str, Any] = {"created_at": row["created_at"]}
        text = (row["entry_id"] or "").strip()
        # int() would also read "1_000" and other scripts' digits.
        if not _ENTRY_ID.fullmatch(text):
            raise ChannelResponseError(
                channel,
                f"CSV line {line}: entry_id {quote(row['entry_id'])} is no integer",
            )
        raw["entry_id"] = int(text)
        raw.update({k: v for k, v in row.items() if k and is_field_key(k)})
        entries.append(_feed_entry(raw, channel, line))
    return entries


def to_reading(
    entry: FeedEntry,
    fields: FieldMap,
    channel: ChannelSettings,
    *,
    ingested_at: str | None = None,
    read_at: datetime | None = None,
    future_tolerance_s: float = 0.0,
) -> Reading | DeadLetter:
    """Turn one entry into a :class:`Reading`, or a :class:`DeadLetter` saying why not.

    With ``read_at`` (the connector's clock when the entry was read), an
    entry dated more than ``future_tolerance_s`` after it is a dead letter:
    a reading from the future is a device clock gone wrong. The dead
    letter's origin is ``{channel, entry_id, field, raw_value}`` of the
    first bad part; its reason lists every bad field.
    """
    problems: list[tuple[str, object, str]] = []
    metrics: dict[str, float | None] = {}
    for key, raw in _field_values(entry.raw):
        try:
            metrics[fields.metric(key)] = parse_value(raw)
        except ValueError as exc:
            problems.append((key, raw, str(exc)))
    for key in fields.as_dict():
        metrics.setdefault(fields.metric(key), None)
    created = entry.raw.get("created_at")
    if entry.created_at is None:
        problems.insert(
            0, ("created_at", created, f"{quote(created)} is not a zoned time")
        )
    elif read_at is not None:
        ahead = entry.created_at - read_at
        if ahead > timedelta(seconds=future_tolerance_s):
            why = (
                f"{quote(created)} is {ahead.total_seconds():,.0f} s ahead of the "
                f"connector's clock ({utc_iso(read_at)}); "
                f"connector.future_tolerance_s allows {future_tolerance_s:g}"
            )
            problems.insert(0, ("created_at", created, why))
    if problems:
        key, raw, _ = problems[0]
        reason = "; ".join(f"{name}: {why}" for name, _, why in problems)
        return DeadLetter(
            stage="connector",
            reason=f"entry {entry.entry_id} of channel {channel.id}: {reason}",
            origin={
                "channel": channel.id,
                "entry_id": entry.entry_id,
                "field": key,
                "raw_value": raw if raw is None or isinstance(raw, str) else str(raw),
            },
            payload=entry_text(entry.raw),
        )
    assert entry.created_at is not None
    return Reading(
        channel=channel.id,
        entry_id=entry.entry_id,
        device=channel.device_label,
        observed_at=utc_iso(entry.created_at),
        ingested_at=ingested_at or utc_iso(datetime.now(UTC)),
        metrics=metrics,
        temperature_site=channel.temperature_site,
    )


def _field_values(raw: Mapping[str, Any]) -> Iterator[tuple[str, object]]:
    for key, value in raw.items():
        if is_field_key(key):
            yield key, value


def _channel_info(doc: Any, channel: int) -> ChannelInfo | None:
    if doc is None:
        return None
    if not isinstance(doc, dict):
        raise ChannelResponseError(
            channel, f"'channel' should be an object, found {_kind(doc)}"
        )
    names = {
        key: (value.strip() or None) if isinstance(value, str) else None
        for key, value in doc.items()
        if is_field_key(key)
    }
    last = doc.get("last_entry_id")
    return ChannelInfo(
        id=doc["id"] if isinstance(doc.get("id"), int) else channel,
        field_names=names,
        last_entry_id=last if isinstance(last, int) else None,
    )


def _feed_entry(raw: Any, channel: int, position: int) -> FeedEntry:
    if not isinstance(raw, dict):
        raise ChannelResponseError(
            channel, f"feeds[{position}] should be an object, found {_kind(raw)}"
        )
    entry_id = raw.get("entry_id")
    if (
        not isinstance(entry_id, int)
        or isinstance(entry_id, bool)
        or not 1 <= entry_id <= _MAX_ENTRY_ID
    ):
        raise ChannelResponseError(
            channel,
            f"feeds[{position}] has no positive integer entry_id "
            f"(found {_kind(entry_id)})",
        )
    created = raw.get("created_at")
    try:
        moment = parse_time(created) if isinstance(created, str) else None
    except ValueError:
        moment = None
    return FeedEntry(entry_id, moment, raw)


def entry_text(raw: Any) -> str:
    """An entry (or several) as received, as JSON text for a dead letter's payload."""
    try:
        return orjson.dumps(raw).decode()
    except TypeError:  # an integer beyond 64 bits, from a decoder other than orjson
        return json.dumps(raw, default=str)


def _kind(value: object) -> str:
    return "null" if value is None else type(value).__name__
