"""Feed parsing at the edges a JSON decoder other than orjson, or a CSV, allows.

Found by the bad-input properties (tests/property/test_feed_fuzz.py): an
integer beyond 64 bits is not a record Kafka's JSON can carry.
"""

from __future__ import annotations

import pytest

from connectors.errors import ChannelResponseError
from connectors.thingspeak.fields import FieldMap
from connectors.thingspeak.parse import (
    FeedEntry,
    parse_feed,
    parse_time,
    read_csv_feed,
    to_reading,
)
from connectors.thingspeak.sink import MAX_REQUEST_BYTES
from schemas.records import DeadLetter
from vitalstream.config import ChannelSettings

CHANNEL = ChannelSettings(id=1448708)
FIELDS = FieldMap({"field1": "heart_rate"})


def entry(created_at: str = "2021-07-19T19:07:36Z", **fields: str) -> FeedEntry:
    raw = {"created_at": created_at, "entry_id": 6, **fields}
    try:
        moment = parse_time(created_at)
    except ValueError:
        moment = None
    return FeedEntry(6, moment, raw)


def test_an_entry_id_beyond_64_bits_is_refused_in_csv() -> None:
    csv_text = (
        "created_at,entry_id,field1\n2021-07-19 18:53:53 UTC,99999999999999999999,72\n"
    )
    with pytest.raises(ChannelResponseError, match="entry_id"):
        read_csv_feed(csv_text, CHANNEL.id)


def test_an_entry_id_beyond_64_bits_is_refused_in_json() -> None:
    doc = {"feeds": [{"entry_id": 2**64, "created_at": "2021-07-19T19:07:36Z"}]}
    with pytest.raises(ChannelResponseError, match="entry_id"):
        parse_feed(doc, CHANNEL.id)


def test_a_dead_letter_keeps_a_huge_integer_value_as_text() -> None:
    doc = {"feeds": [{"entry_id": 3, "created_at": "yesterday", "field1": 10**30}]}
    letter = to_reading(parse_feed(doc, CHANNEL.id).entries[0], FIELDS, CHANNEL)
    assert isinstance(letter, DeadLetter)
    assert letter.payload is not None
    assert str(10**30) in letter.payload
    assert DeadLetter.from_json(letter.to_json()) == letter


@pytest.mark.parametrize(
    "row",
    [
        "2021-07-19 18:53:53 UTC,1,7\r2\n",  # a lone carriage return
        "2021-07-19 18:53:53 UTC,1," + "7" * 200_000 + "\n",  # over csv's field limit
    ],
)
def test_an_unreadable_csv_export_is_a_channel_response_error(row: str) -> None:
    with pytest.raises(ChannelResponseError, match="CSV"):
        read_csv_feed("created_at,entry_id,field1\n" + row, CHANNEL.id)


def test_a_huge_value_is_quoted_as_an_excerpt_with_its_length() -> None:
    huge = "7" * 200_000 + "x" * 200_000
    letter = to_reading(entry(field1=huge), FIELDS, CHANNEL)
    assert isinstance(letter, DeadLetter)
    assert letter.reason.startswith(f"entry 6 of channel {CHANNEL.id}: field1: '777")
    assert letter.reason.endswith("(400,000 characters) is not a number")
    assert len(letter.reason) < 200


@pytest.mark.parametrize("char", ["\x00", "\U0001f600", '"', "7"])
def test_the_worst_entry_makes_a_dead_letter_far_below_the_request_limit(
    char: str,
) -> None:
    # Every field and the time 400,000 characters of what JSON spells
    # longest: its dead letter must still be a record Kafka takes.
    value = char * 400_000
    fields = {f"field{n}": value for n in range(1, 9)}
    letter = to_reading(entry(created_at=value, **fields), FIELDS, CHANNEL)
    assert isinstance(letter, DeadLetter)
    assert len(letter.to_json()) < MAX_REQUEST_BYTES // 8
