"""The signal model of one simulated wearable: vitals, sensor faults, events.

Each device draws a resting profile (heart rate 58-88, SpO2 95-98, skin
temperature 31.5-34.5 °C or core 36.3-37.1 °C) and then writes entries
about every 15-40 s, the free licence's fastest rate, carrying one metric or
a few, as the recorded pulse-oximeter build does. Values follow the sensors:
whole beats and whole percent, temperature in the DS18B20's 1/16 °C steps.

Sensor faults (:data:`FAULT_VALUES`) replace a written value at a small
rate: a disconnected probe reads -127 for the few entries until it is
seated again, a power-on probe 85 once, and a pulse oximeter reads 0 for
heart rate and SpO2 while the finger is off for a few entries (CLINICAL.md).
Clinical events last several consecutive entries and write their metric in
every one of them: fever (core 38.3-39.6 °C, or
35.6-36.8 °C on the skin, above its normal range), desaturation (SpO2 86-91,
NEWS2 score 3) and tachycardia (heart rate 115-150, NEWS2 score 2-3).
Everything comes from one seeded ``random.Random``, so a device's history is
the same on every run.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Literal

Metric = Literal["heart_rate", "spo2", "body_temp", "battery"]
EventKind = Literal["fever", "desaturation", "tachycardia"]
TemperatureSite = Literal["skin", "core"]

VITALS: tuple[Metric, ...] = ("heart_rate", "spo2", "body_temp")
FAULT_VALUES: dict[Metric, tuple[float, ...]] = {
    "heart_rate": (0.0,),
    "spo2": (0.0,),
    "body_temp": (-127.0, 85.0),
}
EVENT_METRIC: dict[EventKind, Metric] = {
    "fever": "body_temp",
    "desaturation": "spo2",
    "tachycardia": "heart_rate",
}
_TEMP_STEP = 0.0625  # DS18B20 resolution at 12 bits


@dataclass(frozen=True)
class SignalRates:
    """How often things go wrong, per entry."""

    sensor_fault: float = 0.02
    clinical_event: float = 0.006


@dataclass
class ClinicalEvent:
    """Ground truth of one simulated event: its kind and its entries."""

    kind: EventKind
    metric: Metric
    first_entry_id: int
    last_entry_id: int


class WearableModel:
    """Writes the entries of one device, one :meth:`step` at a time."""

    def __init__(
        self,
        rng: random.Random,
        *,
        metrics: tuple[Metric, ...],
        site: TemperatureSite,
        rates: SignalRates,
    ) -> None:
        self._rng = rng
        self._metrics = metrics
        self._rates = rates
        self._heart = rng.uniform(58.0, 88.0)
        self._spo2 = rng.uniform(95.3, 98.2)
        if site == "skin":
            self._temp, self._temp_range = rng.uniform(31.8, 34.2), (31.0, 35.0)
        else:
            self._temp, self._temp_range = rng.uniform(36.4, 37.0), (36.1, 37.5)
        self._temp_base = self._temp
        self._fever = (38.3, 39.6) if site == "core" else (35.6, 36.8)
        self._fever_level = 0.0
        self._battery = float(rng.randint(60, 100))
        # "single": one metric per update (like channel 1448708), "few", "all".
        self._style = rng.choices(("single", "few", "all"), weights=(5, 3, 2))[0]
        self._event: ClinicalEvent | None = None
        self._event_left = 0
        self._finger_off_left = 0
        self._probe_off_left = 0
        self.events: list[ClinicalEvent] = []

    def step(self, entry_id: int) -> tuple[int, dict[Metric, float]]:
        """The seconds since the previous entry and the values this entry writes."""
        rng = self._rng
        gap = 15 + int(rng.expovariate(1 / 12))
        if rng.random() < 0.004:
            gap += rng.randint(600, 3600)  # device off the wrist or charging
        self._drift()
        self._advance_event(entry_id)
        written = self._choose_metrics()
        values = {metric: self._value(metric) for metric in written}
        self._inject_faults(values)
        return gap, values

    def _drift(self) -> None:
        rng = self._rng
        self._heart = min(100.0, max(55.0, self._heart + rng.gauss(0, 1.5)))
        self._spo2 = min(99.4, max(94.0, self._spo2 + rng.gauss(0, 0.4)))
        low, high = self._temp_range
        pull = (self._temp_base - self._temp) * 0.1
        self._temp = min(high, max(low, self._temp + pull + rng.gauss(0, 0.08)))
        self._battery = max(5.0, self._battery - rng.random() * 0.05)

    def _advance_event(self, entry_id: int) -> None:
        if self._event is not None:
            self._event_left -= 1
            if self._event_left > 0:
                self._event.last_entry_id = entry_id
                return
            self._event = None
        if self._rng.random() < self._rates.clinical_event:
            kind: EventKind = self._rng.choice(("fever", "desaturation", "tachycardia"))
            if EVENT_METRIC[kind] in self._metrics:
                self._event = ClinicalEvent(
                    kind, EVENT_METRIC[kind], entry_id, entry_id
                )
                self._event_left = self._rng.randint(6, 20)
                self._fever_level = self._rng.uniform(*self._fever)
                self.events.append(self._event)

    def _choose_metrics(self) -> list[Metric]:
        rng = self._rng
        vitals: list[Metric] = [m for m in self._metrics if m != "battery"]
        if self._style == "all":
            chosen: list[Metric] = list(vitals)
        elif self._style == "few":
            chosen = rng.sample(vitals, rng.randint(1, len(vitals)))
        else:
            chosen = [rng.choice(vitals)]
        if self._event is not None and self._event.metric not in chosen:
            chosen.append(self._event.metric)
        if "battery" in self._metrics and rng.random() < 0.05:
            chosen.append("battery")
        return [metric for metric in self._metrics if metric in chosen]

    def _value(self, metric: Metric) -> float:
        rng = self._rng
        kind = self._event.kind if self._event is not None else None
        if metric == "heart_rate":
            if kind == "tachycardia":
                return float(rng.randint(115, 150))
            return float(round(self._heart + rng.gauss(0, 2)))
        if metric == "spo2":
            if kind == "desaturation":
                return float(rng.randint(86, 91))
            return float(min(100, round(self._spo2 + rng.gauss(0, 0.5))))
        if metric == "body_temp":
            if kind == "fever":
                temp = self._fever_level + rng.gauss(0, 0.1)
            else:
                temp = self._temp
            return round(temp / _TEMP_STEP) * _TEMP_STEP
        return float(round(self._battery))

    def _inject_faults(self, values: dict[Metric, float]) -> None:
        rng = self._rng
        in_event = self._event.metric if self._event is not None else None
        if self._finger_off_left == 0 and rng.random() < self._rates.sensor_fault:
            self._finger_off_left = rng.randint(1, 4)
        if self._finger_off_left > 0:
            self._finger_off_left -= 1
            for metric in ("heart_rate", "spo2"):
                if metric in values and metric != in_event:
                    values[metric] = 0.0
        if "body_temp" not in values or in_event == "body_temp":
            return
        # A run starts a quarter as often as a single fault would, so about
        # as many readings are faulty as before runs were modelled.
        starts = self._rates.sensor_fault / 4
        if self._probe_off_left == 0 and rng.random() < starts:
            if rng.random() < 0.1:
                # Power-on before the first conversion: one reading of 85.
                values["body_temp"] = 85.0
                return
            # A loose probe stays off for a while: -127 until it is seated.
            self._probe_off_left = rng.randint(3, 8)
        if self._probe_off_left > 0:
            self._probe_off_left -= 1
            values["body_temp"] = -127.0
