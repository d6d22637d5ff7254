"""The connector against the project's ThingSpeak server, 1,000 simulated channels.

The server (``vitalstream thingspeak serve --fleet N``) runs in its own
process. Two measurements:

- The connector process (``vitalstream connect``) first backfills every
  channel's history into the raw topic: entries per second, from the first
  to the last raw record's CreateTime. Then, caught up, it polls each
  channel again every ``poll_interval_s`` (0.01 s, so as often as it can):
  channel polls per second, counted from the server's access log over a
  fixed window. Each such poll is one feeds.json request returning no new
  entry, the steady state of a connector.
- HTTP clients in this process, one after another, each doing the same
  "nothing new" poll of every channel (``start`` = now) with 32 requests in
  flight: aiohttp; httpx as the connector configures it (a semaphore of 32
  and a pool of 32 kept-alive connections); httpx with its default pool
  (100 connections, 20 kept alive) and every request started at once;
  httpx over a transport that sends through aiohttp (bench only); and the
  connector's own ThingSpeakClient.read_feed (httpx, tenacity, feed parsing).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import aiohttp
import httpx

from bench import kafka_io, stacks
from bench.aiohttp_transport import AiohttpTransport
from bench.env import Workspace
from bench.procs import MemoryWatch, PySpy, StageProcess, start_stage
from connectors.thingspeak.client import ThingSpeakClient
from connectors.tsserver import fleet_channel_ids
from vitalstream.config import ChannelSettings, ConnectorSettings

CONCURRENCY = 32
_READY = re.compile(r"tsserver listening on (http://\S+)")


async def run(
    channels: int,
    entries: int,
    polls: int,
    steady_s: float,
    memory: MemoryWatch,
    *,
    run_id: str,
    profile: bool = False,
) -> dict[str, Any]:
    ws = Workspace("connector", run_id=run_id)
    server = start_stage(
        "tsserver",
        [
            "thingspeak", "serve", "--port", "0", "--access-log",
            "--fleet", str(channels), "--entries-per-channel", str(entries),
        ],
        env=ws.env(),
        folder=ws.folder,
    )  # fmt: skip
    memory.watch("tsserver", server.pid)
    try:
        url = await _server_url(server)
        ids = fleet_channel_ids(channels)
        clients = await _clients(url, ids, polls)
        process = await _connector_process(
            ws, url, ids, entries, steady_s, memory, server, profile=profile
        )
    finally:
        memory.sample_now()
        server.stop()
        await ws.cleanup()
    return {
        "channels": channels,
        "entries_per_channel": entries,
        "concurrency": CONCURRENCY,
        "process": process,
        "clients": clients,
        "method": " ".join(__doc__.split()),
    }


async def _server_url(server: StageProcess, timeout_s: float = 120) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = _READY.search(server.log_tail(100_000))
        if found:
            return found.group(1)
        if not server.alive():
            break
        await asyncio.sleep(0.2)
    raise RuntimeError(f"tsserver did not start:\n{server.log_tail()}")


def _query() -> dict[str, str]:
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")
    return {"start": now, "results": "8000", "timezone": "UTC"}


async def _timed(
    polls: int, poll: Callable[[int], Awaitable[None]], limit: int | None
) -> float:
    # `limit` None: every poll started at once, the pool does the queueing.
    gate = asyncio.Semaphore(limit) if limit else None

    async def one(index: int) -> None:
        if gate is None:
            await poll(index)
            return
        async with gate:
            await poll(index)

    started = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(polls)))
    return polls / (time.perf_counter() - started)


async def _clients(url: str, ids: list[int], polls: int) -> dict[str, Any]:
    query = _query()
    results: dict[str, Any] = {"polls": polls}

    connector = aiohttp.TCPConnector(limit=CONCURRENCY)
    async with aiohttp.ClientSession(url, connector=connector) as session:

        async def aiohttp_poll(index: int) -> None:
            path = f"/channels/{ids[index % len(ids)]}/feeds.json"
            async with session.get(path, params=query) as response:
                await response.read()

        await _timed(CONCURRENCY, aiohttp_poll, CONCURRENCY)  # connect
        results["aiohttp"] = await _timed(polls, aiohttp_poll, CONCURRENCY)

    for name, limits, gate in (
        (
            "httpx_connector_limits",
            httpx.Limits(
                max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY
            ),
            CONCURRENCY,
        ),
        ("httpx_default_pool_all_at_once", httpx.Limits(), None),
    ):
        # A long pool timeout: requests started at once wait for a connection.
        timeout = httpx.Timeout(60.0)
        async with httpx.AsyncClient(
            base_url=url, limits=limits, timeout=timeout
        ) as client:

            async def httpx_poll(
                index: int, client: httpx.AsyncClient = client
            ) -> None:
                path = f"/channels/{ids[index % len(ids)]}/feeds.json"
                (await client.get(path, params=query)).raise_for_status()

            await _timed(CONCURRENCY, httpx_poll, CONCURRENCY)
            try:
                results[name] = await _timed(polls, httpx_poll, gate)
            except httpx.HTTPError as exc:
                results[name] = f"failed: {exc!r}"[:300]

    connector = aiohttp.TCPConnector(limit=CONCURRENCY)
    async with (
        aiohttp.ClientSession(connector=connector) as session,
        httpx.AsyncClient(base_url=url, transport=AiohttpTransport(session)) as over,
    ):

        async def over_poll(index: int) -> None:
            path = f"/channels/{ids[index % len(ids)]}/feeds.json"
            (await over.get(path, params=query)).raise_for_status()

        await _timed(CONCURRENCY, over_poll, CONCURRENCY)
        results["httpx_over_aiohttp_transport"] = await _timed(
            polls, over_poll, CONCURRENCY
        )

    settings = ConnectorSettings(base_url=url, concurrency=CONCURRENCY)
    channels = [ChannelSettings(id=i) for i in ids]
    now = datetime.now(UTC)
    async with ThingSpeakClient(settings) as ts_client:

        async def connector_poll(index: int) -> None:
            await ts_client.read_feed(channels[index % len(channels)], now, None, 8000)

        await _timed(CONCURRENCY, connector_poll, None)
        # ThingSpeakClient bounds its own requests in flight.
        results["thingspeak_client"] = await _timed(polls, connector_poll, None)
    return {
        key: round(value, 1) if isinstance(value, float) else value
        for key, value in results.items()
    }


async def _connector_process(
    ws: Workspace,
    url: str,
    ids: list[int],
    entries: int,
    steady_s: float,
    memory: MemoryWatch,
    server: StageProcess,
    *,
    profile: bool,
) -> dict[str, Any]:
    channels = "".join(f"[[channels]]\nid = {i}\n" for i in ids)
    settings = ws.write_config(
        f'[connector]\nbase_url = "{url}"\npoll_interval_s = 0.01\n'
        f"concurrency = {CONCURRENCY}\n{channels}"
    )
    await ws.create_topics(settings)
    connector = start_stage("connector", ["connect"], env=ws.env(), folder=ws.folder)
    memory.watch("connector", connector.pid)
    expected = len(ids) * entries
    try:
        ends = await _wait_for_entries(ws.topics["raw"], expected, connector)
        # Caught up: every poll from now on finds nothing new.
        await asyncio.sleep(1.0)
        spy = (
            PySpy(connector.pid, ws.folder / "connector.collapsed") if profile else None
        )
        before = _requests_logged(server)
        started = time.monotonic()
        await asyncio.sleep(steady_s)
        polls = _requests_logged(server) - before
        elapsed = time.monotonic() - started
        collapsed = spy.stop() if spy else None
        if collapsed is not None:
            stacks.save(
                "connector-steady-polls",
                stacks.summarise_collapsed(
                    collapsed,
                    f"py-spy, connector process polling {len(ids)} caught-up channels",
                ),
            )
    finally:
        memory.sample_now()
        connector.stop()
    times = await kafka_io.read_times(ws.topics["raw"])
    return {
        "entries": times.count,
        "raw_end_offsets": ends,
        "backfill_entries_per_s": round(times.rate, 1),
        "backfill_span_s": round(
            ((times.last_ms or 0) - (times.first_ms or 0)) / 1000, 2
        ),
        "steady_polls_per_s": round(polls / elapsed, 1),
        "steady_window_s": round(elapsed, 1),
    }


def _requests_logged(server: StageProcess) -> int:
    with server.log.open("rb") as log:
        return sum(1 for line in log if b'"GET /channels/' in line)


async def _wait_for_entries(
    topic: str, expected: int, connector: StageProcess, timeout_s: float = 300
) -> int:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        ends = await kafka_io.end_offsets(topic)
        # Transaction markers take offsets too: one per partition written
        # per transaction, so the end offsets pass the entry count.
        total = sum(ends.values())
        if total >= expected:
            times = await kafka_io.read_times(topic)
            if times.count >= expected:
                return total
        if not connector.alive():
            raise RuntimeError(f"the connector exited:\n{connector.log_tail()}")
        await asyncio.sleep(1.0)
    raise RuntimeError(f"the connector did not backfill {expected} entries in time")
