"""The main job as `make demo` runs it: a summary, and nothing left behind.

scripts/demo.py is run as a user runs it (``make demo`` is that script under
scripts/with-kafka), on the test broker, once on the recorded channel and
once on a short simulated fleet. Each run must end with exit status 0, a
summary whose counts add up, no process of its own still running and none of
its topics left on the broker.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import sys

import psutil
import pytest
from aiokafka.admin import AIOKafkaAdminClient

from tests.conftest import PROJECT_ROOT, RECORDED_CHANNEL

pytestmark = pytest.mark.kafka

DEMO = PROJECT_ROOT / "scripts" / "demo.py"
RECORDED_ENTRIES = 149  # feeds.json of channel-1448708 (see its README)


def run_demo(bootstrap: str, *args: str, timeout: float) -> tuple[str, str]:
    """Run the demo to its end; its output and its run id."""
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        # A user's .env may name real channels; these runs stay offline.
        "THINGSPEAK_CHANNELS": "",
    }
    done = subprocess.run(
        [sys.executable, str(DEMO), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    output = done.stdout
    run = re.search(r"^vitalstream demo (demo-[\w-]+):", output, re.MULTILINE)
    assert run, f"no run line in:\n{output}\n{done.stderr[-3000:]}"
    try:
        assert done.returncode == 0, f"exit {done.returncode}:\n{done.stderr[-3000:]}"
        return output, run.group(1)
    finally:
        # The run keeps its logs and keyring under var/<run>; a test's are not
        # worth keeping once read.
        if done.returncode == 0:
            shutil.rmtree(PROJECT_ROOT / "var" / run.group(1), ignore_errors=True)


def summary_count(output: str, label: str) -> int:
    found = re.search(rf"^  {re.escape(label)}:\s+(\d+)", output, re.MULTILINE)
    assert found, f"no {label!r} line in the summary:\n{output}"
    return int(found.group(1))


def processes_of(run: str) -> list[str]:
    """Processes started for ``run``: their config file lies under var/<run>."""
    workdir = str(PROJECT_ROOT / "var" / run)
    left = []
    for process in psutil.process_iter(["pid", "cmdline"]):
        try:
            config = process.environ().get("VITALSTREAM_CONFIG", "")
        except (psutil.AccessDenied, psutil.NoSuchProcess, psutil.ZombieProcess):
            continue
        if config.startswith(workdir):
            left.append(f"{process.pid}: {' '.join(process.info['cmdline'] or [])}")
    return left


async def topics_of(bootstrap: str, run: str) -> list[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return [name for name in await admin.list_topics() if name.startswith(run)]
    finally:
        await admin.close()


def test_recorded_demo_carries_every_entry_and_leaves_nothing_behind(
    kafka_bootstrap: str,
) -> None:
    data = str(RECORDED_CHANNEL)
    output, run = run_demo(
        kafka_bootstrap, "--seconds", "120", "--data", data, timeout=240
    )

    assert "every recorded entry is through; stopping" in output
    ingested = summary_count(output, "entries ingested (raw topic)")
    anonymised = summary_count(output, "readings anonymised")
    dead_letters = summary_count(output, "dead letters")
    # The folder holds feeds.json and feeds.csv of the same channel: one
    # channel, its entries once.
    assert ingested == RECORDED_ENTRIES
    assert anonymised + dead_letters == ingested
    # Its -127 °C and 0 readings are sensor faults, never clinical alerts.
    notices = r"^    sensor_fault\s+notice\s+raised\s+[1-9]"
    assert re.search(notices, output, re.MULTILINE)
    assert not re.search(r"^    clinical\s", output, re.MULTILINE)
    assert processes_of(run) == []
    assert asyncio.run(topics_of(kafka_bootstrap, run)) == []


def test_simulated_fleet_demo_ends_in_its_time_with_a_summary(
    kafka_bootstrap: str,
) -> None:
    output, run = run_demo(
        kafka_bootstrap,
        "--seconds",
        "25",
        "--fleet",
        "6",
        "--pace",
        "0.5",
        timeout=180,
    )

    assert "vitalstream demo summary" in output
    ingested = summary_count(output, "entries ingested (raw topic)")
    anonymised = summary_count(output, "readings anonymised")
    assert ingested > 0
    assert anonymised > 0
    # What the connector wrote is let through before the anonymiser stops;
    # what was not is counted in the summary, never left out of it.
    dead_lines = re.search(r"^  dead letters:.*$", output, re.MULTILINE)
    assert dead_lines
    by_stage = dict(re.findall(r"(\w+): (\d+)", dead_lines.group(0)))
    in_flight = re.search(r"^  still in the anonymiser at stop:\s+(\d+)", output, re.M)
    assert (
        anonymised
        + int(by_stage.get("anonymiser", 0))
        + (int(in_flight.group(1)) if in_flight else 0)
        == ingested
    )
    assert re.search(r"^\[\s*\d+s\] ingested\s+\d+ \| anonymised", output, re.MULTILINE)
    assert processes_of(run) == []
    assert asyncio.run(topics_of(kafka_bootstrap, run)) == []
