"""``vitalstream connect``: the ThingSpeak connector's command."""

from __future__ import annotations

import asyncio
import signal
import sys

import click

from vitalstream.cli import AppContext, pass_app
from vitalstream.config import Settings
from vitalstream.errors import ConfigError


@click.command("connect")
@click.option(
    "--once",
    is_flag=True,
    help="Poll every channel until caught up, print a summary, exit.",
)
@click.option(
    "--instance",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="This process's index among --instances; it polls channel ids i mod n.",
)
@click.option(
    "--instances",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="How many connector processes share the channels.",
)
@pass_app
def connect(app: AppContext, once: bool, instance: int, instances: int) -> None:
    """Poll the configured ThingSpeak channels into the raw topic.

    Runs until SIGTERM or SIGINT, then finishes the transactions in flight
    (records and cursors commit together) and exits. Exits 1 after --once
    if any channel had an error, 2 if its topics do not exist (it never
    creates them: `vitalstream topics create` does).
    """
    settings = app.settings
    if not settings.channels:
        raise ConfigError("channels", "none", "at least one [[channels]] entry")
    summary_lines, errors = asyncio.run(_run(settings, once, instance, instances))
    for line in summary_lines:
        click.echo(line)
    if once and errors:
        sys.exit(1)


async def _run(
    settings: Settings, once: bool, instance: int, instances: int
) -> tuple[list[str], int]:
    from connectors.thingspeak.source import ThingSpeakSource

    source = ThingSpeakSource(settings, instance=instance, instances=instances)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        summary = await source.run(once=once, stop=stop)
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
    return summary.lines(), summary.errors
