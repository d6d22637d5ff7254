"""NEWS2 sub-scores and the aggregate clinical risk, as pure functions.

Royal College of Physicians, National Early Warning Score 2 (2017); the
bands are transcribed in /work/shared/CLINICAL.md. A table maps a value to a
sub-score by upper-inclusive limits: the first limit the value does not
exceed gives its score, so a heart rate of 40 scores 3 and 40.5 scores 1,
the 41-50 band being read as "above 40 up to 50".
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

Risk = Literal["none", "low", "low_medium", "medium", "high"]

# Ordered from least to most urgent; "none" never alerts.
RISK_ORDER: tuple[Risk, ...] = ("none", "low", "low_medium", "medium", "high")

# Every NEWS2 parameter, under the metric names vitalstream uses. A score
# over fewer of them is partial (CLINICAL.md: "should say so").
NEWS2_PARAMETERS = (
    "respiration_rate",
    "spo2",
    "supplemental_oxygen",
    "systolic_bp",
    "heart_rate",
    "consciousness",
    "body_temp",
)


@dataclass(frozen=True, slots=True)
class ScoreTable:
    """Upper-inclusive limits with the sub-score of each band, in rising order.

    The last limit is ``inf`` so that every finite value has a band; the
    others are finite (a NaN limit compares false with everything, and would
    quietly send every value to the next band).
    """

    bands: tuple[tuple[float, int], ...]

    def __post_init__(self) -> None:
        if not self.bands:
            raise ValueError("a score table needs at least one band")
        limits = [limit for limit, _ in self.bands]
        if not all(math.isfinite(limit) for limit in limits[:-1]):
            raise ValueError("every limit but the last must be a finite number")
        if limits != sorted(limits) or len(set(limits)) != len(limits):
            raise ValueError("band limits must rise strictly")
        if limits[-1] != math.inf:
            raise ValueError("the last band limit must be inf")
        if any(not 0 <= score <= 3 for _, score in self.bands):
            raise ValueError("NEWS2 sub-scores are 0 to 3")

    def score(self, value: float) -> int:
        """The sub-score of ``value``; ``ValueError`` if it is NaN (no band)."""
        if math.isnan(value):
            raise ValueError("NaN has no NEWS2 band")
        for limit, score in self.bands:
            if value <= limit:
                return score
        return self.bands[-1][1]  # only +inf itself gets here


_INF = math.inf

DEFAULT_TABLES: Mapping[str, ScoreTable] = {
    # pulse: <=40 3 | 41-50 1 | 51-90 0 | 91-110 1 | 111-130 2 | >=131 3
    "heart_rate": ScoreTable(
        ((40, 3), (50, 1), (90, 0), (110, 1), (130, 2), (_INF, 3))
    ),
    # SpO2 scale 1: <=91 3 | 92-93 2 | 94-95 1 | >=96 0. Scale 2 (hypercapnic
    # respiratory failure) is a clinician's decision, set per deployment.
    "spo2": ScoreTable(((91, 3), (93, 2), (95, 1), (_INF, 0))),
    # temperature: <=35.0 3 | 35.1-36.0 1 | 36.1-38.0 0 | 38.1-39.0 1 | >=39.1 2
    "body_temp": ScoreTable(((35.0, 3), (36.0, 1), (38.0, 0), (39.0, 1), (_INF, 2))),
    # respiration: <=8 3 | 9-11 1 | 12-20 0 | 21-24 2 | >=25 3
    "respiration_rate": ScoreTable(((8, 3), (11, 1), (20, 0), (24, 2), (_INF, 3))),
    # systolic: <=90 3 | 91-100 2 | 101-110 1 | 111-219 0 | >=220 3
    "systolic_bp": ScoreTable(((90, 3), (100, 2), (110, 1), (219, 0), (_INF, 3))),
}


@dataclass(frozen=True, slots=True)
class News2Score:
    """An aggregate over the parameters that were scored."""

    total: int
    sub_scores: Mapping[str, int]
    missing: tuple[str, ...]
    risk: Risk

    @property
    def partial(self) -> bool:
        """True when some NEWS2 parameters were not scored."""
        return bool(self.missing)


def clinical_risk(sub_scores: Mapping[str, int]) -> Risk:
    """NEWS2 clinical risk of a set of sub-scores.

    0 none; 1-4 low; a 3 in any single parameter low-medium; 5-6 medium;
    7 or more high (RCP 2017, chart 4).
    """
    total = sum(sub_scores.values())
    if total >= 7:
        return "high"
    if total >= 5:
        return "medium"
    if any(score >= 3 for score in sub_scores.values()):
        return "low_medium"
    if total >= 1:
        return "low"
    return "none"


def aggregate(sub_scores: Mapping[str, int]) -> News2Score:
    """Sum the sub-scores and name the NEWS2 parameters that are missing."""
    missing = tuple(name for name in NEWS2_PARAMETERS if name not in sub_scores)
    return News2Score(
        total=sum(sub_scores.values()),
        sub_scores=dict(sub_scores),
        missing=missing,
        risk=clinical_risk(sub_scores),
    )


def risk_rank(risk: str) -> int:
    """Position of ``risk`` in :data:`RISK_ORDER` (ValueError if unknown)."""
    return RISK_ORDER.index(risk)
