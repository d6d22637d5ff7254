"""Stop the broker for 20 s while everything runs, start it again.

Runs on a broker of its own (tests/faults/broker.py). While Kafka is away
the connector cannot commit and the consumers cannot fetch; each stage
either rides the outage out or exits, and a stage that exited is started
again once the broker is back, as a supervisor (systemd, Kubernetes)
would. Either way nothing may be lost; the report says which stages exited.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from tests.faults.broker import OwnBroker
from tests.faults.support import FAST_REJOIN, FaultReport, fault_run
from vitalstream.pipeline import PipelineOptions

pytestmark = [pytest.mark.faults, pytest.mark.kafka]

OUTAGE_S = 10.0  # plus the time the broker takes to stop and to start
SERVER = ["--fleet", "12", "--pace", "0.5", "--entries-per-channel", "150"]
SERVER += ["--temperature-site", "core", "--seed", "64"]


async def test_broker_stopped_and_started_while_everything_runs(
    own_broker: OwnBroker, tmp_path: Path, report: FaultReport
) -> None:
    options = PipelineOptions(
        bootstrap=own_broker.bootstrap, poll_interval_s=0.5, extra_env=FAST_REJOIN
    )
    async with fault_run(tmp_path, SERVER, options) as run:
        run.pipeline.start()
        await run.wait_for("anonymised", 500)
        await run.wait_for("alerts", 1)
        await run.close_tails()

        stopping = time.monotonic()
        own_broker.stop()
        stopped = time.monotonic()
        await asyncio.sleep(OUTAGE_S)
        own_broker.start()
        started = time.monotonic()
        report.fault(
            f"broker away for {started - stopping:.0f} s (SIGTERM took "
            f"{stopped - stopping:.0f} s, down {OUTAGE_S:.0f} s, start-up took "
            f"{started - stopped - OUTAGE_S:.0f} s)"
        )
        assert 10 <= started - stopping <= 45
        await asyncio.sleep(5)
        exited = run.pipeline.exited()
        for name in exited:
            status = run.pipeline.stage(name).process
            code = None if status is None else status.returncode
            report.notes.append(f"{name} exited during the outage (status {code})")
            run.pipeline.stage(name).start()
        if not exited:
            report.notes.append("every stage rode the outage out")
        seen = await run.count("anonymised")
        await run.wait_for("anonymised", seen + 300, timeout_s=120)
        result, alerts = await run.finish(report)

    assert result.lost == 0, result.summary()
    assert result.raw_duplicated == 0, result.summary()
    assert result.unexpected == result.unattributed == 0, result.summary()
    assert alerts is not None
    assert alerts.holds(), alerts.summary()
