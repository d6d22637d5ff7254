"""End-to-end latency: a reading produced to the raw topic, to its alert.

The anonymiser (at-least-once, as configured by default) and the alerting
consumer run as processes, with ``sustained_readings = 1`` so that one
reading can move a NEWS2 sub-score. Every reading sent is heart rate only,
alternating per device between 150/min (raises a low-medium clinical
alert) and 70/min (resolves it), so every reading causes exactly one alert.
Entry ids are unique across the run, and an alert names the entry that
changed the condition (``source.entry_id``), which ties it to the send.
Latency is the wall time from just before ``send`` to the moment this
process reads the alert from the alerts topic (read_committed: an alert is
visible once the alerting consumer's transaction commits). The anonymised
record's CreateTime splits it into the anonymiser's share and the rest.
Readings are sent at a steady rate in 10 ms ticks; the first seconds of
each rate are a warm-up and not counted.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from bench.env import Workspace, bootstrap_servers
from bench.procs import MemoryWatch, start_stage
from bench.records import alerting_reading

DEVICES = 500
TICK_S = 0.01


def _percentiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50_ms": None, "p95_ms": None, "p99_ms": None, "max_ms": None}
    ordered = sorted(values)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 1)

    return {
        "p50_ms": at(0.50),
        "p95_ms": at(0.95),
        "p99_ms": at(0.99),
        "max_ms": round(ordered[-1] * 1000, 1),
    }


class _Probe:
    """Sends alerting readings and matches the alerts that come back."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self.sent_at: dict[int, float] = {}
        self.anonymised_at: dict[int, float] = {}
        self.alert_at: dict[int, float] = {}
        self.next_entry = 1
        self.high: dict[int, bool] = {}
        self.producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers())
        self.consumer = AIOKafkaConsumer(
            ws.topics["anonymised"],
            ws.topics["alerts"],
            bootstrap_servers=bootstrap_servers(),
            isolation_level="read_committed",
            auto_offset_reset="earliest",
            fetch_max_wait_ms=5,
            group_id=None,
        )
        self._reader: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.producer.start()
        await self.consumer.start()
        self._reader = asyncio.create_task(self._read())

    async def stop(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)
        await self.consumer.stop()
        await self.producer.stop()

    async def send(self, count: int) -> None:
        now = datetime.now(UTC)
        for _ in range(count):
            entry = self.next_entry
            self.next_entry += 1
            device = entry % DEVICES
            high = self.high[device] = not self.high.get(device, False)
            reading = alerting_reading(device, entry, high=high, observed=now)
            self.sent_at[entry] = time.time()
            await self.producer.send(
                self.ws.topics["raw"], reading.to_json(), key=reading.device.encode()
            )

    async def _read(self) -> None:
        anonymised = self.ws.topics["anonymised"]
        while True:
            batches = await self.consumer.getmany(timeout_ms=100)
            now = time.time()
            for tp, messages in batches.items():
                for message in messages:
                    doc = orjson.loads(message.value)
                    source = doc.get("source") or {}
                    entry = source.get("entry_id")
                    if not isinstance(entry, int):
                        continue
                    if tp.topic == anonymised:
                        self.anonymised_at[entry] = message.timestamp / 1000
                    elif doc.get("kind") == "clinical":
                        self.alert_at.setdefault(entry, now)

    async def steady(self, rate: int, seconds: float) -> tuple[int, int]:
        """Send at ``rate`` for ``seconds``; the entry range sent."""
        first = self.next_entry
        started = time.monotonic()
        due = 0
        while (elapsed := time.monotonic() - started) < seconds:
            target = int(rate * elapsed)
            if target > due:
                await self.send(target - due)
                due = target
            await asyncio.sleep(TICK_S)
        return first, self.next_entry

    def latencies(self, first: int, end: int) -> tuple[list[float], list[float]]:
        total, anonymiser = [], []
        for entry in range(first, end):
            sent = self.sent_at[entry]
            if entry in self.alert_at:
                total.append(self.alert_at[entry] - sent)
            if entry in self.anonymised_at:
                anonymiser.append(self.anonymised_at[entry] - sent)
        return total, anonymiser


async def run(
    rates: list[int], seconds: float, warmup: float, memory: MemoryWatch, *, run_id: str
) -> dict[str, Any]:
    ws = Workspace("e2e", run_id=run_id)
    settings = ws.write_config("sustained_readings = 1\nsustained_s = 0\n")
    await ws.create_topics(settings)
    stages = [
        start_stage("alerting", ["alert"], env=ws.env(), folder=ws.folder),
        start_stage(
            "anonymiser",
            ["anonymise", "--web-port", "0"],
            env=ws.env(),
            folder=ws.folder,
        ),
    ]
    for stage in stages:
        memory.watch(stage.role, stage.pid)
    probe = _Probe(ws)
    results: dict[str, Any] = {"method": " ".join(__doc__.split()), "rates": {}}
    try:
        await probe.start()
        await _until_ready(probe, stages)
        for rate in rates:
            await probe.steady(rate, warmup)
            first, end = await probe.steady(rate, seconds)
            await _drain(probe, first, end, timeout_s=20)
            total, anonymiser = probe.latencies(first, end)
            results["rates"][str(rate)] = {
                "target_per_s": rate,
                "sent": end - first,
                "alerts_matched": len(total),
                "seconds": seconds,
                **_percentiles(total),
                "anonymiser_share": _percentiles(anonymiser),
            }
    finally:
        await probe.stop()
        for stage in stages:
            memory.sample_now()
            stage.stop()
        await ws.cleanup()
    return results


async def _until_ready(probe: _Probe, stages: list[Any], timeout_s: float = 90) -> None:
    # One reading every 100 ms until alerts come back: both stages joined
    # their groups and are past start-up.
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        await probe.send(1)
        await asyncio.sleep(0.1)
        if len(probe.alert_at) >= 5:
            return
        for stage in stages:
            if not stage.alive():
                raise RuntimeError(f"{stage.role} exited:\n{stage.log_tail()}")
    raise RuntimeError("no alerts came back within 90 s")


async def _drain(probe: _Probe, first: int, end: int, *, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if all(e in probe.alert_at for e in range(end - 50, end)):
            await asyncio.sleep(0.5)
            return
        await asyncio.sleep(0.1)
