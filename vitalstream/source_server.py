"""The project's ThingSpeak-compatible server, with what accounting needs.

``python -m vitalstream.source_server --fleet 1000 --pace 10`` serves what
``vitalstream thingspeak serve --control`` serves (connectors.tsserver, its
fault plan included) plus two control routes, so a test or the load run can
say exactly which entries the server made available:

- ``POST /_tsserver/freeze``: stop the clock. A paced fleet releases no
  further entry, so the set of entries anyone can read is fixed from then on.
- ``GET /_tsserver/entries``: that set, ``{"frozen_at": epoch or null,
  "channels": {"<id>": [[first_entry_id, last_entry_id], ...]}}``.

Routes sit under ``/_tsserver/`` because the fault plan never touches those.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path

import orjson
from aiohttp import web

from connectors.tsserver import FaultPlan, FleetConfig, build_app, build_store
from connectors.tsserver.runner import READY_LINE
from connectors.tsserver.store import ChannelStore

__all__ = ["entry_ranges", "main"]

logger = logging.getLogger(__name__)


def entry_ranges(store: ChannelStore) -> dict[str, list[list[int]]]:
    """Per channel, the entry ids readable now, as inclusive ``[first, last]`` runs."""
    ranges: dict[str, list[list[int]]] = {}
    now = store.clock()
    for channel in store:
        runs: list[list[int]] = []
        for index in range(store.visible(channel, now)):
            entry_id = channel.entry_id(index)
            if runs and runs[-1][1] == entry_id - 1:
                runs[-1][1] = entry_id
            else:
                runs.append([entry_id, entry_id])
        ranges[str(channel.id)] = runs
    return ranges


def _add_accounting_routes(app: web.Application, store: ChannelStore) -> None:
    frozen: dict[str, float] = {}

    async def freeze(request: web.Request) -> web.Response:
        if "at" not in frozen:
            moment = store.clock()
            frozen["at"] = moment
            store.clock = lambda: moment
            logger.info("clock frozen at %s", moment)
        return web.json_response(body=orjson.dumps({"frozen_at": frozen["at"]}))

    async def entries(request: web.Request) -> web.Response:
        body = {"frozen_at": frozen.get("at"), "channels": entry_ranges(store)}
        return web.Response(body=orjson.dumps(body), content_type="application/json")

    app.router.add_post("/_tsserver/freeze", freeze)
    app.router.add_get("/_tsserver/entries", entries)


async def _serve(store: ChannelStore, host: str, port: int) -> None:
    app = build_app(store, faults=FaultPlan(), control=True)
    _add_accounting_routes(app, store)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    stopped = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopped.set)
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound = runner.addresses[0][1]
        print(f"{READY_LINE}http://{host}:{bound} ({len(store)} channels)", flush=True)
        await stopped.wait()
    finally:
        await runner.cleanup()


def main(argv: list[str] | None = None) -> int:
    """Parse the options, build the store, serve until SIGTERM or SIGINT."""
    parser = argparse.ArgumentParser(prog="python -m vitalstream.source_server")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--fleet", type=int, default=0, help="simulated wearables")
    parser.add_argument("--fleet-base-id", type=int, default=900_001)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--entries-per-channel", type=int, default=240)
    parser.add_argument("--temperature-site", choices=["skin", "core"], default="skin")
    parser.add_argument("--pace", type=float, help="seconds between entries")
    parser.add_argument("--data", type=Path, action="append", default=[])
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    fleet = None
    if args.fleet:
        fleet = FleetConfig(
            size=args.fleet,
            seed=args.seed,
            base_channel_id=args.fleet_base_id,
            entries_per_channel=args.entries_per_channel,
            temperature_site="core" if args.temperature_site == "core" else "skin",
        )
    if fleet is None and not args.data:
        parser.error("give --fleet, --data or both")
    store = build_store(data=args.data, fleet=fleet, pace=args.pace)
    store.warm()
    asyncio.run(_serve(store, args.host, args.port))
    return 0


if __name__ == "__main__":
    sys.exit(main())
