"""Sharding, the entry guard, cursor records, summaries, log redaction."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest

from connectors.thingspeak.client import RedactApiKeys
from connectors.thingspeak.cursor import ChannelCursor
from connectors.thingspeak.poller import ChannelTally
from connectors.thingspeak.sink import EntryGuard
from connectors.thingspeak.source import RunSummary, shard
from vitalstream.config import ChannelSettings
from vitalstream.errors import ConfigError


def test_shards_cover_every_channel_exactly_once() -> None:
    channels = [ChannelSettings(id=n) for n in range(1, 101)]
    shards = [shard(channels, i, 3) for i in range(3)]
    ids = sorted(c.id for part in shards for c in part)
    assert ids == list(range(1, 101))
    assert [len(part) for part in shards] == [33, 34, 33]


@pytest.mark.parametrize(("instance", "instances"), [(2, 2), (-1, 2), (0, 0)])
def test_impossible_shard_is_a_config_error(instance: int, instances: int) -> None:
    with pytest.raises(ConfigError, match="--instance"):
        shard([], instance, instances)


def test_entry_guard_refuses_what_was_committed_and_repeats() -> None:
    guard = EntryGuard({7: 10})
    assert guard.admit(7, [9, 10, 11, 12, 12, 13]) == [2, 3, 5]
    guard.committed(7, 13)
    assert guard.admit(7, [13]) == []
    assert guard.admit(8, [1, 2]) == [0, 1]


def test_cursor_record_round_trip() -> None:
    cursor = ChannelCursor(1448708, 149, datetime(2021, 7, 19, 19, 41, 4, tzinfo=UTC))
    assert cursor.key == b"1448708"
    assert ChannelCursor.from_json(cursor.to_json()) == cursor


@pytest.mark.parametrize(
    "data",
    [b'{"schema": "other/1"}', b'{"schema": "vitalstream.connector-cursor/1"}'],
)
def test_unreadable_cursor_record_is_refused(data: bytes) -> None:
    with pytest.raises(ValueError, match=r"not a|integers"):
        ChannelCursor.from_json(data)


def test_summary_lines_and_total() -> None:
    summary = RunSummary(
        [
            ChannelTally(1, produced=149, last_entry_id=149),
            ChannelTally(
                2, dead_lettered=1, errors=1, last_error="channel 2: read refused"
            ),
        ]
    )
    assert summary.lines() == [
        "channel 1: 149 produced, 0 dead-lettered, 0 errors, at entry 149",
        "channel 2: 0 produced, 1 dead-lettered, 1 errors, no entries yet "
        "(last error: read refused)",
        "total: 2 channels, 149 produced, 1 dead-lettered, 1 errors",
    ]


def test_api_keys_are_blanked_in_log_records() -> None:
    record = logging.LogRecord(
        "httpx",
        logging.INFO,
        __file__,
        1,
        'HTTP Request: %s %s "%s"',
        ("GET", "http://x/channels/1/feeds.json?results=5&api_key=ABC123&b=1", "200"),
        None,
    )
    assert RedactApiKeys().filter(record)
    assert record.getMessage() == (
        "HTTP Request: GET http://x/channels/1/feeds.json?results=5&api_key=***&b=1 "
        '"200"'
    )
