"""The feed parser on hostile input: a ChannelResponseError or a dead letter.

Whatever a ThingSpeak server sends, the connector either refuses the answer
with :class:`ChannelResponseError` (it retries the poll later) or turns
every entry into a :class:`Reading` with finite metrics or a
:class:`DeadLetter` saying why; nothing else may escape.
"""

from __future__ import annotations

import math
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors.errors import ChannelAccessError, ChannelResponseError
from connectors.thingspeak.client import _decode
from connectors.thingspeak.fields import FieldMap
from connectors.thingspeak.parse import (
    FeedPage,
    parse_feed,
    parse_value,
    read_csv_feed,
    to_reading,
)
from schemas.records import DeadLetter, Reading
from tests.conftest import RECORDED_CHANNEL
from tests.property.support import (
    EDITS,
    HOSTILE_FLOATS,
    HOSTILE_INTS,
    HOSTILE_TEXT,
    deeply_nested,
    examples,
    json_values,
    mutate,
    outcome,
    tried,
)
from vitalstream.config import ChannelSettings

CHANNEL = ChannelSettings(id=1448708)
FIELDS = FieldMap({"field1": "heart_rate", "field2": "spo2", "field3": "body_temp"})
RECORDED_JSON = (RECORDED_CHANNEL / "feeds.json").read_bytes()
RECORDED_CSV = (RECORDED_CHANNEL / "feeds.csv").read_text()


def every_entry_accounted(page: FeedPage) -> None:
    for entry in page.entries:
        outcome = to_reading(entry, FIELDS, CHANNEL, ingested_at="2026-01-05T08:00:00Z")
        assert isinstance(outcome, Reading | DeadLetter)
        if isinstance(outcome, Reading):
            assert all(v is None or math.isfinite(v) for v in outcome.metrics.values())
            assert Reading.from_json(outcome.to_json()) == outcome
        else:
            assert outcome.reason.startswith(f"entry {entry.entry_id} of channel")
            assert DeadLetter.from_json(outcome.to_json()).origin == outcome.origin


def decode_and_parse(body: bytes) -> None:
    """What the connector does with a 200 answer's body."""
    response = httpx.Response(200, content=body)
    page = outcome(
        lambda: parse_feed(
            _decode(CHANNEL, "/channels/1448708/feeds.json", response, body, None),
            CHANNEL.id,
        ),
        ChannelResponseError,
        ChannelAccessError,  # the API's "-1": a key problem, retried slowly
    )
    if isinstance(page, ChannelResponseError):
        assert str(page).startswith("channel 1448708: ")
    elif not isinstance(page, ChannelAccessError):
        every_entry_accounted(page)


@examples(0.5)
@given(json_values())
def test_any_json_document(doc: Any) -> None:
    tried("feed: any JSON document")
    try:
        page = parse_feed(doc, CHANNEL.id)
    except ChannelResponseError:
        return
    every_entry_accounted(page)


FIELD_VALUE = st.one_of(json_values(3), HOSTILE_TEXT, HOSTILE_FLOATS, HOSTILE_INTS)


@examples(0.4)
@given(
    st.lists(
        st.fixed_dictionaries(
            {
                "created_at": st.one_of(
                    st.just("2021-07-19T19:07:36Z"), HOSTILE_TEXT, json_values(2)
                ),
                "entry_id": st.one_of(st.integers(1, 10**6), HOSTILE_INTS, FIELD_VALUE),
            },
            optional={f"field{n}": FIELD_VALUE for n in range(1, 9)},
        ),
        max_size=4,
    ),
    st.one_of(st.none(), json_values(4)),
)
def test_feed_entries_with_wrong_types_in_every_field(
    feeds: list[dict[str, Any]], channel: Any
) -> None:
    tried("feed: entries with wrong types in every field")
    try:
        page = parse_feed({"channel": channel, "feeds": feeds}, CHANNEL.id)
    except ChannelResponseError:
        return
    every_entry_accounted(page)


@examples(2)
@given(EDITS)
def test_mutated_recorded_answer(edits: list[tuple[int, int, int]]) -> None:
    tried("feed: mutated recorded feeds.json bytes")
    decode_and_parse(mutate(RECORDED_JSON, edits))


@examples(3)
@given(st.binary(max_size=300))
def test_random_bytes_as_an_answer(body: bytes) -> None:
    tried("feed: random bytes (non-UTF-8 included) as a 200 answer")
    decode_and_parse(body)


@examples(0.5)
@given(st.one_of(json_values(4), HOSTILE_TEXT, HOSTILE_FLOATS, HOSTILE_INTS))
def test_any_field_value(raw: Any) -> None:
    tried("feed: parse_value on any value")
    value = outcome(lambda: parse_value(raw), ValueError)
    if isinstance(value, ValueError):
        assert "number" in str(value)
    else:
        assert value is None or math.isfinite(value)


@examples(0.5)
@given(EDITS, st.sampled_from(["", "\x00", "\ufffd", "\n,,,\n", '"']))
def test_mutated_csv_export(edits: list[tuple[int, int, int]], junk: str) -> None:
    tried("feed: mutated CSV export")
    text = mutate(RECORDED_CSV.encode(), edits).decode("utf-8", "replace") + junk
    try:
        page = read_csv_feed(text, CHANNEL.id)
    except ChannelResponseError:
        return
    every_entry_accounted(page)


@pytest.mark.parametrize("depth", [10, 1_000, 100_000])
def test_deeply_nested_answer(depth: int) -> None:
    tried("feed: deeply nested answers")
    decode_and_parse(deeply_nested(depth))
    decode_and_parse(b'{"feeds": ' + deeply_nested(depth) + b"}")


def test_oversized_entry_is_a_dead_letter() -> None:
    tried("feed: oversized entries")
    huge = "9" * 5_000_000  # a 5 MB number: not a finite float
    page = parse_feed(
        {
            "feeds": [
                {"entry_id": 1, "created_at": "2021-07-19T19:07:36Z", "field1": huge}
            ]
        },
        CHANNEL.id,
    )
    outcome = to_reading(page.entries[0], FIELDS, CHANNEL)
    assert isinstance(outcome, DeadLetter)
    assert "not a finite number" in outcome.reason


@pytest.mark.parametrize(
    "number", [b"1e999", b"-1e999", b"123456789012345678901234567890", b"NaN"]
)
def test_huge_numbers_in_an_answer(number: bytes) -> None:
    tried("feed: huge numbers")
    body = b'{"feeds":[{"entry_id":1,"created_at":"2021-07-19T19:07:36Z","field1":'
    decode_and_parse(body + number + b"}]}")
