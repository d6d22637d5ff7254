"""The authorised side's commands: `vitalstream alert` and `vitalstream decrypt`."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import click

from vitalstream.cli import AppContext, pass_app

if TYPE_CHECKING:
    from streams.decrypt import DecryptOutcome


@click.command("alert")
@click.option(
    "--idle-exit",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    help="Stop after this many seconds without a record (0: run until stopped).",
)
@pass_app
def alert(app: AppContext, idle_exit: float) -> None:
    """Unseal the anonymised topic and raise vital-sign alerts (authorised)."""
    from schemas.keyring import Keyring
    from streams.alerting.consumer import AlertingConsumer

    settings = app.settings
    keyring = Keyring.from_settings(settings)
    consumer = AlertingConsumer(settings, keyring)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await consumer.run(stop, idle_exit_s=idle_exit)

    with _kafka_errors_said(settings.kafka.bootstrap_servers):
        asyncio.run(main())
    click.echo(f"alerting: {consumer.stats.summary()}", err=True)


@click.command("decrypt")
@click.option("--since", help="Earliest observation time, UTC ISO-8601 (inclusive).")
@click.option("--until", help="Latest observation time, UTC ISO-8601 (exclusive).")
@click.option("--subject", help="A subject pseudonym, as the anonymised topic has it.")
@click.option("--device", help="A device label; its subject pseudonym is looked up.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "json"]),
    default="csv",
    show_default=True,
)
@click.option(
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    help="File to write (mode 600); default: standard output.",
)
@pass_app
def decrypt(
    app: AppContext,
    since: str | None,
    until: str | None,
    subject: str | None,
    device: str | None,
    fmt: str,
    output: Path | None,
) -> None:
    """Write anonymised readings with their unsealed values; every use is audited."""
    from schemas.keyring import Keyring
    from streams.decrypt import DecryptRequest, decrypt, parse_time

    if subject and device:
        raise click.UsageError("give --subject or --device, not both")
    settings = app.settings
    keyring = Keyring.from_settings(settings)
    if device:
        subject = keyring.pseudonymiser.pseudonym("device", device)
    request = DecryptRequest(
        since=parse_time(since, "--since") if since else None,
        until=parse_time(until, "--until") if until else None,
        subject=subject,
        format="json" if fmt == "json" else "csv",
        output=output,
    )
    with _kafka_errors_said(settings.kafka.bootstrap_servers):
        outcome = asyncio.run(decrypt(settings, keyring, request))
    failures = outcome.unseal_failures
    click.echo(
        f"decrypt: {outcome.records} records"
        + (f", {failures} could not be unsealed" if failures else "")
        + f"; audited in {settings.alerting.audit_log}",
        err=True,
    )
    if subject is not None and outcome.records == 0:
        click.echo(f"decrypt: {_none_found(outcome, subject, device)}", err=True)
    if not failures:
        return
    # Not a success: a wrong keyring would otherwise look like an empty or
    # short answer. But only when nothing opened is the keyring to blame.
    if failures >= outcome.read:
        raise click.ClickException(
            f"none of the {failures} record(s) could be unsealed: is this the "
            "keyring the anonymiser seals with? (keys.keyring)"
        )
    raise click.ClickException(
        f"{failures} of {outcome.read} record(s) could not be unsealed; the keyring "
        f"opened the other {outcome.read - failures}, so these were altered or "
        "damaged, or not sealed by this pipeline (see the warnings, or the error "
        "column)"
    )


def _none_found(outcome: DecryptOutcome, subject: str, device: str | None) -> str:
    # Which subject was asked for, and whether it exists at all.
    who = f"device {device!r} ({subject})" if device else subject
    if outcome.of_subject:
        return (
            f"{outcome.of_subject} record(s) of the subject, none in the time "
            f"asked for ({who})"
        )
    if device:
        return (
            f"no record has the subject pseudonym of {who}: check the label "
            "(a channel's `device`, or thingspeak-<channel id>)"
        )
    return f"no record has the subject {subject}"


@contextlib.contextmanager
def _kafka_errors_said(bootstrap_servers: str) -> Iterator[None]:
    # One line naming the broker instead of aiokafka's traceback.
    from aiokafka.errors import KafkaConnectionError

    from streams.alerting.errors import AlertingError

    try:
        yield
    except KafkaConnectionError as exc:
        raise AlertingError(
            f"cannot reach Kafka at {bootstrap_servers}: {exc}"
        ) from None
