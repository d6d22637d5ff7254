"""The aiohttp application: ThingSpeak's read routes over a channel store.

Routes (all ``GET``, JSON only):
``/channels/{id}/feeds.json``, ``/channels/{id}/feeds/last.json``,
``/channels/{id}/feeds/{entry_id}.json``, ``/channels/{id}/fields/{n}.json``.
With ``control=True`` also ``GET /_tsserver/status`` and
``PUT``/``DELETE /_tsserver/faults`` (a :class:`FaultPlan` as JSON).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import orjson
from aiohttp import web

from connectors.tsserver.api import NO_ACCESS, Answer, read_entry, read_feed
from connectors.tsserver.faults import FaultPlan, FaultRule
from connectors.tsserver.store import ChannelStore

log = logging.getLogger(__name__)

STORE: web.AppKey[ChannelStore] = web.AppKey("store", ChannelStore)
FAULTS: web.AppKey[FaultPlan] = web.AppKey("faults", FaultPlan)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def build_app(
    store: ChannelStore, *, faults: FaultPlan | None = None, control: bool = False
) -> web.Application:
    """An application serving ``store``, injecting the faults of ``faults``."""
    app = web.Application(middlewares=[_inject_faults])
    app[STORE] = store
    app[FAULTS] = faults if faults is not None else FaultPlan()
    app.router.add_get("/channels/{channel}/feeds.json", _feeds)
    app.router.add_get("/channels/{channel}/feeds/{entry}.json", _entry)
    app.router.add_get("/channels/{channel}/fields/{field}.json", _field)
    if control:
        app.router.add_get("/_tsserver/status", _status)
        app.router.add_put("/_tsserver/faults", _set_faults)
        app.router.add_delete("/_tsserver/faults", _clear_faults)
    return app


def _json(answer: Answer) -> web.Response:
    return web.Response(
        status=answer.status,
        body=answer.body,
        content_type="application/json",
        charset="utf-8",
    )


def _header_key(request: web.Request) -> str | None:
    # The API takes the key from any header whose name holds THINGSPEAKAPIKEY
    # (X-THINGSPEAKAPIKEY included), before the query parameters.
    for name, value in request.headers.items():
        if "THINGSPEAKAPIKEY" in name.upper():
            return value
    return None


def _channel_id(request: web.Request) -> int | None:
    text = request.match_info.get("channel", "")
    return int(text) if text.isdigit() else None


async def _feeds(request: web.Request) -> web.Response:
    channel_id = _channel_id(request)
    if channel_id is None:
        return _json(Answer(404, NO_ACCESS))
    store = request.app[STORE]
    key = _header_key(request)
    return _json(read_feed(store, channel_id, request.query, api_key=key))


async def _entry(request: web.Request) -> web.Response:
    channel_id = _channel_id(request)
    if channel_id is None:
        return _json(Answer(404, NO_ACCESS))
    entry = request.match_info["entry"]
    key = _header_key(request)
    return _json(
        read_entry(request.app[STORE], channel_id, entry, request.query, api_key=key)
    )


async def _field(request: web.Request) -> web.Response:
    channel_id = _channel_id(request)
    field = request.match_info["field"]
    if channel_id is None or field not in {str(n) for n in range(1, 9)}:
        return _json(Answer(404, NO_ACCESS))
    store = request.app[STORE]
    key = _header_key(request)
    return _json(
        read_feed(store, channel_id, request.query, field=int(field), api_key=key)
    )


async def _status(request: web.Request) -> web.Response:
    store = request.app[STORE]
    body = {"channels": len(store), "faults": dict(request.app[FAULTS].applied)}
    return _json(Answer(200, orjson.dumps(body)))


async def _set_faults(request: web.Request) -> web.Response:
    try:
        plan = FaultPlan.from_json(await request.read())
    except ValueError as exc:
        raise web.HTTPBadRequest(text=str(exc)) from exc
    current = request.app[FAULTS]
    current.rules[:] = plan.rules
    log.info("fault plan replaced: %s rules", len(plan.rules))
    return _json(Answer(200, current.to_json()))


async def _clear_faults(request: web.Request) -> web.Response:
    request.app[FAULTS].clear()
    return _json(Answer(200, b"{}"))


@web.middleware
async def _inject_faults(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path.startswith("/_tsserver/"):
        return await handler(request)
    rule = request.app[FAULTS].take(_channel_id(request))
    if rule is None:
        return await handler(request)
    log.debug("injecting %s into %s", rule.kind, request.path)
    if rule.kind == "respond":
        return _fixed(rule)
    if rule.kind == "hang":
        await asyncio.sleep(rule.seconds)
        return await handler(request)
    normal = await handler(request)
    body = normal.body if isinstance(normal, web.Response) else None
    whole = bytes(body) if isinstance(body, bytes | bytearray) else b""
    half = whole[: len(whole) // 2]
    if rule.kind == "truncate":
        return web.Response(
            status=normal.status, body=half, content_type="application/json"
        )
    return await _disconnect(request, half, len(whole))


def _fixed(rule: FaultRule) -> web.Response:
    response = web.Response(
        status=rule.status, body=rule.body, content_type=rule.content_type
    )
    for name, value in rule.headers:
        response.headers[name] = value
    return response


async def _disconnect(
    request: web.Request, half: bytes, promised: int
) -> web.StreamResponse:
    response = web.StreamResponse(status=200)
    response.content_type = "application/json"
    response.content_length = promised
    await response.prepare(request)
    await response.write(half)
    if request.transport is not None:
        request.transport.close()
    return response
