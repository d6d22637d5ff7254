"""A ThingSpeak server that hangs, answers 500, cuts its JSON short or drops
the connection while the connector runs; one channel also serves an entry
whose value is not a number.

The connector retries or skips a poll, never moves its cursor past what it
did not read, and dead-letters the bad entry: every entry still comes out
once (anonymiser exactly-once), as an anonymised record or a dead letter.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import orjson
import pytest

from connectors.tsserver import FaultPlan
from tests.faults.support import FAST_REJOIN, FaultReport, fault_run
from vitalstream.pipeline import PipelineOptions, SourceServer

pytestmark = [pytest.mark.faults, pytest.mark.kafka]

SERVER = ["--fleet", "12", "--pace", "0.5", "--entries-per-channel", "150"]
SERVER += ["--seed", "65"]
REQUEST_TIMEOUT_S = 1.0
BAD_VALUE = "TC/22.98"  # what a miswired device of the recorded kind sends


def bad_first_page(server: SourceServer, channel: int) -> bytes:
    """The channel's first five entries, as served, with one value spoilt."""
    reply = httpx.get(
        f"{server.url}/channels/{channel}/feeds.json",
        params={"start": "2010-01-01 00:00:00", "results": "8000"},
    )
    doc = orjson.loads(reply.content)
    doc["feeds"] = doc["feeds"][:5]
    third = doc["feeds"][2]
    spoilt = next(key for key in third if key.startswith("field"))
    third[spoilt] = BAD_VALUE
    return orjson.dumps(doc)


async def test_hangs_500s_truncated_json_and_a_bad_value(
    kafka_bootstrap: str, tmp_path: Path, report: FaultReport
) -> None:
    options = PipelineOptions(
        bootstrap=kafka_bootstrap,
        guarantee="exactly_once",
        poll_interval_s=0.5,
        request_timeout_s=REQUEST_TIMEOUT_S,
        extra_env=FAST_REJOIN,
    )
    async with fault_run(tmp_path, SERVER, options) as run:
        server = run.server
        first = server.channel_ids()[0]
        plan = FaultPlan(seed=65)
        plan.respond(200, bad_first_page(server, first), channels={first}, times=1)
        plan.hang(REQUEST_TIMEOUT_S + 1.0, rate=0.05)
        plan.error(500, rate=0.15)
        plan.truncate(rate=0.15)
        plan.disconnect(rate=0.05)
        server.set_faults(plan)

        run.pipeline.start()
        await run.wait_for("raw", 1_500)
        await asyncio.sleep(5)
        applied = server.faults_applied()
        server.clear_faults()
        report.fault(f"server faults for the first {run.count_time():.0f} s: {applied}")
        result, _ = await run.finish(report, alerts=False)

    assert applied.get("200") == 1
    for kind in ("hang", "500", "truncate", "disconnect"):
        assert applied.get(kind, 0) > 0, applied
    assert result.dead_lettered == 1, result.summary()
    assert result.lost == 0, result.summary()
    assert result.duplicated == result.raw_duplicated == 0, result.summary()
    assert result.unexpected == result.unattributed == 0, result.summary()
