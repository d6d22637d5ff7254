"""SIGTERM to `vitalstream alert` while its broker is down: a clean, bounded stop.

Runs on a broker of its own (tests/faults/broker.py), stopped under a
running consumer. The consumer must exit with status 0 in bounded time, with
no traceback, its Kafka clients closed (no "Unclosed AIOKafka..." warning)
and its one-line summary last; a batch it could not commit is left
uncommitted, for the next run to evaluate again.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from schemas.keyring import Keyring
from tests.conftest import PROJECT_ROOT
from tests.faults.broker import OwnBroker
from tests.faults.support import FaultReport
from tests.integration.alerting_support import produce, reading
from vitalstream.config import Settings
from vitalstream.topics import ensure_topics

pytestmark = [pytest.mark.faults]

VITALSTREAM = str(PROJECT_ROOT / ".venv" / "bin" / "vitalstream")
# Grace for a batch in flight, two cancellations, two client closes
# (streams/alerting/shutdown.py), and the interpreter's own start and stop.
STOP_BOUND_S = 5 + 2 * 2 + 2 * 5 + 10


def wait_for_line(log: Path, text: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if text in log.read_text():
            return
        time.sleep(0.1)
    raise AssertionError(f"{text!r} not logged in {seconds} s:\n{log.read_text()}")


def start_alert(config: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as stderr:
        return subprocess.Popen(
            [VITALSTREAM, "--config", str(config), "alert"],
            stderr=stderr,
            env={
                k: v for k, v in os.environ.items() if not k.startswith("VITALSTREAM_")
            },
        )


@pytest.mark.parametrize("in_flight", [False, True])
async def test_sigterm_while_kafka_is_down_stops_cleanly(
    own_broker: OwnBroker, tmp_path: Path, report: FaultReport, in_flight: bool
) -> None:
    settings = Settings(
        kafka={"bootstrap_servers": own_broker.bootstrap},
        alerting={"group_id": f"test-stop-{uuid.uuid4().hex[:8]}"},
    )
    await ensure_topics(settings)
    keyring = Keyring.generate(tmp_path / "keyring.json")
    await produce(settings, keyring, [reading("w", 1, heart_rate=70)])
    # in_flight: the subject goes silent while Kafka is away, so a batch
    # (its device_silent notice) is committing when SIGTERM comes.
    silent_after_s = 12 if in_flight else 1e6
    config = tmp_path / "vitalstream.toml"
    config.write_text(
        f'[kafka]\nbootstrap_servers = "{own_broker.bootstrap}"\n'
        f'[keys]\nkeyring = "{keyring.path}"\n'
        f'[alerting]\ngroup_id = "{settings.alerting.group_id}"\n'
        f"silent_after_s = {silent_after_s}\n"
    )
    log = tmp_path / "alert.log"
    process = start_alert(config, log)
    try:
        wait_for_line(log, "alerting started", 60)
        await asyncio.sleep(2)
        own_broker.stop()
        report.fault("broker stopped under a running alerting consumer")
        await asyncio.sleep(20 if in_flight else 3)
        if in_flight:
            assert "AddPartitionsToTxnRequest" in log.read_text()
        began = time.monotonic()
        process.send_signal(signal.SIGTERM)
        report.fault("SIGTERM to vitalstream alert while Kafka is down")
        returncode = process.wait(timeout=STOP_BOUND_S + 30)
        took = time.monotonic() - began
    finally:
        if process.poll() is None:
            process.kill()

    text = log.read_text()
    report.notes.append(f"stopped in {took:.1f} s (in flight: {in_flight})")
    assert returncode == 0, text[-3000:]
    assert took < STOP_BOUND_S, text[-3000:]
    assert "Traceback" not in text
    assert "Unclosed" not in text
    assert text.strip().splitlines()[-1].startswith("alerting: records=1 ")
    if in_flight:
        assert "abandoned uncommitted, the next run evaluates it again" in text
