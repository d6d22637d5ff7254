"""A small ThingSpeak-like server over hand-written feed entries, for hostile feeds.

tsserver keeps its values as numbers and stamps its own times; the feeds a
hostile tester serves (a 400,000-character value, a time in 2099, the same
entry_id twice) are written here entry by entry instead. The read rule is
ThingSpeak's: entries with ``start <= created_at <= end`` (whole seconds,
UTC), the newest ``results`` of them, oldest first.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from aiohttp import web
from aiohttp.test_utils import TestServer

# Answers a request itself instead of the feed (slow, huge, redirected...).
Override = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class HostileChannel:
    """One channel: its field names and its entries as served, in write order."""

    id: int
    entries: list[dict[str, Any]] = field(default_factory=list)
    field_names: dict[str, str] = field(default_factory=lambda: {"field1": "BPM"})
    override: Override | None = None
    reads: int = 0

    def add(self, entry_id: int, created_at: datetime | str, **fields: str) -> None:
        """Append an entry (``field1="72"``...); a datetime is written as UTC ``Z``."""
        if isinstance(created_at, datetime):
            created_at = created_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        self.entries.append({"created_at": created_at, "entry_id": entry_id, **fields})


@dataclass
class HostileServer:
    url: str
    channels: dict[int, HostileChannel]


def _query_time(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)


def _entry_time(entry: dict[str, Any]) -> datetime | None:
    try:
        return datetime.fromisoformat(str(entry["created_at"])).astimezone(UTC)
    except ValueError:
        return None


def _select(channel: HostileChannel, query: dict[str, str]) -> list[dict[str, Any]]:
    start = _query_time(query["start"]) if "start" in query else None
    end = _query_time(query["end"]) if "end" in query else None
    chosen = []
    for entry in channel.entries:
        moment = _entry_time(entry)
        if moment is not None:
            moment = moment.replace(microsecond=0)
            if (start and moment < start) or (end and moment > end):
                continue
        chosen.append(entry)
    results = int(query.get("results", "100"))
    return chosen[-results:] if results else []


@asynccontextmanager
async def serve_hostile(*channels: HostileChannel) -> AsyncIterator[HostileServer]:
    """Serve ``/channels/{id}/feeds.json`` for these channels on a free port."""
    by_id = {channel.id: channel for channel in channels}

    async def feeds(request: web.Request) -> web.StreamResponse:
        channel = by_id.get(int(request.match_info["id"]))
        if channel is None:
            return web.Response(status=404, body=b"-1")
        channel.reads += 1
        if channel.override is not None:
            return await channel.override(request)
        meta = {"id": channel.id, **channel.field_names}
        body = {"channel": meta, "feeds": _select(channel, dict(request.query))}
        return web.Response(body=orjson.dumps(body), content_type="application/json")

    app = web.Application()
    app.router.add_get("/channels/{id}/feeds.json", feeds)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield HostileServer(str(server.make_url("")).rstrip("/"), by_id)
    finally:
        await server.close()
