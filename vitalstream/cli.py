"""The ``vitalstream`` command line: one entry point, a subcommand per stage."""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path

import click

from vitalstream.config import Settings, load_settings
from vitalstream.errors import VitalstreamError


class AppContext:
    """What every subcommand receives: the config path, loaded on first use."""

    def __init__(self, config_path: Path | None) -> None:
        self.config_path = config_path
        self._settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(self.config_path)
        return self._settings


pass_app = click.make_pass_decorator(AppContext)

#: Third-party loggers whose debug output carries the records themselves.
RECORD_QUOTING_LOGGERS = ("aiokafka.conn", "aiokafka.producer")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    envvar="VITALSTREAM_CONFIG",
    help="TOML configuration file (default: ./vitalstream.toml if present).",
)
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default="info",
    show_default=True,
)
@click.version_option(package_name="vitalstream")
@click.pass_context
def cli(ctx: click.Context, config_path: Path | None, log_level: str) -> None:
    """Wearable vital signs from ThingSpeak into Kafka, anonymised, with alerts."""
    logging.basicConfig(
        level=log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # Their debug lines quote record keys and values (raw readings, device
    # labels in the clear): never below INFO, whatever --log-level says.
    quoting_level = max(logging.INFO, logging.getLevelName(log_level.upper()))
    for name in RECORD_QUOTING_LOGGERS:
        logging.getLogger(name).setLevel(quoting_level)
    ctx.obj = AppContext(config_path)


@cli.group()
def topics() -> None:
    """Kafka topics of the pipeline."""


@topics.command("create")
@pass_app
def topics_create(app: AppContext) -> None:
    """Create the configured topics; check the ones that already exist."""
    from vitalstream.topics import ensure_topics

    for outcome in asyncio.run(ensure_topics(app.settings)):
        count = outcome.partitions
        noun = "partition" if count == 1 else "partitions"
        click.echo(f"{outcome.name}: {outcome.action}, {count} {noun}")


@cli.command("config")
@pass_app
def show_config(app: AppContext) -> None:
    """Validate the configuration and print it as the processes will see it."""
    click.echo(app.settings.model_dump_json(indent=2))


def _register_stage_commands() -> None:
    # Each stage owns its commands, in its own package's `cli` module; they
    # are gathered here so that `vitalstream --help` lists everything.
    from importlib import import_module

    for module_name, names in STAGE_COMMANDS:
        module = import_module(module_name)
        for name in names:
            cli.add_command(getattr(module, name))


STAGE_COMMANDS: list[tuple[str, tuple[str, ...]]] = [
    ("streams.cli", ("anonymise",)),
    ("connectors.cli_tsserver", ("thingspeak",)),
    ("connectors.cli", ("connect",)),
    ("streams.alerting.cli", ("alert", "decrypt")),
    ("schemas.cli", ("keys", "policy")),
]


def main() -> None:
    """Run the command line; report vitalstream errors in one line, exit 2."""
    _register_stage_commands()
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except VitalstreamError as exc:
        click.echo(f"vitalstream: {exc}", err=True)
        sys.exit(2)
