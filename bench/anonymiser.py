"""Anonymiser throughput, one worker: pass-through ceiling, Faust ALO, Faust EOS.

The raw topic is filled once; then each consumer drains all of it into an
output topic of its own, with a fresh consumer group, one after the other.
A consumer's rate is its output records over the span from the first to
the last record it wrote (their CreateTime, stamped by its producer), so
start-up and group joining are left out. Each is waited for until its
group has committed the raw topic's end offsets, then stopped.
"""

from __future__ import annotations

import time
from typing import Any

from bench import kafka_io, stacks
from bench.env import Workspace
from bench.procs import MemoryWatch, PySpy, start_stage
from bench.records import readings

VARIANTS = ("passthrough", "at_least_once", "exactly_once")


async def run(
    count: int, memory: MemoryWatch, *, profile: bool, run_id: str
) -> dict[str, Any]:
    base = Workspace("anon", run_id=run_id)
    settings = base.write_config()
    await base.create_topics(settings)
    raw = base.topics["raw"]
    started = time.monotonic()
    filled = await kafka_io.fill(raw, readings(count))
    fill_s = time.monotonic() - started
    ends = await kafka_io.end_offsets(raw)
    results: dict[str, Any] = {
        "records": filled,
        "raw_partitions": len(ends),
        "fill_seconds": round(fill_s, 1),
    }
    try:
        for variant in VARIANTS:
            results[variant] = await _drain(
                base, variant, ends, filled, memory, profile=profile
            )
    finally:
        await base.cleanup()
    ceiling = results["passthrough"]["records_per_s"]
    for variant in ("at_least_once", "exactly_once"):
        rate = results[variant]["records_per_s"]
        results[variant]["ratio_to_passthrough"] = (
            round(rate / ceiling, 3) if ceiling else None
        )
    results["method"] = __doc__.split("\n\n", 1)[1].replace("\n", " ").strip()
    return results


async def _drain(
    base: Workspace,
    variant: str,
    ends: dict[Any, int],
    expected: int,
    memory: MemoryWatch,
    *,
    profile: bool,
) -> dict[str, Any]:
    ws = Workspace(f"anon-{variant.replace('_', '')}", run_id=base.run_id)
    ws.topics["raw"] = base.topics["raw"]
    ws.keyring_path = base.keyring_path
    settings = ws.write_config()
    await ws.create_topics(settings)
    if variant == "passthrough":
        group = f"{ws.prefix}-passthrough"
        stage = start_stage(
            "passthrough",
            ["bench.passthrough", ws.topics["raw"], ws.topics["anonymised"], group],
            env=ws.env(),
            folder=ws.folder,
            module=True,
        )
        role = "passthrough"
    else:
        group = settings.anonymiser.group_id
        stage = start_stage(
            f"anonymiser-{variant}",
            ["anonymise", "--guarantee", variant, "--web-port", "0"],
            env=ws.env(),
            folder=ws.folder,
        )
        role = "anonymiser"
    memory.watch(role, stage.pid)
    spy = PySpy(stage.pid, ws.folder / f"{variant}.collapsed") if profile else None
    started = time.monotonic()
    try:
        done = await kafka_io.wait_for_group(
            group,
            ws.topics["raw"],
            ends,
            # Generous: a busy 2-core machine drains exactly-once slowly.
            timeout_s=120 + expected / 250,
            alive=stage.alive,
        )
        wall = time.monotonic() - started
    finally:
        collapsed = spy.stop() if spy else None
        memory.sample_now()
        stage.stop()
    if not done:
        raise RuntimeError(
            f"{variant} did not drain the raw topic; its log:\n{stage.log_tail()}"
        )
    if collapsed is not None:
        stacks.save(
            f"anonymiser-{variant}",
            stacks.summarise_collapsed(
                collapsed,
                f"py-spy, {variant} consumer draining {expected} raw records "
                "(whole process, start-up included)",
            ),
        )
    times = await kafka_io.read_times(ws.topics["anonymised"])
    if times.count != expected:
        raise RuntimeError(
            f"{variant} wrote {times.count} records for {expected} raw ones"
        )
    return {
        "records_per_s": round(times.rate, 1),
        "written": times.count,
        "span_s": round(((times.last_ms or 0) - (times.first_ms or 0)) / 1000, 2),
        "wall_s_incl_startup": round(wall, 1),
    }
