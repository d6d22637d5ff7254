"""kill -9 and restart `vitalstream alert`: no alert lost, none repeated."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from schemas.anonymised import anonymise
from schemas.keyring import Keyring
from schemas.policy import FieldPolicy
from schemas.records import Reading
from streams.alerting.engine import AlertEngine
from streams.alerting.opening import observation, open_record
from streams.alerting.rules import rule_config
from tests.conftest import PROJECT_ROOT
from tests.integration.alerting_support import (
    prepare,
    produce,
    read_alerts,
    reading,
    write_config,
)
from vitalstream.config import Settings

pytestmark = pytest.mark.kafka

VITALSTREAM = str(PROJECT_ROOT / ".venv" / "bin" / "vitalstream")
SUBJECTS = 40
ENTRIES = 120


def episodes(device: str, seed: int) -> list[Reading]:
    """A wearer whose SpO2 dips and heart rate races now and then."""
    rng = random.Random(seed)
    readings = []
    for entry in range(1, ENTRIES + 1):
        phase = (entry + seed) % 30
        if phase < 8:
            metrics = {"spo2": float(rng.choice([87, 88, 89]))}
        elif phase < 12 and entry % 2:
            metrics = {"heart_rate": float(rng.choice([132, 140]))}
        elif entry % 2:
            metrics = {"spo2": float(rng.choice([96, 97, 98]))}
        else:
            metrics = {"heart_rate": float(rng.choice([70, 75, 80]))}
        readings.append(reading(device, entry, channel=seed + 1, **metrics))
    return readings


def expected_alerts(settings: Settings, keyring: Keyring, readings: list[Reading]):
    engine = AlertEngine(rule_config(settings.alerting))
    policy = FieldPolicy.default()
    found: Counter[tuple[str, str, str, str, str]] = Counter()
    for item in readings:
        opened = open_record(anonymise(item, policy, keyring).to_json(), keyring)
        for event in engine.observe(observation(opened, item.observed_at)).events:
            found[
                (event.subject, event.kind, event.severity, event.state, event.at)
            ] += 1
    return found


def start(config: Path, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [VITALSTREAM, "--config", str(config), "alert", "--idle-exit", "5"],
        stdout=subprocess.DEVNULL,
        stderr=log.open("ab"),
        env={k: v for k, v in os.environ.items() if k != "VITALSTREAM_KEYS__KEYRING"},
    )


async def test_kill_9_and_restart_loses_and_repeats_nothing(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    settings = make_settings(
        alerting={
            "group_id": f"test-alerting-{uuid.uuid4().hex[:8]}",
            "silent_after_s": 1e6,  # silence depends on timing: not judged here
        }
    )
    keyring = Keyring.generate(tmp_path / "keyring.json")
    config = write_config(
        settings, tmp_path / "vitalstream.toml", tmp_path / "keyring.json"
    )
    log = tmp_path / "alert.log"
    await prepare(settings)
    readings = [r for n in range(SUBJECTS) for r in episodes(f"wearer-{n}", n)]
    # Interleave subjects as a live fleet would.
    readings.sort(key=lambda r: (r.entry_id, r.device))
    expected = expected_alerts(settings, keyring, readings)
    assert sum(expected.values()) > 100

    await produce(settings, keyring, readings)
    first = start(config, log)
    deadline = time.monotonic() + 60
    committed_before_kill = 0
    while time.monotonic() < deadline and committed_before_kill == 0:
        await asyncio.sleep(0.05)
        committed_before_kill = len(await read_alerts(settings))
    os.kill(first.pid, signal.SIGKILL)
    first.wait(timeout=30)
    assert first.returncode == -signal.SIGKILL

    second = start(config, log)
    assert second.wait(timeout=180) == 0, log.read_text()[-3000:]

    alerts = await read_alerts(settings)
    found = Counter((a.subject, a.kind, a.severity, a.state, a.at) for a in alerts)
    assert found == expected
    assert len({a.alert_id for a in alerts}) == len(alerts)
    # The kill landed mid-way: part of the alerts came from the first run.
    print(f"committed before kill: {committed_before_kill} of {len(alerts)}")


async def wait_for(condition: Callable[[], Awaitable[bool]], seconds: float) -> None:
    for _ in range(int(seconds / 0.05)):
        if await condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met in time")


async def test_a_second_worker_joining_midway_takes_partitions_with_their_state(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    from streams.alerting.consumer import AlertingConsumer

    group = f"test-alerting-{uuid.uuid4().hex[:8]}"
    first_settings = make_settings(
        alerting={"group_id": group, "silent_after_s": 1e6, "instance_id": "a"}
    )
    second_settings = first_settings.model_copy(
        update={
            "alerting": first_settings.alerting.model_copy(update={"instance_id": "b"})
        }
    )
    keyring = Keyring.generate(tmp_path / "keyring.json")
    await prepare(first_settings)
    readings = [r for n in range(SUBJECTS) for r in episodes(f"wearer-{n}", n)]
    readings.sort(key=lambda r: (r.entry_id, r.device))
    expected = expected_alerts(first_settings, keyring, readings)
    half = len(readings) // 2

    first = AlertingConsumer(first_settings, keyring)
    second = AlertingConsumer(second_settings, keyring)
    first_run = asyncio.create_task(first.run(asyncio.Event(), idle_exit_s=15))
    await produce(first_settings, keyring, readings[:half])

    async def first_done() -> bool:
        return first.stats.records >= half

    await wait_for(first_done, 60)
    second_run = asyncio.create_task(second.run(asyncio.Event(), idle_exit_s=15))

    async def shared() -> bool:
        return bool(first.assignment()) and bool(second.assignment())

    await wait_for(shared, 60)
    # The second half goes to both workers; the second one's subjects carry
    # on from the state the first one left in the state topic.
    await produce(first_settings, keyring, readings[half:])
    await asyncio.wait_for(asyncio.gather(first_run, second_run), 180)

    alerts = await read_alerts(first_settings)
    found = Counter((a.subject, a.kind, a.severity, a.state, a.at) for a in alerts)
    assert found == expected
    assert second.stats.evaluated > 0
    assert second.stats.alerts
