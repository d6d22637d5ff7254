"""One record per entry_id, when a page holds an entry_id more than once.

ThingSpeak numbers a channel's entries uniquely, so a page that repeats one
comes from a broken server, a proxy or a merged export. A repeat identical
to the first copy says nothing new and is dropped (counted). Copies that
differ cannot be told apart as right or wrong: neither becomes a reading,
and the entry becomes one dead letter holding every version, so downstream
there is still exactly one record per ``(channel, entry_id)``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from connectors.thingspeak.parse import FeedEntry, entry_text, quote
from schemas.records import DeadLetter
from vitalstream.config import ChannelSettings


@dataclass(frozen=True, slots=True)
class ConflictingEntry:
    """The differing versions of one entry_id, in the order the page gave them."""

    entry_id: int
    versions: list[FeedEntry]

    def differing(self) -> list[str]:
        """The keys (``created_at``, ``fieldN``) whose values differ, in page order."""
        keys = dict.fromkeys(k for v in self.versions for k in v.raw)
        first = self.versions[0].raw
        return [
            key
            for key in keys
            if any(v.raw.get(key) != first.get(key) for v in self.versions)
        ]


def collapse(
    entries: Iterable[FeedEntry],
) -> tuple[list[FeedEntry | ConflictingEntry], int]:
    """Entries in the order given, one item per entry_id, and the identical repeats.

    An entry_id whose copies all match is its first copy; one whose copies
    differ is a :class:`ConflictingEntry` of its distinct versions.
    """
    versions: dict[int, list[FeedEntry]] = {}
    repeats = 0
    for entry in entries:
        seen = versions.setdefault(entry.entry_id, [])
        if any(v.raw == entry.raw for v in seen):
            repeats += 1
        else:
            seen.append(entry)
    collapsed: list[FeedEntry | ConflictingEntry] = [
        found[0] if len(found) == 1 else ConflictingEntry(entry_id, found)
        for entry_id, found in versions.items()
    ]
    return collapsed, repeats


def conflict_letter(conflict: ConflictingEntry, channel: ChannelSettings) -> DeadLetter:
    """The dead letter of an entry served with different values.

    Its origin names the first differing field and the second version's
    value; its reason quotes each differing field's values; its payload
    holds every version.
    """
    differing = conflict.differing()
    described = "; ".join(
        f"{key}: " + " / ".join(quote(v.raw.get(key)) for v in conflict.versions)
        for key in differing
    )
    first = differing[0] if differing else "entry_id"
    value = conflict.versions[1].raw.get(first)
    return DeadLetter(
        stage="connector",
        reason=(
            f"entry {conflict.entry_id} of channel {channel.id}: served "
            f"{len(conflict.versions)} times with different values ({described}); "
            "none of them is produced"
        ),
        origin={
            "channel": channel.id,
            "entry_id": conflict.entry_id,
            "field": first,
            "raw_value": value
            if value is None or isinstance(value, str)
            else str(value),
        },
        payload=entry_text([v.raw for v in conflict.versions]),
    )
