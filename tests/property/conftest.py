"""Bad-input properties: hypothesis profiles and the count of inputs tried.

Profiles (``VITALSTREAM_PROPERTY_PROFILE``, default ``ci``): ``ci`` runs
enough examples that the suite tries more than 100,000 inputs in total;
``quick`` a few hundred per property for a fast local loop. Every property
counts the inputs it was given (:func:`tests.property.support.tried`); the
totals are printed at the end of the run.
"""

from __future__ import annotations

from typing import Any

from tests.property.support import TRIED, active_profile


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not TRIED:
        return
    terminalreporter.section("bad-input properties: inputs tried")
    for name, count in sorted(TRIED.items()):
        terminalreporter.write_line(f"{name:<60} {count:>8}")
    terminalreporter.write_line(
        f"TOTAL: {sum(TRIED.values())} generated inputs over {len(TRIED)} "
        f"properties (hypothesis profile {active_profile()!r}); every one ended "
        "in a result, the documented error or a dead letter"
    )
