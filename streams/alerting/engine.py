"""The rule engine: observations in, alert events out. Pure: no I/O, no clock.

Per subject it keeps a :class:`SubjectState`. An observation updates the
latest value of each metric it carries; implausible values feed only the
sensor-fault levels, plausible ones the NEWS2 sub-scores. Every condition is
de-duplicated: raised once, escalated when its severity rises, resolved when
it clears. Device silence is checked by :meth:`AlertEngine.silent_check`
against a time the caller supplies, so tests need no sleeping.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from schemas.records import parse_utc, utc_iso
from streams.alerting.news2 import News2Score, aggregate, risk_rank
from streams.alerting.rules import RuleConfig, fault_hint
from streams.alerting.state import MetricState, SubjectState

logger = logging.getLogger(__name__)

Kind = Literal["clinical", "sensor_fault", "device_silent"]
Transition = Literal["raised", "escalated", "resolved"]

CLINICAL_CONDITION = "news2"
SILENT_CONDITION = "device_silent"
NOTICE = "notice"  # the severity of sensor-fault and device-silent notices


@dataclass(frozen=True, slots=True)
class Observation:
    """One anonymised reading, unsealed: what the engine evaluates.

    ``metrics`` are values that came out of sealed tokens, never clear ones;
    ``tokens`` the fingerprints of those tokens (opening.token_fingerprint).
    """

    subject: str
    observed_at: str
    metrics: Mapping[str, float | None]
    channel: str | None = None
    entry_id: int | None = None
    temperature_site: str | None = None
    tokens: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class AlertEvent:
    """A condition of one subject changed state; ``details`` are in the clear."""

    subject: str
    kind: Kind
    condition: str
    severity: str
    state: Transition
    at: str
    details: Mapping[str, float]
    missing: tuple[str, ...] = ()
    hint: str | None = None
    channel: str | None = None
    entry_id: int | None = None


@dataclass(frozen=True, slots=True)
class Evaluation:
    """What one observation led to."""

    events: list[AlertEvent] = field(default_factory=list)
    duplicate: bool = False


class AlertEngine:
    """Evaluates observations per subject under a :class:`RuleConfig`."""

    def __init__(self, rules: RuleConfig) -> None:
        self.rules = rules
        self._subjects: dict[str, SubjectState] = {}

    def __len__(self) -> int:
        return len(self._subjects)

    def subjects(self) -> Iterator[tuple[str, SubjectState]]:
        """Every subject with its state."""
        return iter(list(self._subjects.items()))

    def state_of(self, subject: str) -> SubjectState | None:
        return self._subjects.get(subject)

    def restore(self, subject: str, state: SubjectState) -> None:
        """Put back a subject's state saved before a restart."""
        self._subjects[subject] = state

    def forget(self, subject: str) -> None:
        """Drop a subject (its partition moved to another worker)."""
        self._subjects.pop(subject, None)

    def observe(
        self,
        obs: Observation,
        *,
        heard_at: float | None = None,
        heard_wall: float | None = None,
    ) -> Evaluation:
        """Update the subject's state with ``obs``; return the alert events.

        ``heard_at`` is the stream time (epoch seconds) at which the record
        arrived; a subject is silent only when both its newest observation
        and its newest arrival are older than ``silent_after_s``.
        ``heard_wall`` is the wall-clock reading (monotonic seconds) at
        arrival: see :meth:`silent_check`.
        Raises ``ValueError`` if ``observed_at`` is not an ISO-8601 time.
        """
        at = parse_utc(obs.observed_at).timestamp()
        state = self._subjects.setdefault(obs.subject, SubjectState())
        if self._is_duplicate(state, obs, at):
            return Evaluation(duplicate=True)

        events: list[AlertEvent] = []
        if state.open.pop(SILENT_CONDITION, None) is not None:
            events.append(
                self._event(obs, SILENT_CONDITION, "device_silent", NOTICE, "resolved")
            )
        if state.last_seen is not None and at - state.last_seen > (
            self.rules.silent_after_s
        ):
            # Readings from before a silence do not count towards "sustained".
            for metric in state.metrics.values():
                metric.score.restart()
                metric.fault.restart()
        state.last_seen = at if state.last_seen is None else max(state.last_seen, at)
        if heard_at is not None:
            state.heard_at = heard_at
        if heard_wall is not None:
            state.heard_wall = heard_wall

        for name, value in obs.metrics.items():
            if value is None:
                continue
            if not math.isfinite(value):
                # Tokens never open to one (SEALED-FORMAT.md); if one came,
                # it is left out rather than stop the engine or be sealed.
                logger.debug("subject %s: %s not finite, left out", obs.subject, name)
                continue
            events.extend(self._metric(state, obs, at, name, value))
        events.extend(self._clinical(state, obs))
        return Evaluation(events=events)

    def new_timeline(self, before: float, now: float) -> None:
        """The stream clock leapt from ``before`` to ``now`` (epoch seconds).

        Subjects heard on the old timeline and not silent on it are taken as
        heard at the leap: their silence is judged on the new timeline from
        there, not by the gap between the two (StreamClock). Subjects
        restored from the state topic have not been heard in this run and
        keep their last observation.
        """
        limit = self.rules.silent_after_s
        for state in self._subjects.values():
            if state.heard_at is None or SILENT_CONDITION in state.open:
                continue
            heard = max(state.heard_at, state.last_seen or state.heard_at)
            if before - heard <= limit:
                state.heard_at = now

    def silent_check(
        self, now: datetime, wall_now: float | None = None
    ) -> list[AlertEvent]:
        """Raise "device silent" for subjects quiet for ``silent_after_s``.

        With ``wall_now`` (monotonic seconds, as ``heard_wall`` was given),
        a subject heard in this run must also have been quiet that long by
        the wall clock. A consumer catching up reads minutes of stream time
        in seconds, partition by partition: without this, the subjects on a
        partition read later looked silent while their records waited.

        TODO(#5): subjects restored from the state topic have no wall-clock
        reading and are judged by stream time alone, so a consumer that
        restarts into a backlog can still report a restored, talking subject
        silent until its partition is read (its next reading resolves it).
        """
        events: list[AlertEvent] = []
        moment = now.timestamp()
        limit = self.rules.silent_after_s
        for subject, state in self._subjects.items():
            if state.last_seen is None or SILENT_CONDITION in state.open:
                continue
            if (
                wall_now is not None
                and state.heard_wall is not None
                and wall_now - state.heard_wall <= limit
            ):
                continue
            quiet = moment - max(state.last_seen, state.heard_at or state.last_seen)
            if quiet > limit:
                state.open[SILENT_CONDITION] = NOTICE
                events.append(
                    AlertEvent(
                        subject=subject,
                        kind="device_silent",
                        condition=SILENT_CONDITION,
                        severity=NOTICE,
                        state="raised",
                        at=utc_iso(now.astimezone(UTC)),
                        details={"silent_s": round(quiet, 3)},
                    )
                )
        return events

    def _is_duplicate(self, state: SubjectState, obs: Observation, at: float) -> bool:
        if state.seen.replayed(obs.channel or "", obs.entry_id, at, obs.tokens):
            logger.debug("duplicate entry %s of subject %s", obs.entry_id, obs.subject)
            return True
        return False

    def _metric(
        self, state: SubjectState, obs: Observation, at: float, name: str, value: float
    ) -> list[AlertEvent]:
        rules = self.rules
        metric = state.metric(name)
        plausible = rules.is_plausible(name, value)
        faulty = metric.fault.update(
            at,
            0 if plausible else 1,
            readings=rules.sustained_readings,
            seconds=rules.sustained_s,
        )
        if plausible:
            _record_value(metric, obs, at, value)
            score = rules.score(name, value, obs.temperature_site)
            metric.scored = score is not None
            if score is not None:
                metric.score.update(
                    at,
                    score,
                    readings=rules.sustained_readings,
                    seconds=rules.sustained_s,
                )
        else:
            metric.last_fault_value = value
            # What the sensor showed between two good readings is unknown,
            # so a fault interrupts a sustained run: two SpO2 94 % minutes
            # apart with "no finger" zeros between (channel 1448708) are
            # not a sustained 94 %.
            metric.score.restart()

        condition = f"{name}_implausible"
        if faulty and condition not in state.open:
            state.open[condition] = NOTICE
            return [
                self._event(
                    obs,
                    condition,
                    "sensor_fault",
                    NOTICE,
                    "raised",
                    details={name: value},
                    hint=fault_hint(name, value),
                )
            ]
        if not faulty and condition in state.open:
            del state.open[condition]
            return [
                self._event(
                    obs,
                    condition,
                    "sensor_fault",
                    NOTICE,
                    "resolved",
                    details={name: value},
                )
            ]
        return []

    def _clinical(self, state: SubjectState, obs: Observation) -> list[AlertEvent]:
        scored = {n: m for n, m in state.metrics.items() if m.scored}
        news = aggregate({n: m.score.confirmed for n, m in scored.items()})
        active = state.open.get(CLINICAL_CONDITION)
        alerting = risk_rank(news.risk) >= risk_rank(self.rules.min_risk)

        transition: Transition | None = None
        severity: str = news.risk
        if alerting and active is None:
            transition = "raised"
        elif alerting and active is not None:
            if risk_rank(news.risk) > risk_rank(active):
                transition = "escalated"
        elif active is not None:
            transition, severity = "resolved", active

        if alerting:
            # A fall within the alerting bands is remembered without a
            # message, so that a later rise escalates again.
            state.open[CLINICAL_CONDITION] = news.risk
        else:
            state.open.pop(CLINICAL_CONDITION, None)
        if transition is None:
            return []
        return [
            self._event(
                obs,
                CLINICAL_CONDITION,
                "clinical",
                severity,
                transition,
                details=_clinical_details(news, scored),
                missing=news.missing,
            )
        ]

    @staticmethod
    def _event(
        obs: Observation,
        condition: str,
        kind: Kind,
        severity: str,
        transition: Transition,
        *,
        details: Mapping[str, float] | None = None,
        missing: tuple[str, ...] = (),
        hint: str | None = None,
    ) -> AlertEvent:
        return AlertEvent(
            subject=obs.subject,
            kind=kind,
            condition=condition,
            severity=severity,
            state=transition,
            at=obs.observed_at,
            details=dict(details or {}),
            missing=missing,
            hint=hint,
            channel=obs.channel,
            entry_id=obs.entry_id,
        )


def _record_value(
    metric: MetricState, obs: Observation, at: float, value: float
) -> None:
    if metric.at is None or at >= metric.at:
        metric.value, metric.observed_at, metric.at = value, obs.observed_at, at


def _clinical_details(
    news: News2Score, scored: Mapping[str, MetricState]
) -> dict[str, float]:
    details: dict[str, float] = {"news2": float(news.total)}
    for name, metric in scored.items():
        if metric.value is not None:
            details[name] = metric.value
        details[f"score.{name}"] = float(news.sub_scores[name])
    return details
