"""The rule engine: sustained conditions, de-duplication, faults, silence."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from schemas.records import utc_iso
from streams.alerting.engine import AlertEngine, AlertEvent, Evaluation, Observation
from streams.alerting.replay import MAX_CHANNELS, WINDOW
from streams.alerting.rules import RuleConfig
from streams.alerting.state import SubjectState

START = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)
SUBJECT = "sub-1"


def engine(**rules: object) -> AlertEngine:
    return AlertEngine(RuleConfig(**rules))  # type: ignore[arg-type]


class Feed:
    """Feeds one subject's readings 15 s apart, one metric per entry."""

    def __init__(self, eng: AlertEngine, *, site: str = "core") -> None:
        self.eng = eng
        self.entry = 0
        self.site = site
        self.events: list[AlertEvent] = []

    def send(
        self,
        **metrics: float,
    ) -> list[AlertEvent]:
        self.entry += 1
        at = START + timedelta(seconds=15 * self.entry)
        evaluation = self.eng.observe(
            Observation(
                subject=SUBJECT,
                observed_at=at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                metrics=metrics,
                channel="ch-token",
                entry_id=self.entry,
                temperature_site=self.site,
            )
        )
        self.events.extend(evaluation.events)
        return evaluation.events

    def now(self, after_s: float = 0) -> datetime:
        return START + timedelta(seconds=15 * self.entry + after_s)


def summary(events: list[AlertEvent]) -> list[tuple[str, str, str, str]]:
    return [(e.kind, e.condition, e.severity, e.state) for e in events]


def test_spo2_falling_to_88_alerts_once_then_resolves_once() -> None:
    feed = Feed(engine())
    for _ in range(4):
        feed.send(spo2=97)
        feed.send(heart_rate=72)
    assert feed.events == []

    for _ in range(5):
        feed.send(spo2=88)
    for _ in range(5):
        feed.send(spo2=97)

    assert summary(feed.events) == [
        ("clinical", "news2", "low_medium", "raised"),
        ("clinical", "news2", "low_medium", "resolved"),
    ]
    raised = feed.events[0]
    assert raised.details["spo2"] == 88
    assert raised.details["score.spo2"] == 3
    assert raised.details["news2"] == 3
    assert "respiration_rate" in raised.missing


def test_escalation_raises_a_second_alert() -> None:
    feed = Feed(engine())
    for _ in range(3):
        feed.send(spo2=88)
    for _ in range(3):
        feed.send(heart_rate=135)

    assert summary(feed.events) == [
        ("clinical", "news2", "low_medium", "raised"),
        ("clinical", "news2", "medium", "escalated"),
    ]
    assert feed.events[1].details["news2"] == 6


def test_one_noisy_sample_raises_nothing() -> None:
    feed = Feed(engine())
    for value in (97, 97, 80, 97, 97, 85, 96, 97):
        feed.send(spo2=value)
    assert feed.events == []


def test_sustained_by_time_when_readings_are_sparse() -> None:
    eng = engine(sustained_readings=10, sustained_s=120)
    events = []
    for minute in (0, 1, 2, 3):
        at = START + timedelta(minutes=minute)
        events += eng.observe(
            Observation(SUBJECT, at.strftime("%Y-%m-%dT%H:%M:%SZ"), {"spo2": 88.0})
        ).events
    # Two minutes of 88 % confirm it at the reading of minute 2, not before.
    assert summary(events) == [("clinical", "news2", "low_medium", "raised")]
    assert events[0].at == "2026-05-01T08:02:00Z"


def test_sensor_fault_values_give_notices_and_no_clinical_alert() -> None:
    feed = Feed(engine())
    for _ in range(3):
        feed.send(body_temp=-127)
    for _ in range(3):
        feed.send(spo2=0)
    for _ in range(3):
        feed.send(heart_rate=0)

    assert summary(feed.events) == [
        ("sensor_fault", "body_temp_implausible", "notice", "raised"),
        ("sensor_fault", "spo2_implausible", "notice", "raised"),
        ("sensor_fault", "heart_rate_implausible", "notice", "raised"),
    ]
    assert feed.events[0].hint == "probe disconnected"
    assert feed.events[1].hint == "no finger on the sensor"


@pytest.mark.parametrize(
    ("metric", "value"),
    [
        ("body_temp", 85.0),
        ("body_temp", 19.9),
        ("body_temp", 46.5),
        ("spo2", 101.0),
        ("heart_rate", 301.0),
        ("heart_rate", 3.6531),
    ],
)
def test_implausible_values_are_faults_not_scores(metric: str, value: float) -> None:
    feed = Feed(engine())
    for _ in range(3):
        feed.send(**{metric: value})
    assert [e.kind for e in feed.events] == ["sensor_fault"]
    state = feed.eng.state_of(SUBJECT)
    assert state is not None
    assert state.metrics[metric].value is None


def test_fault_resolves_when_plausible_readings_return() -> None:
    feed = Feed(engine())
    for _ in range(3):
        feed.send(body_temp=-127)
    for _ in range(3):
        feed.send(body_temp=36.8)
    assert summary(feed.events)[-1] == (
        "sensor_fault",
        "body_temp_implausible",
        "notice",
        "resolved",
    )


def test_skin_temperature_is_not_scored_against_core_bands() -> None:
    # 31.8 on the skin is normal (CLINICAL.md); as a core reading it would
    # score 3 for hypothermia.
    skin = Feed(engine(), site="skin")
    core = Feed(engine(), site="core")
    for _ in range(4):
        skin.send(body_temp=31.8)
        core.send(body_temp=31.8)
    assert skin.events == []
    assert summary(core.events) == [("clinical", "news2", "low_medium", "raised")]


def test_site_offset_estimates_core_temperature() -> None:
    offsets = {"core": 0.0, "axillary": 0.5}
    feed = Feed(engine(site_offsets=offsets), site="axillary")
    for _ in range(3):
        feed.send(body_temp=34.8)  # 35.3 core: sub-score 1, not 3
    assert summary(feed.events) == [("clinical", "news2", "low", "raised")]


def test_duplicate_entries_do_not_alert_twice() -> None:
    eng = engine()
    events = []
    duplicates = 0
    for entry in (1, 2, 3, 3, 2, 4, 4):
        at = START + timedelta(seconds=15 * entry)
        evaluation = eng.observe(
            Observation(
                SUBJECT,
                at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                {"spo2": 88.0},
                channel="ch",
                entry_id=entry,
            )
        )
        events += evaluation.events
        duplicates += evaluation.duplicate
    assert duplicates == 3
    assert summary(events) == [("clinical", "news2", "low_medium", "raised")]


def test_silent_device_raises_once_and_resolves_on_the_next_reading() -> None:
    feed = Feed(engine(silent_after_s=600))
    feed.send(heart_rate=70)
    assert feed.eng.silent_check(feed.now(599)) == []

    silent = feed.eng.silent_check(feed.now(601))
    assert summary(silent) == [("device_silent", "device_silent", "notice", "raised")]
    assert feed.eng.silent_check(feed.now(1200)) == []

    feed.entry += 60
    assert summary(feed.send(heart_rate=70)) == [
        ("device_silent", "device_silent", "notice", "resolved")
    ]


def test_a_catch_up_ahead_of_the_wall_clock_is_not_silence() -> None:
    # A consumer catching up reads one partition's newer records before
    # another's: the stream clock runs minutes ahead within seconds. A
    # subject heard in this run is silent only once the wall clock agrees.
    eng = engine(silent_after_s=120)
    wall = 5_000.0  # monotonic seconds
    observed = START + timedelta(seconds=15)
    eng.observe(
        Observation(SUBJECT, utc_iso(observed), {"heart_rate": 70.0}, "ch", 1),
        heard_at=observed.timestamp(),
        heard_wall=wall,
    )
    ahead = START + timedelta(minutes=5)  # other partitions' readings
    assert eng.silent_check(ahead, wall + 3) == []
    assert eng.silent_check(ahead, wall + 120) == []

    (silent,) = eng.silent_check(ahead, wall + 121)
    assert (silent.kind, silent.state) == ("device_silent", "raised")
    assert silent.details["silent_s"] == pytest.approx(285)


def test_a_restored_subject_is_judged_by_stream_time_alone() -> None:
    # Not heard in this run (its state came from the state topic): nothing
    # of it waits to be read, so its silence is reported at once.
    eng = engine(silent_after_s=120)
    state = SubjectState(last_seen=(START + timedelta(seconds=15)).timestamp())
    eng.restore(SUBJECT, state)
    (silent,) = eng.silent_check(START + timedelta(minutes=5), wall_now=5_000.0)
    assert silent.kind == "device_silent"


def test_a_backfill_arriving_now_is_not_silence() -> None:
    # Old readings arriving now (a connector backfilling a channel's history)
    # are far behind the stream clock, but the device is not silent.
    eng = engine(silent_after_s=60)
    arrival = (START + timedelta(hours=1)).timestamp()
    events: list[AlertEvent] = []
    for entry in range(1, 20):
        observed = START + timedelta(seconds=15 * entry)
        events += eng.observe(
            Observation(
                subject=SUBJECT,
                observed_at=observed.strftime("%Y-%m-%dT%H:%M:%SZ"),
                metrics={"heart_rate": 70.0},
                channel="ch-token",
                entry_id=entry,
            ),
            heard_at=arrival + entry * 0.01,
        ).events
        events += eng.silent_check(datetime.fromtimestamp(arrival + entry * 0.01, UTC))
    assert events == []

    later = datetime.fromtimestamp(arrival + 61, UTC)
    assert summary(eng.silent_check(later)) == [
        ("device_silent", "device_silent", "notice", "raised")
    ]


def test_readings_before_a_silence_do_not_count_as_sustained() -> None:
    feed = Feed(engine(silent_after_s=600, sustained_s=0))
    feed.send(spo2=88)
    feed.send(spo2=88)
    feed.entry += 100  # 25 minutes of nothing
    feed.send(spo2=88)
    assert [e.kind for e in feed.events] == []


def test_state_restored_from_its_document_continues_where_it_left() -> None:
    first = Feed(engine())
    for _ in range(3):
        first.send(spo2=88)
    state = first.eng.state_of(SUBJECT)
    assert state is not None

    restarted = engine()
    restarted.restore(SUBJECT, SubjectState.from_doc(state.to_doc()))
    second = Feed(restarted)
    second.entry = first.entry
    for _ in range(2):
        second.send(spo2=88)
    second.entry -= 1
    assert second.send(spo2=88) == []  # a duplicate after restore
    for _ in range(3):
        second.send(spo2=97)
    # Not raised a second time; resolved once.
    assert summary(second.events) == [("clinical", "news2", "low_medium", "resolved")]


def test_min_severity_keeps_low_scores_quiet() -> None:
    feed = Feed(engine(min_risk="low_medium"))
    for _ in range(4):
        feed.send(heart_rate=100)
    assert feed.events == []


def test_a_fault_between_readings_interrupts_a_sustained_run() -> None:
    feed = Feed(engine(sustained_s=120))
    feed.send(spo2=94)
    for _ in range(10):
        feed.send(spo2=0)
    feed.send(spo2=94)
    assert [e.kind for e in feed.events] == ["sensor_fault"]


def spo2_at(
    eng: AlertEngine, entry_id: int, n: int, value: float = 88.0, **extra: object
) -> Evaluation:
    at = START + timedelta(seconds=15 * n)
    return eng.observe(
        Observation(
            SUBJECT,
            at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            {"spo2": value},
            channel="ch",
            entry_id=entry_id,
            **extra,  # type: ignore[arg-type]
        )
    )


@pytest.mark.parametrize("outlier", [2**63 - 1, 2**64 - 1])
def test_one_huge_entry_id_does_not_silence_the_channel(outlier: int) -> None:
    eng = engine()
    assert not spo2_at(eng, outlier, 0).duplicate
    events = []
    for n in range(1, 4):
        evaluation = spo2_at(eng, n, n)
        assert not evaluation.duplicate
        events += evaluation.events
    assert summary(events) == [("clinical", "news2", "low_medium", "raised")]
    # Redelivered, the real entries and the outlier are still duplicates.
    assert all(spo2_at(eng, n, n).duplicate for n in (1, 2, 3))
    assert spo2_at(eng, outlier, 0).duplicate


def test_a_flood_of_outliers_does_not_silence_a_channel_either() -> None:
    eng = engine()
    for n in range(3 * WINDOW):
        spo2_at(eng, 2**62 + n, 0, value=97.0)
    fresh = [spo2_at(eng, n, n) for n in range(1, 6)]
    assert not any(e.duplicate for e in fresh)
    assert summary([event for e in fresh for event in e.events]) == [
        ("clinical", "news2", "low_medium", "raised")
    ]
    assert all(spo2_at(eng, n, n).duplicate for n in range(1, 6))


def test_a_redelivery_older_than_the_window_is_below_the_floor() -> None:
    eng = engine()
    for n in range(1, 4 * WINDOW):
        spo2_at(eng, n, n)
    assert spo2_at(eng, 5, 5).duplicate
    assert spo2_at(eng, 4 * WINDOW - 1, 4 * WINDOW - 1).duplicate
    assert not spo2_at(eng, 4 * WINDOW, 4 * WINDOW).duplicate


def test_a_copied_token_is_a_replay_under_any_entry_id_or_channel() -> None:
    eng = engine()
    assert not spo2_at(eng, 1, 1, tokens=("t1",)).duplicate
    # The same token again: a copy of the record, its source rewritten.
    assert spo2_at(eng, 2, 1, tokens=("t1",)).duplicate
    assert eng.observe(
        Observation(
            SUBJECT,
            "2026-05-01T08:00:15Z",
            {"spo2": 88.0},
            channel="other",
            entry_id=9,
            tokens=("t1",),
        )
    ).duplicate
    # Three copies of one alarming token would have made it "sustained".
    assert eng.state_of(SUBJECT).metrics["spo2"].score.confirmed == 0  # type: ignore[union-attr]


def test_channels_remembered_per_subject_are_bounded() -> None:
    eng = engine()
    for n in range(MAX_CHANNELS + 10):
        eng.observe(
            Observation(
                SUBJECT, "2026-05-01T08:00:15Z", {}, channel=f"c{n}", entry_id=1
            )
        )
    state = eng.state_of(SUBJECT)
    assert state is not None
    assert len(state.seen.entries) == MAX_CHANNELS
    assert f"c{MAX_CHANNELS + 9}" in state.seen.entries


def test_a_channel_starting_again_from_entry_1_is_still_evaluated() -> None:
    eng = engine()
    for n in range(1, 2 * WINDOW):
        spo2_at(eng, 1000 + n, n, value=97.0)
    # Cleared on ThingSpeak: ids restart, readings are newer than the floor.
    fresh = [spo2_at(eng, n, 2 * WINDOW + n) for n in range(1, 4)]
    assert not any(e.duplicate for e in fresh)
    assert [e.state for f in fresh for e in f.events] == ["raised"]


@pytest.mark.parametrize("offset", [float("nan"), float("inf")])
def test_no_site_offset_stops_the_engine(offset: float) -> None:
    # Rules built without the settings' checks: scoring must still not raise.
    feed = Feed(engine(site_offsets={"skin": offset}), site="skin")
    for _ in range(3):
        assert feed.send(body_temp=36.5) == []
    state = feed.eng.state_of(SUBJECT)
    assert state is not None
    assert not state.metrics["body_temp"].scored


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_a_value_that_is_not_finite_is_left_out(value: float) -> None:
    feed = Feed(engine())
    for _ in range(3):
        assert feed.send(spo2=value) == []
    state = feed.eng.state_of(SUBJECT)
    assert state is not None
    assert "spo2" not in state.metrics


def test_after_a_leap_to_another_timeline_silence_counts_from_the_leap() -> None:
    eng = engine(silent_after_s=600)
    recorded = START.timestamp()
    live = recorded + 5 * 365 * 86400.0
    eng.observe(
        Observation("replayed", "2026-05-01T08:00:00Z", {"heart_rate": 70.0}),
        heard_at=recorded,
    )
    eng.observe(
        Observation("long-quiet", "2026-05-01T07:00:00Z", {"heart_rate": 70.0}),
        heard_at=recorded - 3600,
    )
    restored = SubjectState(last_seen=recorded)  # from the state topic
    eng.restore("restored", restored)

    eng.new_timeline(recorded + 1, live)

    at_leap = datetime.fromtimestamp(live + 599, UTC)
    assert {e.subject for e in eng.silent_check(at_leap)} == {"long-quiet", "restored"}
    (replayed,) = eng.silent_check(datetime.fromtimestamp(live + 601, UTC))
    assert replayed.subject == "replayed"
    assert replayed.details["silent_s"] == 601
