"""`vitalstream policy init`: which fields exist, and the questions about them.

The fields come from the configuration (each channel's explicit ``fields``
mapping, the canonical metrics) and, optionally, a recorded feed: a
ThingSpeak ``feeds.json`` (the channel object names its fields) or a CSV
export (its header has ``field1``.. columns). The operator is then asked,
field by field, whether it is sensitive and how to treat it, the way the
original system prompted for the names of sensitive columns.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import orjson

from schemas.bands import TIME_UNITS, Band
from schemas.errors import PolicyError
from schemas.metrics import AliasTable
from schemas.policy import ATTRIBUTE_CHOICES, CANONICAL_METRICS, FieldRule

# (question, choices, default) -> answer; click.prompt in the CLI.
Ask = Callable[[str, list[str], str], str]
# (question, default) -> text.
AskText = Callable[[str, str], str]

_SENSITIVE_METRIC = ["encrypt", "encrypt+generalise", "generalise", "drop"]
_OPEN_METRIC = ["keep", "keep+generalise"]


def configured_metrics(settings: Any) -> list[str]:
    """Metrics the configured channels carry by name, then the canonical ones."""
    names: dict[str, None] = {}
    for channel in settings.channels:
        names.update(dict.fromkeys(channel.fields.values()))
    names.update(dict.fromkeys(CANONICAL_METRICS))
    return list(names)


def feed_metrics(path: Path, aliases: dict[str, str] | None = None) -> list[str]:
    """Metric names a recorded feed carries, through the connector's aliases.

    Raises :class:`PolicyError` for a file that is neither a ThingSpeak
    ``feeds.json`` nor a CSV export with ``fieldN`` columns.
    """
    table = AliasTable(aliases)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise PolicyError("--from-feed", f"{path} ({exc.strerror})", "a file") from None
    if path.suffix.lower() == ".json":
        try:
            channel = orjson.loads(data)["channel"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            raise PolicyError(
                "--from-feed", f"{path}: no channel object", "a feeds.json"
            ) from None
        names = [channel[f"field{n}"] for n in range(1, 9) if channel.get(f"field{n}")]
    else:
        header = next(csv.reader(data.decode("utf-8", "replace").splitlines()), [])
        names = [column for column in header if column.startswith("field")]
        if not names:
            raise PolicyError(
                "--from-feed", f"{path}: no field columns", "a ThingSpeak CSV export"
            )
    try:
        return list(dict.fromkeys(table.canonical(str(name)) for name in names))
    except ValueError as exc:
        raise PolicyError("--from-feed", str(exc), "usable field names") from None


def ask_rules(
    metrics: Iterable[str], ask: Ask, ask_text: AskText, say: Callable[[str], None]
) -> list[FieldRule]:
    """Ask about every attribute and metric; return the rules the answers give."""
    rules = [FieldRule("device", frozenset({"pseudonymise"}))]
    say("device: always pseudonymised (it becomes the subject)")
    rules.append(FieldRule("entry_id", frozenset({"keep"})))
    say("entry_id: always kept (consumers de-duplicate on channel + entry_id)")
    for name in ("channel", "temperature_site"):
        choices = ["+".join(sorted(c)) for c in ATTRIBUTE_CHOICES[name]]
        answer = ask(f"{name}: how to treat it", choices, choices[0])
        rules.append(FieldRule(name, frozenset({answer})))
    for name in ("observed_at", "ingested_at"):
        answer = ask(f"{name}: how to treat it", ["keep", "generalise", "drop"], "keep")
        truncate = None
        if answer == "generalise":
            truncate = ask(f"{name}: truncate to", list(TIME_UNITS), "minute")
        rules.append(FieldRule(name, frozenset({answer}), truncate=truncate))
    for name in metrics:
        sensitive = ask(f"{name}: is it sensitive", ["yes", "no"], "yes") == "yes"
        choices = _SENSITIVE_METRIC if sensitive else _OPEN_METRIC
        answer = ask(f"{name}: how to treat it", choices, choices[0])
        actions = frozenset(answer.split("+"))
        band = _ask_band(name, ask_text, say) if "generalise" in actions else None
        rules.append(FieldRule(name, actions, band=band))
    return rules


# Suggested bands: the NEWS2 score boundaries (CLINICAL.md) where a metric
# has them, so a band in the clear never splits a score; else a width.
_SUGGESTED_BANDS = {
    "heart_rate": "41,51,91,111,131",
    "spo2": "92,94,96",
    "body_temp": "35.1,36.1,38.1,39.1",
    "respiration_rate": "9,12,21,25",
    "systolic_bp": "91,101,111,220",
}


def _ask_band(name: str, ask_text: AskText, say: Callable[[str], None]) -> Band:
    while True:
        text = ask_text(
            f"{name}: band width (e.g. 20), or edges separated by commas "
            "(e.g. 92,94,96)",
            _SUGGESTED_BANDS.get(name, "20"),
        )
        try:
            numbers = [float(part) for part in text.split(",") if part.strip()]
        except ValueError:
            say(f"{name}: {text!r} is not a number, nor numbers separated by commas")
            continue
        try:
            if "," in text:
                return Band.from_edges(numbers)
            if len(numbers) == 1:
                return Band.from_width(numbers[0])
        except ValueError as exc:
            say(f"{name}: {exc}")
            continue
        say(f"{name}: give one width or several edges")
