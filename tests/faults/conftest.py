"""Fault suite: the whole pipeline as processes, faults injected, then accounted.

Every test here ends with the accounting invariant (vitalstream.accounting)
and reports what it did; the reports are printed at the end of the run
whatever pytest's output options (``pytest_terminal_summary``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.faults.support import FaultReport

_REPORTS: list[FaultReport] = []


@pytest.fixture
def report(request: pytest.FixtureRequest) -> Iterator[FaultReport]:
    """A report for this test, printed in the terminal summary."""
    entry = FaultReport(request.node.name)
    yield entry
    _REPORTS.append(entry)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _REPORTS:
        return
    terminalreporter.section("fault suite: faults injected and accounting")
    for entry in _REPORTS:
        for line in entry.lines():
            terminalreporter.write_line(line)
    total = sum(e.checked for e in _REPORTS)
    lost = sum(e.lost for e in _REPORTS)
    duplicated = sum(e.duplicated for e in _REPORTS)
    terminalreporter.write_line(
        f"TOTAL: {len(_REPORTS)} fault tests, {sum(e.faults for e in _REPORTS)} "
        f"faults injected, {total} entries checked, lost {lost}, "
        f"duplicated {duplicated}"
    )
