"""Canonical metric names and the aliases ThingSpeak channels use for them.

Channels name their fields freely ("HeartRate", "Blood Oxygen", "Body_temp").
:func:`canonical_metric` maps such a name to the canonical metric through an
alias table compared in normalised form (case, spaces, underscores and
punctuation ignored); a name with no alias is kept, normalised by
:func:`metric_name`, so that no field is ever dropped.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Metric:
    """A canonical vital-sign metric and the unit its values are in."""

    name: str
    unit: str
    description: str


METRICS: dict[str, Metric] = {
    metric.name: metric
    for metric in (
        Metric("heart_rate", "1/min", "pulse or heart rate, beats per minute"),
        Metric("spo2", "%", "peripheral oxygen saturation"),
        Metric("body_temp", "Cel", "body temperature at the channel's site"),
        Metric("respiration_rate", "1/min", "breaths per minute"),
        Metric("systolic_bp", "mm[Hg]", "systolic blood pressure"),
        Metric("diastolic_bp", "mm[Hg]", "diastolic blood pressure"),
        Metric("steps", "1", "step count reported by the device"),
        Metric("blood_glucose", "mmol/L", "blood glucose"),
        Metric("hrv", "ms", "heart rate variability (RMSSD)"),
        Metric("battery", "%", "device battery level"),
    )
}

# Spellings seen on real ThingSpeak health channels, written as people type
# them; they are compared after `_squash`, so "Heart Rate", "heart_rate" and
# "HEARTRATE" are one alias.
DEFAULT_ALIASES: dict[str, str] = {
    **dict.fromkeys(
        ("HeartRate", "Heart Rate", "BPM", "heartRate", "pulse", "Pulse Rate", "HR"),
        "heart_rate",
    ),
    **dict.fromkeys(
        (
            "SpO2",
            "SP02",
            "Sp02",
            "Blood Oxygen",
            "Oxygen",
            "Oxygen Saturation",
            "O2 Saturation",
        ),
        "spo2",
    ),
    **dict.fromkeys(
        (
            "Body Temperature",
            "Body_temp",
            "BodyTemp",
            "Temperature",
            "temp",
            "Body Temp",
            "Skin Temperature",
        ),
        "body_temp",
    ),
    **dict.fromkeys(
        ("Respiration Rate", "Respiratory Rate", "Breathing Rate", "Resp"),
        "respiration_rate",
    ),
    **dict.fromkeys(
        ("Systolic", "Systolic BP", "Systolic Pressure", "SBP", "BP Systolic"),
        "systolic_bp",
    ),
    **dict.fromkeys(
        ("Diastolic", "Diastolic BP", "Diastolic Pressure", "DBP", "BP Diastolic"),
        "diastolic_bp",
    ),
    **dict.fromkeys(("Steps", "Step Count", "Pedometer"), "steps"),
    **dict.fromkeys(("Glucose", "Blood Glucose", "Blood Sugar"), "blood_glucose"),
    **dict.fromkeys(("HRV", "Heart Rate Variability"), "hrv"),
    **dict.fromkeys(("Battery", "Battery Level", "Bat"), "battery"),
}

_METRIC_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")


def _squash(name: str) -> str:
    # Letters and digits only, lower case: the form aliases are compared in.
    return re.sub(r"[^0-9a-z]", "", _ascii(name).lower())


def _ascii(name: str) -> str:
    decomposed = unicodedata.normalize("NFKD", name)
    return decomposed.encode("ascii", "ignore").decode("ascii")


def metric_name(name: str) -> str:
    """``name`` as a lower_snake_case metric: "Room Humidity" -> "room_humidity".

    Camel case is split ("HeartRate" -> "heart_rate"); accents are dropped.
    Raises :class:`ValueError` when nothing usable is left, or the name
    starts with a digit.
    """
    text = _ascii(name).strip()
    text = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", text)
    text = re.sub(r"[^0-9A-Za-z]+", "_", text).strip("_").lower()
    text = text[:64].rstrip("_")
    if not _METRIC_NAME.fullmatch(text):
        raise ValueError(f"field name {name!r} gives no usable metric name")
    return text


class AliasTable:
    """Field names to canonical metrics: the defaults plus configured extras.

    ``extra`` maps alias -> metric; it wins over a default alias with the
    same normalised form. Raises :class:`ValueError` if an extra maps to a
    name that is not lower_snake_case.
    """

    def __init__(self, extra: Mapping[str, str] | None = None) -> None:
        self._table = {
            _squash(alias): metric for alias, metric in DEFAULT_ALIASES.items()
        }
        for metric in METRICS:
            self._table[_squash(metric)] = metric
        for alias, metric in (extra or {}).items():
            if not _METRIC_NAME.fullmatch(metric):
                raise ValueError(
                    f"alias {alias!r} maps to {metric!r}, "
                    "which is not a lower_snake_case metric name"
                )
            if not _squash(alias):
                raise ValueError(f"alias {alias!r} has no letters or digits")
            self._table[_squash(alias)] = metric

    def lookup(self, name: str) -> str | None:
        """The metric ``name`` is an alias of, or ``None``."""
        return self._table.get(_squash(name))

    def canonical(self, name: str) -> str:
        """The metric for ``name``: its alias target, else ``metric_name(name)``."""
        return self.lookup(name) or metric_name(name)


def canonical_metric(name: str, extra: Mapping[str, str] | None = None) -> str:
    """The canonical metric for a field name (see :class:`AliasTable`)."""
    return AliasTable(extra).canonical(name)
