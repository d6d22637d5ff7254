"""Which scored metrics the configured field policy leaves the rules to see.

The rules act on sealed values only (opening.py): a metric the policy keeps,
generalises or drops without sealing it is never scored, and the NEWS2
aggregate then lacks it. That is worth saying once at start-up rather than
finding out from an alert that never came.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from schemas.errors import PolicyError
from schemas.policy import FieldPolicy
from vitalstream.config import Settings

logger = logging.getLogger(__name__)


def unsealed_metrics(policy: FieldPolicy, scored: Iterable[str]) -> list[str]:
    """The metrics of ``scored`` that ``policy`` does not seal, sorted."""
    return sorted(name for name in scored if not policy.metric_plan(name).seal)


def warn_unsealed_scored(settings: Settings, scored: Iterable[str]) -> list[str]:
    """Log a warning for each scored metric the policy does not seal; their names.

    Without ``anonymiser.policy`` the default policy applies, which seals
    every metric. A policy file that cannot be read is said, not raised: the
    anonymiser, which applies it, is the one to stop over it.
    """
    path = settings.anonymiser.policy
    if path is None:
        return []
    try:
        policy = FieldPolicy.load(path)
    except PolicyError as exc:
        logger.warning("cannot check which metrics policy %s seals: %s", path, exc)
        return []
    missing = unsealed_metrics(policy, scored)
    for name in missing:
        logger.warning(
            "policy %s does not seal %s: it is never alerted on (only sealed "
            "values are authenticated; a metric must be sealed to be scored)",
            path,
            name,
        )
    return missing
