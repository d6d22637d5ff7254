"""Load run: a simulated fleet through the whole pipeline, then the invariant.

``make load`` (``python -m bench.load``) starts the project's ThingSpeak
server with a fleet of simulated wearables (1,000 by default, each with a
short history and then one entry every ``--pace`` seconds), the connector,
the anonymiser and the alerting consumer, each as its own process
(vitalstream.pipeline), for a bounded time. Then it freezes the server's
clock, lets the pipeline drain, stops it, and checks that every entry the
server made available came out anonymised or dead-lettered (exactly once
under ``--guarantee exactly_once``) and that no alert was lost or repeated.
The peak resident memory of each process is sampled with psutil. Figures
are printed and written to bench/load-results.json; the exit status is 1
if the invariant does not hold.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

import psutil

from vitalstream.pipeline import Pipeline, PipelineOptions, SourceServer

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "load-results.json"
MB = 1024 * 1024


class PeakMemory:
    """Peak resident set size per named process, sampled every ``every_s``."""

    def __init__(self, every_s: float = 0.5) -> None:
        self.every_s = every_s
        self.peak_mb: dict[str, float] = {}
        self._pids: dict[str, Callable[[], int | None]] = {}

    def watch(self, name: str, pid_of: Callable[[], int | None]) -> None:
        """Sample the process ``pid_of()`` names now (a restarted one too)."""
        self._pids[name] = pid_of

    def sample(self) -> None:
        for name, pid_of in self._pids.items():
            pid = pid_of()
            if pid is None:
                continue
            with contextlib.suppress(psutil.Error):
                rss = psutil.Process(pid).memory_info().rss / MB
                self.peak_mb[name] = max(self.peak_mb.get(name, 0.0), rss)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self.sample()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.every_s)


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__)
    parser.add_argument("--fleet", type=int, default=1000, help="wearables")
    parser.add_argument("--seconds", type=float, default=60.0, help="stream time")
    parser.add_argument("--pace", type=float, default=15.0, help="s between entries")
    parser.add_argument("--history", type=int, default=20, help="entries at start")
    parser.add_argument("--poll", type=float, default=5.0, help="poll interval, s")
    parser.add_argument(
        "--guarantee", choices=["at_least_once", "exactly_once"], default="exactly_once"
    )
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--keep", action="store_true", help="keep topics and logs")
    return parser.parse_args()


async def _load(args: argparse.Namespace) -> int:
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    workdir = ROOT / "var" / f"load-{stamp}"
    workdir.mkdir(parents=True)
    options = PipelineOptions(
        bootstrap=bootstrap,
        guarantee=args.guarantee,
        partitions=args.partitions,
        poll_interval_s=args.poll,
        concurrency=64,
    )
    server_options = [
        "--fleet", str(args.fleet), "--pace", str(args.pace),
        "--entries-per-channel", str(args.history),
        "--temperature-site", "core", "--seed", "2026",
    ]  # fmt: skip
    print(
        f"load run: {args.fleet} wearables, one entry each every {args.pace:g} s "
        f"after {args.history} at start, for {args.seconds:g} s; "
        f"anonymiser {args.guarantee}; broker {bootstrap}",
        flush=True,
    )
    memory = PeakMemory()
    stop_sampling = asyncio.Event()
    with SourceServer.start(*server_options, workdir=workdir) as server:
        pipeline = Pipeline(
            workdir, server.url, server.channel_ids(), options, run_id=f"load-{stamp}"
        )
        memory.watch("tsserver", lambda: server.pid)
        for name, stage in pipeline.stages.items():
            memory.watch(name, lambda stage=stage: stage.pid)  # type: ignore[misc]
        sampler = asyncio.create_task(memory.run(stop_sampling))
        try:
            await pipeline.prepare()
            pipeline.start()
            started = time.monotonic()
            await _progress(pipeline, started, args.seconds)
            expected = server.freeze_and_list()
            streamed = time.monotonic() - started
            print(f"source frozen: {len(expected)} entries served", flush=True)
            await pipeline.drain(expected, timeout_s=600, quiet_s=90)
            await pipeline.wait_for_alerting(timeout_s=300)
            drained = time.monotonic() - started - streamed
            statuses = pipeline.stop()
            result = await pipeline.account(expected)
            alerts = await pipeline.account_alerts()
        finally:
            pipeline.stop()
            stop_sampling.set()
            await sampler
            if not args.keep:
                await pipeline.delete_topics()

    holds = result.holds(exactly_once=args.guarantee == "exactly_once")
    holds = holds and alerts.holds()
    figures = {
        "run": pipeline.run_id,
        "fleet": args.fleet,
        "pace_s": args.pace,
        "history": args.history,
        "guarantee": args.guarantee,
        "stream_s": round(streamed, 1),
        "drain_s": round(drained, 1),
        "entries_per_s": round(result.expected / (streamed + drained), 1),
        "entries": asdict(result),
        "alerts": asdict(alerts),
        "invariant_holds": holds,
        "exit_statuses": statuses,
        "peak_rss_mb": {k: round(v, 1) for k, v in sorted(memory.peak_mb.items())},
    }
    print(f"entries: {result.summary()}")
    print(alerts.summary())
    print(
        f"streamed {streamed:.0f} s, drained in {drained:.0f} s "
        f"({figures['entries_per_s']} entries/s end to end)"
    )
    print(
        "peak RSS (MB): "
        + ", ".join(f"{k} {v}" for k, v in figures["peak_rss_mb"].items())
    )
    print(f"invariant {'holds' if holds else 'BROKEN'}; written to {args.output}")
    args.output.write_text(json.dumps(figures, indent=2, default=list) + "\n")
    if not args.keep:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0 if holds else 1


async def _progress(pipeline: Pipeline, started: float, seconds: float) -> None:
    async with pipeline.tail("raw", "anonymised", "alerts") as tail:
        while (elapsed := time.monotonic() - started) < seconds:
            await asyncio.sleep(min(10.0, max(0.1, seconds - elapsed)))
            ends = await tail.end_offsets()
            by_topic = {
                role: sum(v for (t, _), v in ends.items() if t == topic)
                for role, topic in pipeline.topics.items()
                if role != "deadletter"
            }
            print(
                f"[{time.monotonic() - started:5.0f}s] offsets (incl. transaction "
                f"markers): raw {by_topic['raw']}, anonymised "
                f"{by_topic['anonymised']}, alerts {by_topic['alerts']}",
                flush=True,
            )
            if exited := pipeline.exited():
                stage = pipeline.stage(exited[0])
                raise SystemExit(f"{exited} exited early:\n{stage.log_tail()}")


def main() -> int:
    return asyncio.run(_load(_parse()))


if __name__ == "__main__":
    sys.exit(main())
