"""The stream clock: event time, carried forward by elapsed time."""

from __future__ import annotations

from streams.alerting.clock import StreamClock


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_follows_observations_and_ages_when_they_stop() -> None:
    ticks = FakeMonotonic()
    clock = StreamClock(ticks)
    assert not clock.started

    clock.observe(1_626_721_200.0)  # 2021-07-19T19:00:00Z
    assert clock.now_epoch() == 1_626_721_200.0
    ticks.now += 30
    assert clock.now_epoch() == 1_626_721_230.0
    assert clock.now().isoformat() == "2021-07-19T19:00:30+00:00"


def test_older_observations_do_not_turn_it_back() -> None:
    ticks = FakeMonotonic()
    clock = StreamClock(ticks)
    clock.observe(2000.0)
    clock.observe(1500.0)
    assert clock.now_epoch() == 2000.0
    clock.observe(2500.0)
    assert clock.now_epoch() == 2500.0


def test_says_how_far_an_observation_moved_it_ahead() -> None:
    ticks = FakeMonotonic()
    clock = StreamClock(ticks)
    assert clock.observe(1_626_721_200.0) == 0.0  # the first sets it
    ticks.now += 30
    assert clock.observe(1_626_721_215.0) == 0.0  # behind where it ran to
    assert clock.observe(1_626_721_240.0) == 10.0
    # A 2021 recording, then a live reading: a leap of years.
    assert clock.observe(1_796_346_000.0) == 1_796_346_000.0 - 1_626_721_240.0
