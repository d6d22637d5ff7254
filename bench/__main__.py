"""``python -m bench``: every benchmark, a table, and bench/results.json.

Needs a Kafka broker (``KAFKA_BOOTSTRAP_SERVERS``, default 127.0.0.1:9092);
``make bench`` starts the local one. ``--quick`` is a short smoke run whose
figures are not for comparison; ``--only`` picks parts; ``--profile``
records the stage processes with py-spy and saves summaries under
bench/profiles/ (it costs CPU, so the figures of such a run are lower).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from bench import anonymiser, connector, goals, latency, sealing, stacks
from bench.env import machine, stamp
from bench.procs import MemoryWatch

PARTS = ("sealing", "anonymiser", "latency", "connector")
RESULTS = Path(__file__).resolve().parent / "results.json"

SETTINGS = {
    "full": {
        "anonymiser_records": 200_000,
        "sealing_records": 100_000,
        "latency_rates": [1000, 5000],
        "latency_seconds": 20.0,
        "latency_warmup_seconds": 3.0,
        "connector_channels": 1000,
        "connector_entries_per_channel": 240,
        "connector_client_polls": 3000,
        "connector_steady_seconds": 10.0,
    },
    "quick": {
        "anonymiser_records": 20_000,
        "sealing_records": 10_000,
        "latency_rates": [1000, 5000],
        "latency_seconds": 5.0,
        "latency_warmup_seconds": 1.0,
        "connector_channels": 1000,
        "connector_entries_per_channel": 10,
        "connector_client_polls": 500,
        "connector_steady_seconds": 3.0,
    },
}


async def _run(args: argparse.Namespace) -> dict[str, Any]:
    mode = "quick" if args.quick else "full"
    settings = SETTINGS[mode]
    parts = args.only.split(",") if args.only else list(PARTS)
    run_id = uuid.uuid4().hex[:6]
    memory = MemoryWatch()
    memory.start()
    results: dict[str, Any] = {
        "mode": mode,
        "started_at": stamp(),
        "settings": settings,
        "machine": machine(),
        "seconds": {},
    }
    try:
        for part in parts:
            started = time.monotonic()
            print(f"bench: {part} ...", file=sys.stderr, flush=True)
            try:
                results[part] = await _part(part, settings, memory, args, run_id)
            except Exception as exc:  # one failed part must not lose the others
                print(f"bench: {part} failed: {exc!r}", file=sys.stderr, flush=True)
                results.setdefault("errors", {})[part] = repr(exc)[-2000:]
            results["seconds"][part] = round(time.monotonic() - started, 1)
    finally:
        memory.stop()
    results["peak_rss_mb"] = memory.peaks_mb()
    results["finished_at"] = stamp()
    return results


async def _part(
    part: str,
    settings: dict[str, Any],
    memory: MemoryWatch,
    args: argparse.Namespace,
    run_id: str,
) -> dict[str, Any]:
    if part == "sealing":
        figures = sealing.run(settings["sealing_records"])
        if args.profile:
            stacks.save("sealing", sealing.profile_ours(settings["sealing_records"]))
        return figures
    if part == "anonymiser":
        return await anonymiser.run(
            settings["anonymiser_records"], memory, profile=args.profile, run_id=run_id
        )
    if part == "latency":
        return await latency.run(
            settings["latency_rates"],
            settings["latency_seconds"],
            settings["latency_warmup_seconds"],
            memory,
            run_id=run_id,
        )
    if part == "connector":
        return await connector.run(
            settings["connector_channels"],
            settings["connector_entries_per_channel"],
            settings["connector_client_polls"],
            settings["connector_steady_seconds"],
            memory,
            run_id=run_id,
            profile=args.profile,
        )
    raise SystemExit(f"bench: unknown part {part!r}; parts are {', '.join(PARTS)}")


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument("--only", help=f"comma-separated parts of {', '.join(PARTS)}")
    parser.add_argument("--profile", action="store_true", help="py-spy the stages")
    parser.add_argument(
        "--output",
        type=Path,
        default=None,
        help="results file (default: bench/results.json; quick runs: none)",
    )
    args = parser.parse_args()
    results = asyncio.run(_run(args))
    judged = goals.judge(results)
    results["goals"] = [
        {"goal": g.name, "measured": g.figure, "target": g.target, "verdict": g.verdict}
        for g in judged
    ]
    print(goals.table(results, judged))
    output = args.output or (None if args.quick or args.only else RESULTS)
    if output is not None:
        output.write_text(json.dumps(results, indent=2) + "\n")
        print(f"\nwritten to {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
