"""Generalisation: metric bands and truncated times, values left in the clear.

A band is the half-open interval ``[lo, hi)`` of the band edges, labelled
at the precision of its spec: integer edges give ``60-79`` (every value from
60 up to, not including, 80), one decimal gives ``36.0-36.4``. Below the
first edge of an explicit list the label is ``<40``, from the last on
``>=180``. See POLICY.md.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from schemas.records import parse_utc, utc_iso

__all__ = ["TIME_UNITS", "Band", "truncate_time"]

TIME_UNITS = ("minute", "hour", "day")
MAX_DECIMALS = 6


@dataclass(frozen=True, slots=True)
class Band:
    """Bands of a metric: explicit ``edges``, or a ``width`` from an ``origin``."""

    edges: tuple[float, ...] = ()
    width: float | None = None
    origin: float = 0.0
    decimals: int = 0
    _labels: tuple[str, ...] = field(default=(), repr=False, compare=False)

    @classmethod
    def from_edges(cls, edges: Sequence[float]) -> Band:
        """Bands between rising ``edges``; ``ValueError`` names the problem."""
        if len(edges) < 1:
            raise ValueError("edges must list at least one number")
        checked = tuple(_finite(edge, "edges") for edge in edges)
        if any(b <= a for a, b in itertools.pairwise(checked)):
            raise ValueError(f"edges must rise strictly, found {list(edges)}")
        decimals = max(_decimals(edge) for edge in checked)
        unit = 10.0**-decimals
        labels = [f"<{_fmt(checked[0], decimals)}"]
        for lo, hi in itertools.pairwise(checked):
            labels.append(f"{_fmt(lo, decimals)}-{_fmt(hi - unit, decimals)}")
        labels.append(f">={_fmt(checked[-1], decimals)}")
        return cls(edges=checked, decimals=decimals, _labels=tuple(labels))

    @classmethod
    def from_width(cls, width: float, origin: float = 0.0) -> Band:
        """Bands of equal ``width`` on either side of ``origin``."""
        width = _finite(width, "width")
        origin = _finite(origin, "origin")
        if width <= 0:
            raise ValueError(f"width must be above 0, found {width}")
        decimals = max(_decimals(width), _decimals(origin))
        return cls(width=width, origin=origin, decimals=decimals)

    def label(self, value: float) -> str:
        """The band ``value`` falls in, as its label."""
        if self.width is None:
            return self._labels[bisect.bisect_right(self.edges, value)]
        # A tolerance far below the label precision keeps 36.3 with width
        # 0.1 in 36.3-36.3 despite binary rounding (36.3 / 0.1 = 362.999...).
        index = math.floor((value - self.origin) / self.width + 1e-9)
        lo = self.origin + index * self.width
        unit = 10.0**-self.decimals
        return (
            f"{_fmt(lo, self.decimals)}-{_fmt(lo + self.width - unit, self.decimals)}"
        )

    @property
    def names_single_values(self) -> bool:
        """Whether some band is one step of its label's precision wide.

        Its label (``72-72``) then is the value at that precision: ``keep``
        in all but name.
        """
        unit = 10.0**-self.decimals * (1 + 1e-9)
        if self.width is not None:
            return self.width <= unit
        return any(hi - lo <= unit for lo, hi in itertools.pairwise(self.edges))

    def to_toml_value(self) -> dict[str, object]:
        if self.width is None:
            return {"edges": list(self.edges)}
        return {"width": self.width, "origin": self.origin}


def truncate_time(text: str, unit: str) -> str:
    """``2021-07-19T19:07:36Z`` truncated to ``minute``, ``hour`` or ``day``.

    The result is still a UTC ISO-8601 time (``2021-07-19T19:00:00Z``).
    Raises ``ValueError`` for a time without a zone or an unknown unit.
    """
    if len(text) < 20 or text[10] != "T" or text[-1] != "Z" or text[19] not in ".Z":
        # Not the raw record's own form: parse, convert to UTC, reformat.
        text = utc_iso(parse_utc(text).replace(microsecond=0))
    if unit == "minute":
        return text[:16] + ":00Z"
    if unit == "hour":
        return text[:13] + ":00:00Z"
    if unit == "day":
        return text[:10] + "T00:00:00Z"
    raise ValueError(f"time unit {unit!r} is not one of {', '.join(TIME_UNITS)}")


def _finite(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name} must be numbers, found {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, found {value!r}")
    return float(value)


def _decimals(value: float) -> int:
    exponent = Decimal(repr(value)).normalize().as_tuple().exponent
    places = -exponent if isinstance(exponent, int) and exponent < 0 else 0
    if places > MAX_DECIMALS:
        raise ValueError(f"{value!r} has more than {MAX_DECIMALS} decimals")
    return places


def _fmt(value: float, decimals: int) -> str:
    text = f"{round(value, decimals):.{decimals}f}"
    # round() can leave -0.0, which would print as "-0".
    return text[1:] if text.startswith("-") and float(text) == 0 else text
