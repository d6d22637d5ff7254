"""Feed parsing at the edges a JSON decoder other than orjson, or a CSV, allows.

Found by the bad-input properties (tests/property/test_feed_fuzz.py): an
integer beyond 64 bits is not a record Kafka's JSON can carry.
"""

from __future__ import annotations

import pytest

from connectors.errors import ChannelResponseError
from connectors.thingspeak.fields import FieldMap
from connectors.thingspeak.parse import parse_feed, read_csv_feed, to_reading
from schemas.records import DeadLetter
from vitalstream.config import ChannelSettings

CHANNEL = ChannelSettings(id=1448708)
FIELDS = FieldMap({"field1": "heart_rate"})


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
