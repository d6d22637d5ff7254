"""Channels from recorded files: ThingSpeak CSV exports and ``feeds.json`` answers.

A path may be one file or a folder searched recursively for ``feeds*.json``
and ``*.csv``. A ``feeds.json`` names its channel in its ``channel`` object;
a CSV export does not, so its id comes from a folder named like
``channel-1448708`` or from ``channel_id``, and its channel object from a
``feeds.json`` or ``fieldN.json`` beside it (else a generic one with the
API's default field labels). Files of the same channel are merged by
``entry_id``; two files that disagree about an entry are an error.
"""

from __future__ import annotations

import csv
import logging
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson

from connectors.tsserver.channels import RecordedChannel
from connectors.tsserver.errors import QueryError, RecordingError
from connectors.tsserver.wire import format_time, normalise_csv_value, parse_time

log = logging.getLogger(__name__)

_FIELD_KEY = re.compile(r"field[1-8]")
_CHANNEL_FOLDER = re.compile(r"channel-(\d+)")

Entry = tuple[int, int, tuple[str | None, ...]]


class _Recording:
    """Entries of one channel gathered from one or more files."""

    def __init__(self, channel_id: int) -> None:
        self.channel_id = channel_id
        self.channel_object: dict[str, Any] | None = None
        self.field_keys: set[str] = set()
        self.entries: dict[int, tuple[int, dict[str, str | None], Path]] = {}

    def add(
        self, path: Path, created: int, entry_id: int, fields: dict[str, Any]
    ) -> None:
        values = {key: value for key, value in fields.items() if value is not None}
        known = self.entries.get(entry_id)
        if known is not None and (known[0], known[1]) != (created, values):
            raise RecordingError(
                f"channel {self.channel_id} entry {entry_id} differs between "
                f"{known[2]} and {path}"
            )
        self.entries[entry_id] = (created, values, path)

    def channel(self) -> RecordedChannel:
        keys = sorted(self.field_keys, key=lambda key: int(key[len("field") :]))
        meta = self.channel_object or _generic_channel_object(self.channel_id, keys)
        # The API lists exactly the fields the channel names (feeds.json).
        named = [key for key in keys if key in meta] or keys
        entries: list[Entry] = [
            (created, entry_id, tuple(values.get(key) for key in named))
            for entry_id, (created, values, _) in self.entries.items()
        ]
        if self.channel_object is None and entries:
            first = format_time(min(entry[0] for entry in entries))
            meta["created_at"] = meta["updated_at"] = first
        return RecordedChannel(meta, named, entries)


def load_recordings(
    path: Path, *, channel_id: int | None = None
) -> list[RecordedChannel]:
    """Every channel recorded under ``path`` (a file or a folder).

    ``channel_id`` names the channel of CSV exports that sit in no
    ``channel-<id>`` folder. Raises RecordingError naming the file at fault.
    """
    if not path.exists():
        raise RecordingError(f"{path}: no such file or folder")
    files = [path] if path.is_file() else sorted(_recorded_files(path))
    if not files:
        raise RecordingError(f"{path}: no feeds*.json or *.csv file in it")
    recordings: dict[int, _Recording] = {}
    for file in files:
        if file.suffix.lower() == ".csv":
            _read_csv(file, _csv_channel_id(file, channel_id), recordings)
        elif file.suffix.lower() == ".json":
            _read_feeds_json(file, recordings)
        else:
            raise RecordingError(f"{file}: not a .csv export or a .json answer")
    channels = [recordings[key].channel() for key in sorted(recordings)]
    for channel in channels:
        log.info("recorded channel %s: %s entries", channel.id, channel.size)
    return channels


def channel_ids_in(path: Path, *, channel_id: int | None = None) -> list[int]:
    """The ids of the channels recorded under ``path``, ascending."""
    return [channel.id for channel in load_recordings(path, channel_id=channel_id)]


def _recorded_files(folder: Path) -> Iterable[Path]:
    for file in folder.rglob("*"):
        name = file.name.lower()
        if file.is_file() and (name.endswith(".csv") or _is_feeds_json(name)):
            yield file


def _is_feeds_json(name: str) -> bool:
    return name.startswith("feeds") and name.endswith(".json")


def _csv_channel_id(file: Path, given: int | None) -> int:
    for folder in file.parents:
        match = _CHANNEL_FOLDER.fullmatch(folder.name)
        if match:
            return int(match.group(1))
    if given is not None:
        return given
    raise RecordingError(
        f"{file}: a CSV export does not name its channel; put it in a folder "
        "named channel-<id> or give the channel id"
    )


def _recording(recordings: dict[int, _Recording], channel_id: int) -> _Recording:
    if channel_id not in recordings:
        recordings[channel_id] = _Recording(channel_id)
    return recordings[channel_id]


def _read_csv(file: Path, channel_id: int, recordings: dict[int, _Recording]) -> None:
    recording = _recording(recordings, channel_id)
    if recording.channel_object is None:
        recording.channel_object = _sibling_channel_object(file, channel_id)
    with file.open(newline="", encoding="utf-8") as stream:
        reader = csv.DictReader(stream)
        keys = [key for key in reader.fieldnames or () if _FIELD_KEY.fullmatch(key)]
        if "created_at" not in (reader.fieldnames or ()) or not keys:
            raise RecordingError(f"{file}: not a ThingSpeak CSV export (no header)")
        recording.field_keys.update(keys)
        for line, row in enumerate(reader, start=2):
            try:
                created = parse_time(row["created_at"], name="created_at")
                entry_id = int(row["entry_id"])
            except (QueryError, TypeError, ValueError) as exc:
                raise RecordingError(f"{file} line {line}: {exc}") from exc
            fields = {key: normalise_csv_value(row[key] or "") for key in keys}
            recording.add(file, created, entry_id, fields)


def _read_feeds_json(file: Path, recordings: dict[int, _Recording]) -> None:
    answer = _json_answer(file)
    meta = answer["channel"]
    recording = _recording(recordings, int(meta["id"]))
    recording.channel_object = meta
    recording.field_keys.update(key for key in meta if _FIELD_KEY.fullmatch(key))
    for position, entry in enumerate(answer["feeds"]):
        try:
            created = parse_time(entry["created_at"], name="created_at")
            entry_id = int(entry["entry_id"])
        except (KeyError, QueryError, TypeError, ValueError) as exc:
            raise RecordingError(f"{file} feeds[{position}]: {exc}") from exc
        fields = {k: v for k, v in entry.items() if _FIELD_KEY.fullmatch(k)}
        recording.field_keys.update(fields)
        recording.add(file, created, entry_id, fields)


def _json_answer(file: Path) -> dict[str, Any]:
    try:
        answer = orjson.loads(file.read_bytes())
    except orjson.JSONDecodeError as exc:
        raise RecordingError(f"{file}: not JSON ({exc})") from exc
    if (
        not isinstance(answer, dict)
        or not isinstance(answer.get("channel"), dict)
        or not isinstance(answer.get("feeds"), list)
        or "id" not in answer["channel"]
    ):
        raise RecordingError(f"{file}: not a feed answer (channel object and feeds)")
    return answer


def _sibling_channel_object(file: Path, channel_id: int) -> dict[str, Any] | None:
    for sibling in sorted(file.parent.glob("*.json")):
        try:
            meta = _json_answer(sibling)["channel"]
        except RecordingError:
            continue
        if int(meta["id"]) == channel_id:
            return dict(meta)
    return None


def _generic_channel_object(channel_id: int, keys: list[str]) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "id": channel_id,
        "name": f"Channel {channel_id}",
        "latitude": "0.0",
        "longitude": "0.0",
    }
    for key in keys:
        # ThingSpeak's own label for a field nobody named.
        meta[key] = f"Field Label {key[len('field') :]}"
    return meta
