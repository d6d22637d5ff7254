"""``vitalstream thingspeak serve``: the project's own ThingSpeak-compatible server."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import click

from vitalstream.errors import ConfigError

log = logging.getLogger(__name__)


@click.group("thingspeak")
def thingspeak() -> None:
    """A ThingSpeak-compatible server for demos, tests and benchmarks."""


@thingspeak.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True)
@click.option(
    "--data",
    "data",
    type=click.Path(path_type=Path, exists=True),
    multiple=True,
    help="A CSV export, a feeds.json answer, or a folder of them (repeatable).",
)
@click.option(
    "--channel-id",
    type=click.IntRange(min=1),
    help="Channel id of CSV exports not in a channel-<id> folder.",
)
@click.option("--fleet", "fleet_size", type=click.IntRange(min=0), default=0)
@click.option("--fleet-base-id", type=click.IntRange(min=1), default=900_001)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--entries-per-channel",
    type=click.IntRange(min=0),
    default=240,
    show_default=True,
    help="Simulated history of each wearable (at start, when paced).",
)
@click.option(
    "--temperature-site",
    type=click.Choice(["skin", "core", "mixed"]),
    default="skin",
    show_default=True,
    help="Where the simulated wearables measure temperature; mixed: every "
    "third one core, the others skin.",
)
@click.option(
    "--pace",
    type=click.FloatRange(min=0.001),
    help="Release one new entry per channel every SECONDS, stamped now.",
)
@click.option("--private", is_flag=True, help="Every channel needs its read key.")
@click.option(
    "--keys-file",
    type=click.Path(path_type=Path, dir_okay=False),
    default=Path("var/tsserver-keys.env"),
    show_default=True,
    help="Where --private saves the read keys (.env format, mode 0600).",
)
@click.option("--control", is_flag=True, help="Enable /_tsserver/ fault control.")
@click.option("--access-log", is_flag=True, help="Log every request.")
def serve(
    host: str,
    port: int,
    data: tuple[Path, ...],
    channel_id: int | None,
    fleet_size: int,
    fleet_base_id: int,
    seed: int,
    entries_per_channel: int,
    temperature_site: str,
    pace: float | None,
    private: bool,
    keys_file: Path,
    control: bool,
    access_log: bool,
) -> None:
    """Serve recorded channels and/or a simulated fleet over ThingSpeak's read API."""
    from connectors.tsserver import (
        FLEET_SITES,
        FleetConfig,
        build_store,
        serve_until_stopped,
    )
    from connectors.tsserver.keys import make_private, write_keys_file

    if not data and fleet_size == 0:
        raise ConfigError("--data/--fleet", "neither", "recordings, a fleet, or both")
    fleet = None
    if fleet_size:
        fleet = FleetConfig(
            size=fleet_size,
            seed=seed,
            base_channel_id=fleet_base_id,
            entries_per_channel=entries_per_channel,
            temperature_site=FLEET_SITES[temperature_site],
        )
    try:
        store = build_store(data=data, channel_id=channel_id, fleet=fleet, pace=pace)
    except ValueError as exc:
        raise ConfigError("--data/--fleet-base-id", str(exc), "unique ids") from exc
    # Simulated histories are made on first read; make them now, so that
    # the first poll of a benchmark measures serving, not simulating.
    store.warm()
    if private:
        write_keys_file(keys_file, make_private(store))
        log.info("read keys of %s channels saved in %s", len(store), keys_file)

    def ready(server: object) -> None:
        url = getattr(server, "url", "")
        click.echo(f"tsserver listening on {url} ({len(store)} channels)")

    try:
        asyncio.run(
            serve_until_stopped(
                store,
                host=host,
                port=port,
                control=control,
                access_log=access_log,
                on_ready=ready,
            )
        )
    except OSError as exc:
        # Port taken, or an address this machine does not have.
        raise ConfigError(
            "--host/--port",
            f"{host}:{port} cannot be bound ({exc.strerror or exc})",
            "a free port on an address of this machine (--port 0 picks one)",
        ) from exc
