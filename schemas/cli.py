"""`vitalstream keys ...` and `vitalstream policy ...`: keyring and field policy."""

from __future__ import annotations

from pathlib import Path

import click

from vitalstream.cli import AppContext, pass_app

_PATH = click.Path(path_type=Path, dir_okay=False)


@click.group()
def keys() -> None:
    """The keyring: sealing keys (one primary) and the pseudonym key."""


def _keyring_file(app: AppContext, path: Path | None) -> Path:
    from schemas.keyring import keyring_path

    return path if path is not None else keyring_path(app.settings)


@keys.command("generate")
@click.option("--path", type=_PATH, help="Keyring file (default: [keys] keyring).")
@click.option("--force", is_flag=True, help="Replace an existing keyring (unsafe).")
@pass_app
def keys_generate(app: AppContext, path: Path | None, force: bool) -> None:
    """Write a new keyring (mode 600); refuses to replace one unless --force."""
    from schemas.keyring import Keyring

    target = _keyring_file(app, path)
    keyring = Keyring.generate(target, overwrite=force)
    click.echo(f"new keyring {target}: primary key {keyring.primary_id}")


@keys.command("rotate")
@click.option("--path", type=_PATH, help="Keyring file (default: [keys] keyring).")
@pass_app
def keys_rotate(app: AppContext, path: Path | None) -> None:
    """Add a new primary sealing key; old keys stay to unseal older values."""
    from schemas.keyring import Keyring

    target = _keyring_file(app, path)
    key_id = Keyring.rotate(target)
    click.echo(f"rotated {target}: primary key now {key_id}")


@keys.command("show")
@click.option("--path", type=_PATH, help="Keyring file (default: [keys] keyring).")
@pass_app
def keys_show(app: AppContext, path: Path | None) -> None:
    """List the key ids and which is primary (never the keys)."""
    from schemas.keyring import Keyring

    target = _keyring_file(app, path)
    keyring = Keyring.load(target)
    click.echo(f"keyring {target}")
    for key_id in keyring.key_ids:
        mark = "  primary" if key_id == keyring.primary_id else ""
        click.echo(f"  {key_id}  created {keyring.created_at(key_id) or '?'}{mark}")


@click.group()
def policy() -> None:
    """The field policy: what the anonymiser does with each field."""


@policy.command("init")
@click.option(
    "--output", type=_PATH, help="Policy file (default: [anonymiser] policy)."
)
@click.option(
    "--defaults", is_flag=True, help="Write the default policy, no questions."
)
@click.option(
    "--from-feed",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    multiple=True,
    help="A recorded feeds.json or CSV export to read field names from.",
)
@click.option("--force", is_flag=True, help="Replace an existing policy file.")
@pass_app
def policy_init(
    app: AppContext,
    output: Path | None,
    defaults: bool,
    from_feed: tuple[Path, ...],
    force: bool,
) -> None:
    """Ask, field by field, how to treat what the channels can carry; write it.

    The fields are the reading's attributes, the metrics the channels' field
    mappings and the alias table name, and those of any --from-feed file.
    """
    from schemas.policy import FieldPolicy, known_fields
    from schemas.policy_init import ask_rules, configured_metrics, feed_metrics

    settings = app.settings
    target = output or settings.anonymiser.policy or Path("policy.toml")
    if target.exists() and not force:
        raise click.ClickException(f"{target} exists; use --force to replace it")
    metrics = configured_metrics(settings)
    for feed in from_feed:
        metrics += feed_metrics(feed, dict(settings.connector.aliases))
    metrics = list(dict.fromkeys(metrics))
    if defaults:
        chosen = FieldPolicy.default()
    else:
        # From the configuration (mappings, aliases, known metrics) and any
        # --from-feed recordings: a superset of what the channels send.
        click.echo(f"Fields the policy can name: {', '.join(metrics)}")
        click.echo("A metric not named in the file is always sealed.")
        rules = ask_rules(metrics, _ask, _ask_text, click.echo)
        chosen = FieldPolicy(rules)
    extra = set(metrics) - set(known_fields(settings))
    chosen.validate(known_fields(settings) | extra)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(chosen.to_toml(), encoding="utf-8")
    click.echo(f"wrote {target} ({len(chosen.rules)} fields)")
    if extra:
        click.echo(
            "note: map these in the channels' `fields` so `policy check` accepts "
            f"them: {', '.join(sorted(extra))}"
        )


@policy.command("check")
@click.argument("path", type=_PATH, required=False)
@pass_app
def policy_check(app: AppContext, path: Path | None) -> None:
    """Validate a policy file (default: [anonymiser] policy) against the channels."""
    from schemas.policy import FieldPolicy, known_fields

    settings = app.settings
    target = path or settings.anonymiser.policy
    if target is None:
        raise click.UsageError("no policy file given and [anonymiser] policy unset")
    checked = FieldPolicy.load(target)
    checked.validate(known_fields(settings))
    for name, rule in checked.rules.items():
        click.echo(f"  {name}: {rule.describe()}")
    click.echo(f"{target}: valid; metrics it does not name are sealed")


def _ask(question: str, choices: list[str], default: str) -> str:
    answer: str = click.prompt(
        question, type=click.Choice(choices), default=default, show_choices=True
    )
    return answer


def _ask_text(question: str, default: str) -> str:
    answer: str = click.prompt(question, default=default)
    return answer
