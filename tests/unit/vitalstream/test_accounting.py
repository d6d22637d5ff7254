"""The accounting invariant over hand-made topic contents (no broker)."""

from __future__ import annotations

import orjson
import pytest

from schemas.anonymised import anonymise
from schemas.keyring import Keyring
from schemas.policy import FieldPolicy
from schemas.records import DeadLetter, Reading
from vitalstream.accounting import (
    Record,
    account,
    channel_names,
    expected_entries,
)

RAW = "t.raw"
KEYRING = Keyring.new()
NAMES = channel_names(KEYRING, [7, 8])


def reading(channel: int, entry_id: int) -> Reading:
    return Reading(
        channel=channel,
        entry_id=entry_id,
        device=f"device-{channel}",
        observed_at="2026-01-05T08:00:00Z",
        ingested_at="2026-01-05T08:00:01Z",
        metrics={"heart_rate": 70.0 + entry_id},
    )


def record(value: bytes, *, topic: str = "t", partition: int = 0, offset: int = 0):
    return Record(topic, partition, offset, 0, None, value)


def raw_records(*keys: tuple[int, int]) -> list[Record]:
    return [
        record(reading(c, e).to_json(), topic=RAW, offset=n)
        for n, (c, e) in enumerate(keys)
    ]


def anonymised(*keys: tuple[int, int]) -> list[Record]:
    policy = FieldPolicy.default()
    return [
        record(anonymise(reading(c, e), policy, KEYRING).to_json()) for c, e in keys
    ]


def letter(stage: str, origin: dict[str, object]) -> Record:
    return record(DeadLetter(stage, "why", origin, None).to_json())


def test_every_entry_once_holds_in_both_guarantees() -> None:
    keys = [(7, 1), (7, 2), (8, 1)]
    result = account(
        set(keys),
        raw=raw_records(*keys),
        anonymised=anonymised(*keys),
        dead_letters=[],
        names=NAMES,
    )
    assert (result.expected, result.anonymised, result.lost, result.duplicated) == (
        3,
        3,
        0,
        0,
    )
    assert result.holds(exactly_once=True)


def test_a_missing_entry_is_lost_and_named() -> None:
    result = account(
        {(7, 1), (7, 2), (8, 1)},
        raw=raw_records((7, 1), (7, 2), (8, 1)),
        anonymised=anonymised((7, 1), (8, 1)),
        dead_letters=[],
        names=NAMES,
    )
    assert result.lost == 1
    assert result.lost_keys == ((7, 2),)
    assert not result.holds(exactly_once=False)
    assert "lost 1" in result.summary()


def test_copies_are_duplicates_which_only_exactly_once_refuses() -> None:
    result = account(
        {(7, 1), (7, 2)},
        raw=raw_records((7, 1), (7, 2)),
        anonymised=anonymised((7, 1), (7, 2), (7, 1), (7, 1)),
        dead_letters=[],
        names=NAMES,
    )
    assert (result.lost, result.duplicated, result.duplicated_keys) == (0, 2, ((7, 1),))
    assert result.holds(exactly_once=False)
    assert not result.holds(exactly_once=True)


def test_an_anonymised_copy_and_a_dead_letter_of_one_entry_are_a_duplicate() -> None:
    result = account(
        {(7, 1)},
        raw=raw_records((7, 1)),
        anonymised=anonymised((7, 1)),
        dead_letters=[letter("connector", {"channel": 7, "entry_id": 1})],
        names=NAMES,
    )
    assert (result.anonymised, result.dead_lettered, result.duplicated) == (1, 1, 1)


def test_dead_letters_account_for_entries_through_their_origin() -> None:
    raw = raw_records((7, 1), (7, 2))
    # The anonymiser names the raw record by topic, partition and offset.
    from_anonymiser = letter("anonymiser", {"topic": RAW, "partition": 0, "offset": 1})
    from_connector = letter("connector", {"channel": 8, "entry_id": 4, "field": "f"})
    result = account(
        {(7, 1), (7, 2), (8, 4)},
        raw=raw,
        anonymised=anonymised((7, 1)),
        dead_letters=[from_anonymiser, from_connector],
        names=NAMES,
    )
    assert (result.anonymised, result.dead_lettered, result.lost) == (1, 2, 0)
    assert result.holds(exactly_once=True)


def test_records_naming_no_served_entry_break_the_invariant() -> None:
    unknown_offset = letter("anonymiser", {"topic": RAW, "partition": 0, "offset": 99})
    result = account(
        {(7, 1)},
        raw=raw_records((7, 1)),
        anonymised=[*anonymised((7, 1), (7, 5)), record(b"not json")],
        dead_letters=[unknown_offset],
        names=NAMES,
    )
    assert result.unexpected == 1  # (7, 5) was never served
    assert result.unattributed == 2  # garbage, and an offset with no raw record
    assert not result.holds(exactly_once=False)


def test_alerting_dead_letters_are_counted_apart() -> None:
    result = account(
        {(7, 1)},
        raw=raw_records((7, 1)),
        anonymised=anonymised((7, 1)),
        dead_letters=[letter("alerting", {"topic": "a", "partition": 0, "offset": 0})],
        names=NAMES,
    )
    assert (result.alerting_dead_letters, result.dead_lettered) == (1, 0)
    assert result.holds(exactly_once=True)


def test_raw_copies_are_counted() -> None:
    result = account(
        {(7, 1)},
        raw=raw_records((7, 1), (7, 1)),
        anonymised=anonymised((7, 1)),
        dead_letters=[],
        names=NAMES,
    )
    assert result.raw_duplicated == 1
    assert not result.holds(exactly_once=True)


def test_a_channel_kept_in_the_clear_is_matched_by_id() -> None:
    policy = FieldPolicy.from_toml(
        'version = 1\n[fields.channel]\nactions = ["keep"]\n'
    )
    value = anonymise(reading(8, 3), policy, KEYRING).to_json()
    assert orjson.loads(value)["source"]["channel"] == 8
    result = account(
        {(8, 3)}, raw=[], anonymised=[record(value)], dead_letters=[], names=NAMES
    )
    assert result.lost == 0


@pytest.mark.parametrize(
    ("ranges", "count"),
    [({"7": [[1, 3]], "8": [[2, 2], [5, 6]]}, 6), ({"9": []}, 0)],
)
def test_expected_entries_from_runs(ranges: dict[str, list[list[int]]], count: int):
    entries = expected_entries(ranges)
    assert len(entries) == count
    if count:
        assert (8, 5) in entries
        assert (8, 4) not in entries
