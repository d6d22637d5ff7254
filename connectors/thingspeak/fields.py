"""Which metric each numbered field of a channel carries.

The channel object names its fields (``"field1": "HeartRate"``); an explicit
per-channel mapping in the configuration overrides those names, because real
channels mislabel fields. Every field gets a metric: an alias target, else
its own name in lower_snake_case, else ``fieldN``. Nothing is dropped.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping

from schemas.metrics import AliasTable, metric_name

logger = logging.getLogger(__name__)

FIELD_KEYS = tuple(f"field{number}" for number in range(1, 9))
_FIELD_KEY = re.compile(r"field[1-8]")


def is_field_key(key: str) -> bool:
    """Whether ``key`` is one of ThingSpeak's ``field1``..``field8``."""
    return _FIELD_KEY.fullmatch(key) is not None


class FieldMap:
    """``field1``..``field8`` to metric names for one channel."""

    def __init__(self, metrics: Mapping[str, str]) -> None:
        self._metrics = dict(metrics)

    @classmethod
    def resolve(
        cls,
        channel: int,
        names: Mapping[str, str | None],
        *,
        overrides: Mapping[str, str] | None = None,
        aliases: AliasTable | None = None,
        present: Iterable[str] = (),
    ) -> FieldMap:
        """Map the channel's fields: overrides first, then names through aliases.

        ``names`` is the channel object's ``fieldN`` -> name; ``present``
        adds field keys seen in entries but not named by the channel. When
        two fields would give the same metric the later one keeps its own
        name (or ``<name>_fieldN``), with a warning: both are kept.
        """
        aliases = aliases or AliasTable()
        overrides = overrides or {}
        keys = sorted(
            {*overrides, *(k for k, v in names.items() if v), *present} & {*FIELD_KEYS},
            key=lambda key: int(key[5:]),
        )
        taken: dict[str, str] = {}
        metrics: dict[str, str] = {}
        for key in keys:
            if key in overrides:
                metrics[key] = overrides[key]
                taken[overrides[key]] = key
        for key in keys:
            if key in metrics:
                continue
            name = names.get(key)
            metric = _first_free(key, name, aliases, taken)
            wanted = _canonical(aliases, name) if name else None
            if wanted is not None and metric != wanted:
                logger.warning(
                    "channel %s: %s %r would give metric %r, already taken by %s; "
                    "kept as %r",
                    channel,
                    key,
                    name,
                    wanted,
                    taken.get(wanted),
                    metric,
                )
            metrics[key] = metric
            taken[metric] = key
        return cls(metrics)

    def metric(self, key: str) -> str:
        """The metric of field ``key``; ``fieldN`` itself for an unmapped field."""
        return self._metrics.get(key, key)

    def as_dict(self) -> dict[str, str]:
        return dict(self._metrics)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FieldMap) and self._metrics == other._metrics

    def __hash__(self) -> int:
        return hash(tuple(sorted(self._metrics.items())))

    def __repr__(self) -> str:
        return f"FieldMap({self._metrics!r})"


def _first_free(
    key: str, name: str | None, aliases: AliasTable, taken: Mapping[str, str]
) -> str:
    candidates: list[str] = []
    if name:
        canonical = _canonical(aliases, name)
        if canonical:
            candidates.append(canonical)
        own = _own_name(name)
        if own:
            candidates += [own, f"{own[:56]}_{key}"]
    candidates.append(key)
    for candidate in candidates:
        if candidate not in taken:
            return candidate
    # Every field key is unique, so `key` is free unless an override took it.
    return f"{key}_{len(taken)}"


def _canonical(aliases: AliasTable, name: str) -> str | None:
    return aliases.lookup(name) or _own_name(name)


def _own_name(name: str) -> str | None:
    try:
        return metric_name(name)
    except ValueError:
        return None
