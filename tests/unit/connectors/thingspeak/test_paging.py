"""Walking a feed in complete windows: beyond 8000 entries, crowded seconds.

The feed here is an in-memory model of ThingSpeak's read rule: entries in
[start, end] (whole seconds), at most ``results`` of them, oldest first in
the answer; which end a full answer cuts is a parameter, since the walker
must not depend on it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from connectors.errors import ChannelPagingError
from connectors.thingspeak.paging import EPOCH, MAX_RESULTS, FeedWalker
from connectors.thingspeak.parse import FeedEntry, FeedPage

BASE = datetime(2021, 7, 19, tzinfo=UTC)
LATER = BASE + timedelta(days=1)  # the connector's clock, after every entry


@dataclass
class MemoryFeed:
    times: list[datetime]  # entry k has entry_id k + 1
    keep: str = "newest"  # what a full answer keeps
    end_inclusive: bool = True
    reads: list[tuple[datetime, datetime | None, int]] = field(default_factory=list)

    async def fetch(
        self, start: datetime, end: datetime | None, results: int
    ) -> FeedPage:
        assert 1 <= results <= MAX_RESULTS
        assert start.microsecond == 0
        assert end is None or end.microsecond == 0
        self.reads.append((start, end, results))
        chosen = [
            FeedEntry(n + 1, t, {"entry_id": n + 1})
            for n, t in enumerate(self.times)
            if t >= start
            and (end is None or t < end or (self.end_inclusive and t == end))
        ]
        chosen = chosen[-results:] if self.keep == "newest" else chosen[:results]
        return FeedPage(None, chosen)


async def walk(
    feed: MemoryFeed, since: datetime, after: int | None, **kw: int
) -> list[int]:
    walker = FeedWalker(1, feed.fetch, **kw)
    produced: list[int] = []
    async for batch in walker.batches(since, after):
        produced += [e.entry_id for e in batch.entries]
    return produced


@pytest.mark.parametrize("keep", ["newest", "oldest"])
async def test_backfill_of_20000_entries_with_8000_per_read(keep: str) -> None:
    feed = MemoryFeed([BASE + timedelta(seconds=2 * n) for n in range(20_000)], keep)
    assert await walk(feed, EPOCH, None) == list(range(1, 20_001))
    # Narrowing and widening windows, not a read per second of history.
    assert len(feed.reads) < 60


@pytest.mark.parametrize("keep", ["newest", "oldest"])
async def test_small_pages_of_100(keep: str) -> None:
    feed = MemoryFeed([BASE + timedelta(seconds=15 * n) for n in range(1_000)], keep)
    assert await walk(feed, EPOCH, None, page_size=100) == list(range(1, 1_001))
    assert all(results == 100 for _, _, results in feed.reads)


async def test_incremental_read_starts_at_the_cursor_time_and_skips_its_entries() -> (
    None
):
    times = [BASE + timedelta(seconds=n // 3) for n in range(30)]  # 3 per second
    feed = MemoryFeed(times)
    produced = await walk(feed, times[16], 17)
    assert produced == list(range(18, 31))
    assert feed.reads[0][0] == times[16]


async def test_caught_up_channel_yields_one_empty_batch() -> None:
    feed = MemoryFeed([BASE, BASE + timedelta(seconds=5)])
    walker = FeedWalker(1, feed.fetch)
    batches = [b async for b in walker.batches(BASE + timedelta(seconds=5), 2)]
    assert len(batches) == 1
    assert batches[0].entries == []
    assert batches[0].caught_up


async def test_a_crowded_second_is_read_with_the_largest_page() -> None:
    # 150 entries in one second, pages of 100: only `results=8000` covers it.
    times = (
        [BASE] * 10
        + [BASE + timedelta(seconds=60)] * 150
        + [BASE + timedelta(seconds=120)] * 5
    )
    feed = MemoryFeed(times)
    assert await walk(feed, BASE, None, page_size=100) == list(range(1, 166))
    assert any(results == MAX_RESULTS for _, _, results in feed.reads)


async def test_a_second_holding_more_than_any_read_is_an_error() -> None:
    feed = MemoryFeed([BASE] * 12)
    with pytest.raises(ChannelPagingError, match="more than 10 entries"):
        await walk(feed, BASE, None, page_size=5, max_results=10)


async def test_an_entry_the_walk_passed_by_entry_id_is_reported() -> None:
    # Entry 3 is dated after entries 4-12: the narrowed windows produce those
    # first, and entry 3 turns up below the cursor. Id and time disagree.
    times = [BASE + timedelta(seconds=n) for n in range(12)]
    times[2] = BASE + timedelta(seconds=100)
    feed = MemoryFeed(times)
    walker = FeedWalker(1, feed.fetch, page_size=4, clock=lambda: LATER)
    batches = [b async for b in walker.batches(EPOCH, None)]
    assert [e.entry_id for b in batches for e in b.behind_cursor] == [3]
    assert 3 not in [e.entry_id for b in batches for e in b.entries]


async def test_entries_below_the_cursor_dated_after_its_entry_are_reported() -> None:
    # A channel cleared and written again (or a recording replayed): new
    # entries get entry_ids the cursor has passed long ago.
    cursor_time = BASE - timedelta(days=30)
    feed = MemoryFeed([BASE + timedelta(seconds=15 * n) for n in range(5)])
    walker = FeedWalker(1, feed.fetch, clock=lambda: LATER)
    batches = [b async for b in walker.batches(cursor_time, 149)]
    assert [e.entry_id for b in batches for e in b.behind_cursor] == [1, 2, 3, 4, 5]
    assert [e.entry_id for b in batches for e in b.entries] == []


async def test_below_a_cursor_dated_after_its_read_nothing_is_reported() -> None:
    # A device two minutes fast, within the tolerance: its entries were
    # produced, and the cursor starts the next read at that read's time.
    read_at = BASE + timedelta(minutes=10)
    times = [
        read_at + timedelta(minutes=2) - timedelta(seconds=15 * n) for n in range(4)
    ]
    times.reverse()
    feed = MemoryFeed(times)
    walker = FeedWalker(
        1,
        feed.fetch,
        clock=lambda: read_at + timedelta(seconds=15),
        future_tolerance=timedelta(minutes=5),
    )
    batches = [b async for b in walker.batches(read_at, 4, times[-1])]
    assert [e.entry_id for b in batches for e in b.behind_cursor] == []
    assert [e.entry_id for b in batches for e in b.entries] == []


@settings(max_examples=300, deadline=None)
@given(
    gaps=st.lists(
        st.one_of(st.just(0), st.integers(0, 3), st.integers(0, 100_000)),
        min_size=0,
        max_size=300,
    ),
    page_size=st.integers(4, 40),
    keep=st.sampled_from(["newest", "oldest"]),
    end_inclusive=st.booleans(),
    cursor_at=st.floats(0, 1),
)
# Nine entries in one second and one in the next: with an inclusive `end`, a
# one-second window holds all ten (found by CI).
@example(
    gaps=[0] * 9 + [1], page_size=5, keep="newest", end_inclusive=True, cursor_at=0.0
)
async def test_every_entry_after_the_cursor_once_in_order(
    gaps: list[int], page_size: int, keep: str, end_inclusive: bool, cursor_at: float
) -> None:
    times, moment = [], BASE
    for gap in gaps:
        moment += timedelta(seconds=gap)
        times.append(moment)
    feed = MemoryFeed(times, keep, end_inclusive)
    cursor = int(cursor_at * len(times))
    since = times[cursor - 1] if cursor else EPOCH
    # A one-second window holding a full largest read cannot be walked
    # through; with an inclusive `end` that window also holds the next second.
    walked = [t for t in times if t >= since]
    reach = timedelta(seconds=1)
    crowded = max(
        (
            sum(
                1
                for u in walked
                if t <= u < t + reach or (end_inclusive and u == t + reach)
            )
            for t in set(walked)
        ),
        default=0,
    )
    max_results = 2 * page_size
    if crowded >= max_results:
        with pytest.raises(ChannelPagingError):
            await walk(
                feed,
                since,
                cursor or None,
                page_size=page_size,
                max_results=max_results,
            )
        return
    produced = await walk(
        feed, since, cursor or None, page_size=page_size, max_results=max_results
    )
    assert produced == list(range(cursor + 1, len(times) + 1))


async def test_a_far_future_entry_does_not_carry_the_windows_past_the_clock() -> None:
    # Full pages narrow the windows; the newest time they saw (2099) must
    # not be where the walk heads for: no window starts or ends after now.
    now = BASE + timedelta(hours=1)
    times = [BASE + timedelta(seconds=n) for n in range(20)]
    plain = MemoryFeed(list(times))
    assert len(await walk(plain, EPOCH, None, page_size=4)) == 20
    times[5] = datetime(2099, 1, 1, tzinfo=UTC)
    feed = MemoryFeed(times)
    walker = FeedWalker(1, feed.fetch, page_size=4, clock=lambda: now)
    batches = [b async for b in walker.batches(EPOCH, None)]
    assert all(start <= now for start, _, _ in feed.reads)
    assert all(end is None or end <= now for _, end, _ in feed.reads)
    # About as many reads as the same feed without it, not a walk to 2099.
    assert len(feed.reads) <= len(plain.reads) + 4
    walked = [e.entry_id for b in batches for e in b.entries]
    # Entry 6 is dated after entries 7-20, which the narrowed windows
    # produced first: it is reported below the cursor, not lost in silence.
    assert walked == [n for n in range(1, 21) if n != 6]
    assert [e.entry_id for b in batches for e in b.behind_cursor] == [6]


async def test_entries_written_after_a_future_dated_one_are_read() -> None:
    first_read = BASE + timedelta(minutes=10)
    times = [BASE + timedelta(seconds=15 * n) for n in range(5)]
    times.append(datetime(2099, 1, 1, tzinfo=UTC))
    feed = MemoryFeed(times)
    walker = FeedWalker(1, feed.fetch, clock=lambda: first_read)
    (batch,) = [b async for b in walker.batches(EPOCH, None)]
    assert [e.entry_id for e in batch.entries] == [1, 2, 3, 4, 5, 6]
    assert batch.read_at == first_read

    # The cursor's time is min(entry 6's, the read's): entries 7-9 follow.
    feed.times += [first_read + timedelta(seconds=n) for n in (5, 20, 35)]
    walker = FeedWalker(1, feed.fetch, clock=lambda: first_read + timedelta(hours=1))
    batches = [b async for b in walker.batches(min(times[5], batch.read_at), 6)]
    assert [e.entry_id for b in batches for e in b.entries] == [7, 8, 9]
    assert [e.entry_id for b in batches for e in b.behind_cursor] == []
