"""Hostile feeds: huge values, far-future times, conflicting duplicates, odd digits.

Each channel here is served by a small server of the test's own
(:mod:`tests.integration.hostile_feeds`) beside a well-behaved channel, and
read by the real connector into the test broker.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from aiohttp import web
from aiokafka import AIOKafkaProducer

from connectors.thingspeak.client import RetryPolicy
from connectors.thingspeak.cursor import load_cursors
from connectors.thingspeak.source import ThingSpeakSource
from schemas.records import Reading
from tests.integration.connector_support import dead_letters, raw_readings
from tests.integration.hostile_feeds import HostileChannel, serve_hostile
from vitalstream.config import Settings
from vitalstream.topics import ensure_topics

pytestmark = pytest.mark.kafka

BAD, GOOD = 930_001, 930_002
FAST = RetryPolicy(attempts=3, initial_s=0.05, max_wait_s=0.2)


def served_ids(channel: HostileChannel) -> set[int]:
    return {int(entry["entry_id"]) for entry in channel.entries}


def produced_ids(readings: list[Reading], channel: int) -> set[int]:
    ids = [r.entry_id for r in readings if r.channel == channel]
    assert len(ids) == len(set(ids)), f"channel {channel}: an entry produced twice"
    return set(ids)


def five_entries(channel: HostileChannel, start: datetime) -> None:
    for n in range(1, 6):
        channel.add(n, start + timedelta(seconds=15 * n), field1=str(60 + n))


async def test_a_huge_field_value_is_a_dead_letter_and_both_channels_catch_up(
    make_settings: Callable[..., Settings],
) -> None:
    start = datetime.now(UTC) - timedelta(hours=1)
    bad, good = HostileChannel(BAD), HostileChannel(GOOD)
    five_entries(bad, start)
    five_entries(good, start)
    huge = "7" * 200_000 + "x" * 200_000
    bad.add(6, start + timedelta(seconds=90), field1=huge)
    bad.add(7, start + timedelta(seconds=105), field1="70")
    async with serve_hostile(bad, good) as server:
        settings = make_settings(
            connector={"base_url": server.url},
            channels=[{"id": BAD}, {"id": GOOD}],
        )
        await ensure_topics(settings)
        summary = await ThingSpeakSource(settings, retry=FAST).run(once=True)

    assert summary.errors == 0, summary.lines()
    readings = await raw_readings(settings)
    assert produced_ids(readings, BAD) == served_ids(bad) - {6}
    assert produced_ids(readings, GOOD) == served_ids(good)
    (letter,) = await dead_letters(settings)
    assert (letter.origin["channel"], letter.origin["entry_id"]) == (BAD, 6)
    assert letter.origin["field"] == "field1"
    assert "not a number" in letter.reason
    assert len(letter.reason) < 300  # an excerpt of the value, not all of it
    assert letter.payload_truncated
    cursors = await load_cursors(settings)
    assert cursors[BAD].entry_id == max(served_ids(bad))
    assert cursors[GOOD].entry_id == max(served_ids(good))


@pytest.mark.parametrize(
    "stamp",
    [
        lambda now: datetime(2099, 1, 1, tzinfo=UTC),
        lambda now: now + timedelta(hours=1),  # a device clock an hour fast
    ],
    ids=["year-2099", "hour-fast"],
)
async def test_an_entry_from_the_future_is_a_dead_letter_and_later_entries_flow(
    make_settings: Callable[..., Settings],
    stamp: Callable[[datetime], datetime],
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = datetime.now(UTC)
    channel, good = HostileChannel(BAD), HostileChannel(GOOD)
    five_entries(channel, now - timedelta(minutes=5))
    five_entries(good, now - timedelta(minutes=5))
    channel.add(6, stamp(now), field1="66")
    async with serve_hostile(channel, good) as server:
        settings = make_settings(
            connector={"base_url": server.url, "future_tolerance_s": 120},
            channels=[{"id": BAD}, {"id": GOOD}],
        )
        await ensure_topics(settings)
        first = await ThingSpeakSource(settings, retry=FAST).run(once=True)
        # Written after the first poll, stamped by a correct clock.
        later = datetime.now(UTC) + timedelta(seconds=1)
        for entry_id in (7, 8, 9):
            channel.add(entry_id, later, field1=str(60 + entry_id))
        second = await ThingSpeakSource(settings, retry=FAST).run(once=True)
        third = await ThingSpeakSource(settings, retry=FAST).run(once=True)

    assert (first.errors, second.errors, third.errors) == (0, 0, 0)
    readings = await raw_readings(settings)
    assert produced_ids(readings, BAD) == served_ids(channel) - {6}
    assert produced_ids(readings, GOOD) == served_ids(good)
    (letter,) = await dead_letters(settings)
    assert (letter.origin["entry_id"], letter.origin["field"]) == (6, "created_at")
    assert "ahead of the connector's clock" in letter.reason
    assert "connector.future_tolerance_s" in letter.reason
    cursor = (await load_cursors(settings))[BAD]
    assert cursor.entry_id == 9
    assert cursor.created_at <= datetime.now(UTC)
    # Entry 6 was dead-lettered, not skipped: no warning says it was not produced.
    assert "not produced" not in caplog.text


async def drip(request: web.Request) -> web.StreamResponse:
    """A slow-loris answer: an empty feed, one byte every 0.2 s."""
    body = b'{"channel":{"id":930001},"feeds":[' + b" " * 200 + b"]}"
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    response.content_length = len(body)
    await response.prepare(request)
    for position in range(len(body)):
        await response.write(body[position : position + 1])
        await asyncio.sleep(0.2)
    await response.write_eof()
    return response


async def test_a_slow_loris_channel_meets_its_deadline_and_the_others_go_on(
    make_settings: Callable[..., Settings],
) -> None:
    slow, good = HostileChannel(BAD, override=drip), HostileChannel(GOOD)
    five_entries(good, datetime.now(UTC) - timedelta(minutes=5))
    async with serve_hostile(slow, good) as server:
        settings = make_settings(
            connector={
                "base_url": server.url,
                "request_timeout_s": 3,
                "request_deadline_s": 1,
            },
            channels=[{"id": BAD}, {"id": GOOD}],
        )
        await ensure_topics(settings)
        source = ThingSpeakSource(settings, retry=FAST)
        # The drip alone would take 40 s per attempt.
        summary = await asyncio.wait_for(source.run(once=True), timeout=20)

    by_channel = {t.channel: t for t in summary.channels}
    assert by_channel[BAD].errors == 1
    assert "deadline" in str(by_channel[BAD].last_error)
    assert slow.reads == FAST.attempts  # retried like a timeout
    assert by_channel[GOOD].produced == len(good.entries)
    assert by_channel[GOOD].errors == 0
    assert produced_ids(await raw_readings(settings), GOOD) == served_ids(good)


async def test_an_entry_id_served_twice_with_different_values_is_a_dead_letter(
    make_settings: Callable[..., Settings],
) -> None:
    start = datetime.now(UTC) - timedelta(minutes=5)
    channel, good = HostileChannel(BAD), HostileChannel(GOOD)
    channel.add(1, start, field1="70")
    channel.add(2, start + timedelta(seconds=15), field1="71")
    channel.add(2, start + timedelta(seconds=15), field1="99")  # conflicting
    channel.add(3, start + timedelta(seconds=30), field1="72")
    channel.add(3, start + timedelta(seconds=30), field1="72")  # identical
    channel.add(4, start + timedelta(seconds=45), field1="73")
    five_entries(good, start)
    async with serve_hostile(channel, good) as server:
        settings = make_settings(
            connector={"base_url": server.url},
            channels=[{"id": BAD}, {"id": GOOD}],
        )
        await ensure_topics(settings)
        summary = await ThingSpeakSource(settings, retry=FAST).run(once=True)

    by_channel = {t.channel: t for t in summary.channels}
    assert (by_channel[BAD].errors, by_channel[BAD].duplicates) == (0, 1)
    readings = await raw_readings(settings)
    assert produced_ids(readings, BAD) == served_ids(channel) - {2}
    assert produced_ids(readings, GOOD) == served_ids(good)
    (letter,) = await dead_letters(settings)
    assert (letter.origin["entry_id"], letter.origin["field"]) == (2, "field1")
    assert "field1: '71' / '99'" in letter.reason
    assert letter.payload is not None
    assert [v["field1"] for v in orjson.loads(letter.payload)] == ["71", "99"]
    # One record per entry downstream: the reading or the dead letter.
    assert by_channel[BAD].produced + by_channel[BAD].dead_lettered == len(
        served_ids(channel)
    )


async def test_digits_of_other_scripts_are_dead_letters_not_numbers(
    make_settings: Callable[..., Settings],
) -> None:
    start = datetime.now(UTC) - timedelta(minutes=5)
    channel = HostileChannel(BAD)
    channel.add(1, start, field1="72")
    arabic_indic, full_width = "\u0667\u0662", "\uff17\uff12"  # both say 72
    channel.add(2, start + timedelta(seconds=15), field1=arabic_indic)
    channel.add(3, start + timedelta(seconds=30), field1=full_width)
    async with serve_hostile(channel) as server:
        settings = make_settings(
            connector={"base_url": server.url}, channels=[{"id": BAD}]
        )
        await ensure_topics(settings)
        await ThingSpeakSource(settings, retry=FAST).run(once=True)

    assert produced_ids(await raw_readings(settings), BAD) == {1}
    letters = {d.origin["entry_id"]: d for d in await dead_letters(settings)}
    assert sorted(letters) == [2, 3]
    for letter in letters.values():
        assert "is not a number" in letter.reason


async def test_a_device_clock_fast_within_the_tolerance_loses_and_warns_nothing(
    make_settings: Callable[..., Settings], caplog: pytest.LogCaptureFixture
) -> None:
    # Every entry two minutes ahead: produced, and the next read starts at
    # the read's time, not two minutes on; below the cursor nothing is
    # reported as skipped.
    fast = timedelta(minutes=2)
    channel = HostileChannel(BAD)
    five_entries(channel, datetime.now(UTC) + fast - timedelta(minutes=2))
    async with serve_hostile(channel) as server:
        settings = make_settings(
            connector={"base_url": server.url}, channels=[{"id": BAD}]
        )
        await ensure_topics(settings)
        for entry_id in (6, 7, 8):
            await ThingSpeakSource(settings, retry=FAST).run(once=True)
            channel.add(entry_id, datetime.now(UTC) + fast, field1="70")
        await ThingSpeakSource(settings, retry=FAST).run(once=True)

    assert produced_ids(await raw_readings(settings), BAD) == served_ids(channel)
    assert await dead_letters(settings) == []
    cursor = (await load_cursors(settings))[BAD]
    assert cursor.created_at <= datetime.now(UTC) < cursor.entry_time
    assert "below its entry_id" not in caplog.text


async def test_a_cursor_left_in_the_future_by_an_older_connector_is_healed(
    make_settings: Callable[..., Settings], caplog: pytest.LogCaptureFixture
) -> None:
    start = datetime.now(UTC) - timedelta(minutes=5)
    channel = HostileChannel(BAD)
    five_entries(channel, start)
    channel.add(6, datetime(2099, 1, 1, tzinfo=UTC), field1="66")
    async with serve_hostile(channel) as server:
        settings = make_settings(
            connector={"base_url": server.url}, channels=[{"id": BAD}]
        )
        await ensure_topics(settings)
        # What the connector wrote before: entry 6's time, one time only.
        poisoned = b'{"schema":"vitalstream.connector-cursor/1","channel":%d,' % BAD
        poisoned += b'"entry_id":6,"created_at":"2099-01-01T00:00:00Z"}'
        producer = AIOKafkaProducer(bootstrap_servers=settings.kafka.bootstrap_servers)
        await producer.start()
        try:
            topic = settings.topics.connector_offsets.name
            await producer.send_and_wait(topic, poisoned, key=str(BAD).encode())
        finally:
            await producer.stop()
        for entry_id in (7, 8, 9):
            channel.add(entry_id, datetime.now(UTC), field1="70")
        summary = await ThingSpeakSource(settings, retry=FAST).run(once=True)

    assert summary.errors == 0
    assert produced_ids(await raw_readings(settings), BAD) == {7, 8, 9}
    assert "the cursor's time 2099-01-01T00:00:00Z is in the future" in caplog.text
    cursor = (await load_cursors(settings))[BAD]
    assert cursor.entry_id == 9
    assert cursor.created_at <= datetime.now(UTC)
