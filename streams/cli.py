"""Command-line commands of the stream stages."""

from __future__ import annotations

import click

from vitalstream.cli import AppContext, pass_app


@click.command("anonymise")
@click.option(
    "--guarantee",
    type=click.Choice(["at_least_once", "exactly_once"]),
    default=None,
    help="Processing guarantee (default: anonymiser.guarantee).",
)
@click.option(
    "--web-port",
    type=click.IntRange(0, 65535),
    default=None,
    help="Port of the worker's web server; 0 turns it off "
    "(default: anonymiser.web_port).",
)
@pass_app
def anonymise(app: AppContext, guarantee: str | None, web_port: int | None) -> None:
    """Seal raw readings into the anonymised topic (one worker of the group).

    Start several to share the raw topic's partitions; SIGTERM stops one
    after it has committed what it wrote.
    """
    from streams.anonymiser.worker import run_worker

    run_worker(
        app.settings,
        guarantee=guarantee,  # type: ignore[arg-type]  # click checked the choice
        web_port=web_port,
    )
