"""A page repeating an entry_id: identical repeats dropped, differing ones kept."""

from __future__ import annotations

from typing import Any

import orjson

from connectors.thingspeak.duplicates import ConflictingEntry, collapse, conflict_letter
from connectors.thingspeak.parse import FeedEntry, parse_feed
from connectors.thingspeak.poller import ChannelTally
from schemas.records import DeadLetter
from vitalstream.config import ChannelSettings

CHANNEL = ChannelSettings(id=7)


def page(*entries: dict[str, Any]) -> list[FeedEntry]:
    feeds = [{"created_at": "2021-07-19T19:07:36Z", **e} for e in entries]
    return parse_feed({"feeds": feeds}, CHANNEL.id).entries


def test_identical_repeats_are_dropped_and_counted() -> None:
    entries = page(
        {"entry_id": 1, "field1": "70"},
        {"entry_id": 2, "field1": "71"},
        {"entry_id": 2, "field1": "71"},
        {"entry_id": 2, "field1": "71"},
    )
    collapsed, repeats = collapse(entries)
    assert collapsed == [entries[0], entries[1]]
    assert repeats == 2


def test_differing_copies_become_one_conflict_in_page_order() -> None:
    entries = page(
        {"entry_id": 2, "field1": "71", "field2": "98"},
        {"entry_id": 3, "field1": "72"},
        {"entry_id": 2, "field1": "99", "field2": "98"},
        {"entry_id": 2, "field1": "71", "field2": "98"},  # same as the first
    )
    collapsed, repeats = collapse(entries)
    assert repeats == 1
    conflict, third = collapsed
    assert third == entries[1]
    assert isinstance(conflict, ConflictingEntry)
    assert conflict.versions == [entries[0], entries[2]]
    assert conflict.differing() == ["field1"]


def test_the_dead_letter_names_the_field_and_both_values() -> None:
    (conflict,), _ = collapse(
        page(
            {"entry_id": 2, "field1": "71", "field3": "36.5"},
            {"entry_id": 2, "field1": "99", "field3": "36.5"},
        )
    )
    assert isinstance(conflict, ConflictingEntry)
    letter = conflict_letter(conflict, CHANNEL)
    assert letter.origin == {
        "channel": 7,
        "entry_id": 2,
        "field": "field1",
        "raw_value": "99",
    }
    assert letter.reason == (
        "entry 2 of channel 7: served 2 times with different values "
        "(field1: '71' / '99'); none of them is produced"
    )
    assert letter.payload is not None
    assert [v["field1"] for v in orjson.loads(letter.payload)] == ["71", "99"]
    assert DeadLetter.from_json(letter.to_json()) == letter


def test_a_copy_differing_in_its_time_only_is_a_conflict() -> None:
    entries = page({"entry_id": 4, "field1": "70"}, {"entry_id": 4, "field1": "70"})
    moved = FeedEntry(4, None, {**entries[1].raw, "created_at": "2021-07-19T20:00:00Z"})
    (conflict,), _ = collapse([entries[0], moved])
    assert isinstance(conflict, ConflictingEntry)
    assert conflict.differing() == ["created_at"]
    assert conflict_letter(conflict, CHANNEL).origin["field"] == "created_at"


def test_the_summary_line_counts_dropped_repeats() -> None:
    tally = ChannelTally(7, produced=3, duplicates=2, last_entry_id=4)
    assert tally.line() == (
        "channel 7: 3 produced, 0 dead-lettered, 0 errors, at entry 4, "
        "2 identical repeats dropped"
    )
