"""kill -9 the anonymiser mid-stream, restart it: every entry accounted for.

Under exactly-once the anonymised topic then holds each entry once; under
at-least-once a record whose offset was not committed before the kill is
anonymised again, and the copies are counted (the alerting consumer must
still raise each alert once).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.faults.support import FAST_REJOIN, FaultReport, fault_run
from vitalstream.pipeline import PipelineOptions

pytestmark = [pytest.mark.faults, pytest.mark.kafka]

SERVER = ["--fleet", "12", "--pace", "0.5", "--entries-per-channel", "150"]
SERVER += ["--temperature-site", "core", "--seed", "61"]


@pytest.mark.parametrize("guarantee", ["at_least_once", "exactly_once"])
async def test_kill_9_anonymiser_mid_stream(
    guarantee: str, kafka_bootstrap: str, tmp_path: Path, report: FaultReport
) -> None:
    options = PipelineOptions(
        bootstrap=kafka_bootstrap,
        guarantee=guarantee,
        poll_interval_s=0.5,
        extra_env=FAST_REJOIN,
    )
    async with fault_run(tmp_path, SERVER, options) as run:
        run.pipeline.start()
        anonymiser = run.pipeline.stage("anonymiser")
        done = 0
        for _ in range(2):
            done = await run.wait_for("anonymised", done + 400)
            anonymiser.kill()
            report.fault(f"kill -9 anonymiser after {done} anonymised records")
            await asyncio.sleep(1.0)  # the stream goes on meanwhile
            anonymiser.start()
        result, alerts = await run.finish(report)

    assert anonymiser.kills == 2
    assert result.expected > 2_000
    assert result.lost == 0, result.summary()
    assert result.unexpected == result.unattributed == 0, result.summary()
    assert result.raw_duplicated == 0, result.summary()
    if guarantee == "exactly_once":
        assert result.duplicated == 0, result.summary()
    assert alerts is not None
    assert alerts.expected > 0
    assert alerts.holds(), alerts.summary()
