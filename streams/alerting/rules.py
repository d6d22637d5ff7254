"""The alerting rules as data: score tables, plausible ranges, measurement sites.

:class:`RuleConfig` is built once from ``AlertingSettings`` and handed to the
engine; a bad table stops start-up with :class:`ConfigError` naming the
setting.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, get_args

from streams.alerting.news2 import DEFAULT_TABLES, RISK_ORDER, ScoreTable
from vitalstream.config import MeasurementSite
from vitalstream.errors import ConfigError

if TYPE_CHECKING:
    from vitalstream.config import AlertingSettings

TEMPERATURE_METRIC = "body_temp"

# Values no sensor on a living wearer can report (CLINICAL.md, "What wearable
# sensors really send"); inclusive bounds of what is plausible.
#  - heart rate: 0 is "no finger"; the recorded channel 1448708 shows 0.3 to
#    17.5 bpm while the finger is being placed ("noisy low values"), so the
#    floor is 20 bpm rather than just above 0. Above 300 is impossible.
#  - SpO2: 0 is "no finger"; above 100 impossible. Below 50 % a fingertip
#    oximeter is far outside its validated range (70-100 % under ISO
#    80601-2-61), so such a value is treated as placement noise.
#  - body temperature: below 20 or above 46 °C, which also covers the
#    DS18B20's -127 (probe disconnected) and 85 (power-on value).
DEFAULT_PLAUSIBLE: Mapping[str, tuple[float, float]] = {
    "heart_rate": (20.0, 300.0),
    "spo2": (50.0, 100.0),
    "body_temp": (20.0, 46.0),
    "respiration_rate": (1.0, 80.0),
    "systolic_bp": (40.0, 300.0),
}

# NEWS2 temperature bands are for core, tympanic or oral readings; a skin or
# wrist reading runs several degrees lower and would page for hypothermia
# that is not there (CLINICAL.md). Temperature is therefore scored only for
# the sites listed here, after adding the site's offset to estimate core
# temperature. Skin and axillary readings are not scored by default (the
# aggregate then says it is partial); an operator with a validated
# correction may add one, e.g. ``axillary = 0.5``.
DEFAULT_SITE_OFFSETS: Mapping[str, float] = {"core": 0.0, "oral": 0.0, "tympanic": 0.0}

_FAULT_HINTS: Mapping[tuple[str, float], str] = {
    ("body_temp", -127.0): "probe disconnected",
    ("body_temp", 85.0): "probe power-on value",
    ("heart_rate", 0.0): "no finger on the sensor",
    ("spo2", 0.0): "no finger on the sensor",
}


@dataclass(frozen=True, slots=True)
class RuleConfig:
    """Everything the rule engine decides with."""

    tables: Mapping[str, ScoreTable] = field(default_factory=lambda: DEFAULT_TABLES)
    plausible: Mapping[str, tuple[float, float]] = field(
        default_factory=lambda: DEFAULT_PLAUSIBLE
    )
    site_offsets: Mapping[str, float] = field(
        default_factory=lambda: DEFAULT_SITE_OFFSETS
    )
    min_risk: str = "low"
    sustained_readings: int = 3
    sustained_s: float = 120.0
    silent_after_s: float = 900.0

    def __post_init__(self) -> None:
        if self.min_risk not in RISK_ORDER[1:]:
            raise ValueError(f"min_risk must be one of {RISK_ORDER[1:]}")
        if self.sustained_readings < 1:
            raise ValueError("sustained_readings must be at least 1")

    def is_plausible(self, metric: str, value: float) -> bool:
        """Whether ``value`` could come from a working sensor on a wearer."""
        if not math.isfinite(value):
            return False
        bounds = self.plausible.get(metric)
        if bounds is None:
            return True
        low, high = bounds
        return low <= value <= high

    def score(self, metric: str, value: float, site: str | None) -> int | None:
        """The NEWS2 sub-score of a plausible value, ``None`` if not scored.

        A value that is not finite (after the site's offset) is not scored:
        the engine must never stop over a value.
        """
        table = self.tables.get(metric)
        if table is None:
            return None
        if metric == TEMPERATURE_METRIC:
            offset = self.site_offsets.get(site) if site is not None else None
            if offset is None:
                return None
            value += offset
        if not math.isfinite(value):
            return None
        return table.score(value)


def fault_hint(metric: str, value: float) -> str:
    """A short operator-facing reason for an implausible value."""
    return _FAULT_HINTS.get((metric, value), "implausible value")


def rule_config(settings: AlertingSettings) -> RuleConfig:
    """Build the rules from settings; :class:`ConfigError` names a bad one."""
    tables = dict(DEFAULT_TABLES)
    for metric, bands in settings.score_tables.items():
        try:
            tables[metric] = ScoreTable(tuple((float(a), int(b)) for a, b in bands))
        except ValueError as exc:
            raise ConfigError(
                f"alerting.score_tables.{metric}",
                repr(bands),
                f"[[limit, score], ...] with rising limits ending in inf ({exc})",
            ) from None
    plausible = dict(DEFAULT_PLAUSIBLE)
    for metric, (low, high) in settings.plausible.items():
        if not low < high:
            raise ConfigError(
                f"alerting.plausible.{metric}", f"[{low}, {high}]", "[low, high]"
            )
        plausible[metric] = (low, high)
    sites = get_args(MeasurementSite)
    for site, offset in settings.temperature_site_offsets.items():
        if site not in sites:
            raise ConfigError(
                "alerting.temperature_site_offsets", repr(site), f"one of {sites}"
            )
        if not math.isfinite(offset):
            raise ConfigError(
                f"alerting.temperature_site_offsets.{site}", repr(offset), "a number"
            )
    return RuleConfig(
        tables=tables,
        plausible=plausible,
        site_offsets=dict(settings.temperature_site_offsets),
        min_risk=settings.min_severity,
        sustained_readings=settings.sustained_readings,
        sustained_s=settings.sustained_s,
        silent_after_s=settings.silent_after_s,
    )
