"""kill -9 the connector mid-backfill, restart it: every entry accounted for.

The source serves a few wearables with a long history (a backfill of many
transactions: pages of 250) while they keep writing. The connector commits
raw records with its cursor in one transaction, so after the kill the
restart resumes from the committed cursor; with the anonymiser exactly-once,
every entry must come out exactly once.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.faults.support import FAST_REJOIN, FaultReport, fault_run
from vitalstream.pipeline import PipelineOptions

pytestmark = [pytest.mark.faults, pytest.mark.kafka]

# Long enough that two kills 3,000 records apart land inside the backfill:
# at ~20,000 entries/s a restarted connector overshot 5,000 per channel.
HISTORY = 10_000
SERVER = ["--fleet", "4", "--pace", "0.5", "--entries-per-channel", str(HISTORY)]
SERVER += ["--seed", "62"]


async def test_kill_9_connector_mid_backfill(
    kafka_bootstrap: str, tmp_path: Path, report: FaultReport
) -> None:
    options = PipelineOptions(
        bootstrap=kafka_bootstrap,
        guarantee="exactly_once",
        poll_interval_s=0.5,
        page_size=250,
        extra_env=FAST_REJOIN,
    )
    async with fault_run(tmp_path, SERVER, options) as run:
        run.pipeline.start()
        connector = run.pipeline.stage("connector")
        ingested = 0
        for _ in range(2):
            ingested = await run.wait_for("raw", ingested + 3_000)
            connector.kill()
            report.fault(f"kill -9 connector after {ingested} raw records")
            connector.start()
        backfill = 4 * HISTORY
        assert ingested < backfill, "the backfill ended before the kill: test is void"
        result, _ = await run.finish(report, alerts=False)

    assert result.expected > backfill
    assert result.lost == 0, result.summary()
    assert result.raw_duplicated == 0, result.summary()
    assert result.duplicated == 0, result.summary()
    assert result.unexpected == result.unattributed == 0, result.summary()
