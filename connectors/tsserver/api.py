"""The ThingSpeak read API over a :class:`ChannelStore`, without HTTP.

Behaviour follows the hosted API and its open-source ancestor
(iobridge/thingspeak, ``FeedFactory`` and ``FeedController``):

- a feed holds at most 100 entries when the request has none of
  ``results``, ``days``, ``minutes``, ``start``, ``end``; else at most 8000,
  or ``results`` when it is smaller. The newest entries of the selection are
  returned, oldest first. ``results`` is read leniently (``"abc"`` is 0).
- ``start`` and ``end`` (``YYYY-MM-DD HH:NN:SS``, UTC) are inclusive;
  ``days``/``minutes`` select the last N days/minutes before now.
- a private channel read with no key or a wrong one answers HTTP 400 and the
  JSON body ``-1``; a missing entry answers 200 and ``-1``. The key is read
  from a ``THINGSPEAKAPIKEY`` header (the HTTP layer passes it as
  ``api_key``), else from the ``key``, ``api_key`` or ``apikey`` parameter.
- this server's own choices: an unknown channel answers 404 and ``-1``; a
  ``start``/``end`` it cannot read answers 400 and ``-1``.
"""

# TODO(#3): timezone/offset, round, status, location, metadata and the
# aggregations (timescale, sum, average, median) are accepted but ignored.

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from connectors.tsserver.channels import Channel
from connectors.tsserver.errors import QueryError
from connectors.tsserver.store import ChannelStore
from connectors.tsserver.wire import format_time, parse_leading_int, parse_time

DEFAULT_RESULTS = 100
MAX_RESULTS = 8000
NO_ACCESS = b"-1"


@dataclass(frozen=True)
class Answer:
    """An HTTP status and a JSON body."""

    status: int
    body: bytes


def read_feed(
    store: ChannelStore,
    channel_id: int,
    params: Mapping[str, str],
    *,
    field: int | None = None,
    api_key: str | None = None,
) -> Answer:
    """``/channels/{id}/feeds.json``, or ``/fields/{field}.json`` when given."""
    channel, refused = _open(store, channel_id, params, api_key)
    if channel is None:
        return refused
    now = store.clock()
    try:
        limit, start, end = _selection(params, now)
    except QueryError:
        return Answer(400, NO_ACCESS)
    visible = store.visible(channel, now)
    low, high = store.bounds(channel, visible, start, end)
    low = max(low, high - limit)
    keys = channel.field_keys
    if field is not None:
        wanted = f"field{field}"
        positions = [i for i, key in enumerate(keys) if key == wanted]
    else:
        positions = list(range(len(keys)))
    feeds = []
    for index, values in enumerate(channel.rows(low, high), start=low):
        entry: dict[str, Any] = {
            "created_at": format_time(store.time_of(channel, index)),
            "entry_id": channel.entry_id(index),
        }
        for position in positions:
            entry[keys[position]] = values[position]
        feeds.append(entry)
    meta = _channel_object(channel, visible)
    return Answer(200, orjson.dumps({"channel": meta, "feeds": feeds}))


def read_entry(
    store: ChannelStore,
    channel_id: int,
    entry: str,
    params: Mapping[str, str],
    *,
    api_key: str | None = None,
) -> Answer:
    """``/channels/{id}/feeds/{entry}.json``: ``last`` or an ``entry_id``."""
    channel, refused = _open(store, channel_id, params, api_key)
    if channel is None:
        return refused
    visible = store.visible(channel)
    if entry == "last":
        index: int | None = visible - 1 if visible else None
    elif entry.isdigit():
        index = channel.index_of(int(entry))
    else:
        index = None
    if index is None or index >= visible:
        return Answer(200, NO_ACCESS)
    row: dict[str, Any] = {
        "created_at": format_time(store.time_of(channel, index)),
        "entry_id": channel.entry_id(index),
    }
    row.update(zip(channel.field_keys, channel.values(index), strict=True))
    return Answer(200, orjson.dumps(row))


def _open(
    store: ChannelStore,
    channel_id: int,
    params: Mapping[str, str],
    api_key: str | None,
) -> tuple[Channel | None, Answer]:
    channel = store.get(channel_id)
    if channel is None:
        return None, Answer(404, NO_ACCESS)
    if channel.read_key is not None:
        given = api_key
        for name in ("key", "api_key", "apikey"):
            given = given or params.get(name)
        given = (given or "").strip()
        if not hmac.compare_digest(given.encode(), channel.read_key.encode()):
            return None, Answer(400, NO_ACCESS)
    return channel, Answer(200, b"")


def _selection(
    params: Mapping[str, str], now: float
) -> tuple[int, int | None, int | None]:
    windowed = any(params.get(key) for key in ("days", "minutes", "start", "end"))
    limit = MAX_RESULTS if windowed or params.get("results") else DEFAULT_RESULTS
    if params.get("results"):
        limit = max(0, min(MAX_RESULTS, parse_leading_int(params["results"])))
    start: int | None = None
    end: int | None = None
    if params.get("days"):
        start = int(now) - parse_leading_int(params["days"]) * 86_400
    if params.get("minutes"):
        start = int(now) - parse_leading_int(params["minutes"]) * 60
    if params.get("start"):
        start = parse_time(params["start"], name="start")
    if params.get("end"):
        end = parse_time(params["end"], name="end")
    return limit, start, end


def _channel_object(channel: Channel, visible: int) -> dict[str, Any]:
    meta = channel.channel_object()
    meta["last_entry_id"] = channel.entry_id(visible - 1) if visible else None
    return meta
