"""Per-subject rule state: latest values, sustained levels, open conditions.

Real devices send one metric per entry, so a subject's state carries the
latest value of each metric with its time, and the evaluation combines them.
Everything here is plain data that round-trips through :meth:`to_doc` /
:meth:`from_doc`, which is how the state survives a restart.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from streams.alerting.replay import SeenReadings

# Upper bound on a level history, whatever sustained_s asks for.
_MAX_HISTORY = 1000


@dataclass(slots=True)
class Sustained:
    """A level (a sub-score, or 1 for "faulty") that changes only when sustained.

    The confirmed level moves when every reading of a recent window lies on
    the same side of it: the last ``readings`` readings, or the readings
    spanning at least ``seconds`` (two or more). It moves to the level that
    held throughout: the lowest of a rising window, the highest of a falling
    one. One noisy reading therefore never moves it (unless ``readings`` is 1).
    """

    confirmed: int = 0
    history: list[tuple[float, int]] = field(default_factory=list)

    def update(self, at: float, level: int, *, readings: int, seconds: float) -> int:
        """Add a reading at ``at`` (epoch seconds); return the confirmed level."""
        self.history.append((at, level))
        self._trim(readings, seconds)

        windows = [self.history[-readings:]] if len(self.history) >= readings else []
        if seconds > 0:
            span = self._spanning(seconds)
            if span is not None:
                windows.append(span)
        for window in windows:
            levels = [lvl for _, lvl in window]
            if all(lvl > self.confirmed for lvl in levels):
                self.confirmed = min(levels)
                break
            if all(lvl < self.confirmed for lvl in levels):
                self.confirmed = max(levels)
                break
        return self.confirmed

    def restart(self) -> None:
        """Forget the history (after a gap), keeping the confirmed level."""
        self.history.clear()

    def _spanning(self, seconds: float) -> list[tuple[float, int]] | None:
        latest = self.history[-1][0]
        for start in range(len(self.history) - 2, -1, -1):
            if latest - self.history[start][0] >= seconds:
                return self.history[start:]
        return None

    def _trim(self, readings: int, seconds: float) -> None:
        # Keep the last `readings` entries and, for the time window, the
        # entries within `seconds` of the latest plus the one before them.
        latest = self.history[-1][0]
        keep_from = max(0, len(self.history) - readings)
        if seconds > 0:
            for index, (at, _) in enumerate(self.history):
                if latest - at <= seconds:
                    keep_from = min(keep_from, max(0, index - 1))
                    break
        keep_from = max(keep_from, len(self.history) - _MAX_HISTORY)
        del self.history[:keep_from]

    def to_doc(self) -> dict[str, Any]:
        return {"confirmed": self.confirmed, "history": self.history}

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Sustained:
        return cls(
            confirmed=int(doc["confirmed"]),
            history=[(float(at), int(level)) for at, level in doc["history"]],
        )


@dataclass(slots=True)
class MetricState:
    """One metric of one subject: its latest plausible value and its levels."""

    value: float | None = None
    observed_at: str | None = None
    at: float | None = None
    score: Sustained = field(default_factory=Sustained)
    fault: Sustained = field(default_factory=Sustained)
    last_fault_value: float | None = None
    scored: bool = False

    def to_doc(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "observed_at": self.observed_at,
            "at": self.at,
            "score": self.score.to_doc(),
            "fault": self.fault.to_doc(),
            "last_fault_value": self.last_fault_value,
            "scored": self.scored,
        }

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> MetricState:
        return cls(
            value=doc["value"],
            observed_at=doc["observed_at"],
            at=doc["at"],
            score=Sustained.from_doc(doc["score"]),
            fault=Sustained.from_doc(doc["fault"]),
            last_fault_value=doc["last_fault_value"],
            scored=bool(doc["scored"]),
        )


@dataclass(slots=True)
class SubjectState:
    """Everything the rules remember about one subject.

    ``open`` maps a condition name to its current severity: a condition in
    it has been raised and not yet resolved. ``seen`` recognises readings
    shown before: recent entry ids per channel and recent tokens (replay.py).
    """

    last_seen: float | None = None
    # Stream time at which the subject's newest record arrived. Not kept
    # across restarts (``last_seen`` stands in): it only stops a catch-up
    # (a backfill, a consumer behind) from looking like silence.
    heard_at: float | None = None
    # Wall-clock (monotonic) reading at that arrival; not kept either. Silence
    # of a subject heard in this run waits for wall-clock time too, so a
    # catch-up does not report the subjects whose records it has not read.
    heard_wall: float | None = None
    metrics: dict[str, MetricState] = field(default_factory=dict)
    open: dict[str, str] = field(default_factory=dict)
    seen: SeenReadings = field(default_factory=SeenReadings)

    def metric(self, name: str) -> MetricState:
        """The state of metric ``name``, created on first use."""
        state = self.metrics.get(name)
        if state is None:
            state = self.metrics[name] = MetricState()
        return state

    def to_doc(self) -> dict[str, Any]:
        """A JSON-ready dict of this state (values in the clear)."""
        return {
            "last_seen": self.last_seen,
            "metrics": {name: m.to_doc() for name, m in self.metrics.items()},
            "open": dict(self.open),
            "seen": self.seen.to_doc(),
        }

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> SubjectState:
        """Rebuild a state from :meth:`to_doc`; KeyError/ValueError if malformed."""
        return cls(
            last_seen=doc["last_seen"],
            metrics={
                name: MetricState.from_doc(m) for name, m in doc["metrics"].items()
            },
            open={str(k): str(v) for k, v in doc["open"].items()},
            seen=SeenReadings.from_doc(doc["seen"]),
        )
