"""kill -9 the alerting consumer, restart it: no alert lost, none repeated.

Alerts, rule state and consumed offsets commit in one transaction per batch
(streams/alerting/consumer.py), so what a killed consumer had not committed
is evaluated again from the state it had committed. The alerts topic is
compared with a replay of the anonymised topic through the rule engine
(vitalstream.alert_accounting): the same alert ids, each once.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.faults.support import FAST_REJOIN, FaultReport, fault_run
from vitalstream.pipeline import PipelineOptions

pytestmark = [pytest.mark.faults, pytest.mark.kafka]

SERVER = ["--fleet", "30", "--pace", "0.5", "--entries-per-channel", "150"]
SERVER += ["--temperature-site", "core", "--seed", "63"]


async def test_kill_9_alerting_consumer(
    kafka_bootstrap: str, tmp_path: Path, report: FaultReport
) -> None:
    options = PipelineOptions(
        bootstrap=kafka_bootstrap, poll_interval_s=0.5, extra_env=FAST_REJOIN
    )
    async with fault_run(tmp_path, SERVER, options) as run:
        run.pipeline.start()
        alerting = run.pipeline.stage("alerting")
        raised = 0
        for _ in range(2):
            raised = await run.wait_for("alerts", raised + 30)
            alerting.kill()
            report.fault(f"kill -9 alerting consumer after {raised} alerts")
            await asyncio.sleep(1.0)
            alerting.start()
        result, alerts = await run.finish(report)

    assert alerts is not None
    assert alerts.expected > raised
    assert alerts.lost == 0, alerts.summary()
    assert alerts.repeated == 0, alerts.summary()
    assert alerts.unexpected == 0, alerts.summary()
    assert result.lost == 0, result.summary()
