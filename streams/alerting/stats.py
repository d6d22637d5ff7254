"""Counters of an alerting run, for the operator and the demo summary."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class AlertingStats:
    """Counters of one consumer run."""

    records: int = 0
    evaluated: int = 0
    duplicates: int = 0
    unseal_failures: int = 0
    # Records with no token that opens: not evaluated (ALERTS.md).
    unauthenticated: int = 0
    dead_letters: int = 0
    alerts: Counter[tuple[str, str]] = field(default_factory=Counter)

    def summary(self) -> str:
        by_kind = ", ".join(
            f"{kind}/{severity}={n}"
            for (kind, severity), n in sorted(self.alerts.items())
        )
        return (
            f"records={self.records} evaluated={self.evaluated} "
            f"duplicates={self.duplicates} unseal_failures={self.unseal_failures} "
            f"unauthenticated={self.unauthenticated} "
            f"dead_letters={self.dead_letters} alerts=[{by_kind}]"
        )
