"""The main job, end to end: `make demo`.

Starts the project's ThingSpeak-compatible server (a simulated fleet, or
recorded exports with --data), or reads the real ThingSpeak when channel ids
are given in THINGSPEAK_CHANNELS (environment or .env), then the connector,
the anonymiser and the authorised alerting consumer, each as its own process.
It shows per-stage counts live and every alert as it is raised, runs for a
bounded time, prints a summary and stops everything it started. Each run
uses topics and consumer groups of its own, deleted at the end unless --keep.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import orjson
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient

ROOT = Path(__file__).resolve().parent.parent
VITALSTREAM = str(Path(sys.executable).with_name("vitalstream"))
# How long the stages after the connector may take, once it has stopped,
# to carry what it wrote through.
DRAIN_S = 15.0


@dataclass
class Flow:
    """What the demo has seen on each topic so far."""

    raw: int = 0
    anonymised: int = 0
    dead_letters: Counter[str] = field(default_factory=Counter)
    # (kind, severity, state): raised, escalated and resolved apart.
    alerts: Counter[tuple[str, str, str]] = field(default_factory=Counter)

    def raised(self) -> int:
        return sum(n for (_, _, state), n in self.alerts.items() if state != "resolved")

    def in_flight(self) -> int:
        """Raw records neither anonymised nor dead-lettered by the anonymiser."""
        done = self.anonymised + self.dead_letters.get("anonymiser", 0)
        return max(0, self.raw - done)

    def line(self) -> str:
        return (
            f"ingested {self.raw:>6} | anonymised {self.anonymised:>6} | "
            f"dead letters {sum(self.dead_letters.values()):>4} | "
            f"alerts raised {self.raised():>4}"
        )


@dataclass
class Stage:
    name: str
    process: subprocess.Popen[bytes]
    log: Path


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _run(*args: str, env: dict[str, str]) -> str:
    # A session of its own, as the stages have: a Ctrl-C reaches the demo
    # alone, which finishes this short step and then stops in order.
    done = subprocess.run(  # noqa: S603 - our own CLI, fixed arguments
        [VITALSTREAM, *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        start_new_session=True,
    )
    if done.returncode != 0:
        sys.exit(f"demo: `vitalstream {' '.join(args)}` failed:\n{done.stderr}")
    return done.stdout


def _start(name: str, args: list[str], env: dict[str, str], workdir: Path) -> Stage:
    log = workdir / f"{name}.log"
    process = subprocess.Popen(  # noqa: S603 - our own CLI, fixed arguments
        [VITALSTREAM, *args],
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    return Stage(name, process, log)


def _stop(stages: list[Stage]) -> None:
    for stage in reversed(stages):
        if stage.process.poll() is None:
            os.killpg(stage.process.pid, signal.SIGTERM)
    deadline = time.monotonic() + 30
    for stage in reversed(stages):
        remaining = max(0.1, deadline - time.monotonic())
        try:
            stage.process.wait(timeout=remaining)
        except subprocess.TimeoutExpired:
            os.killpg(stage.process.pid, signal.SIGKILL)
            stage.process.wait()


async def _drain(flow: Flow, stages: list[Stage], seconds: float) -> None:
    # Polled: the counts come from the watcher, the exit from the process.
    anonymiser = next((s for s in stages if s.name == "anonymiser"), None)
    for _ in range(round(seconds / 0.5)):
        if anonymiser is None or anonymiser.process.poll() is not None:
            return
        if not flow.in_flight():
            return
        await asyncio.sleep(0.5)


def _on_the_skin(channel: int) -> str:
    return "skin"


def _channels_toml(ids: list[int], site_of: Callable[[int], str]) -> str:
    blocks = [
        f'[[channels]]\nid = {channel}\ntemperature_site = "{site_of(channel)}"\n'
        for channel in ids
    ]
    return "\n".join(blocks)


async def _watch(
    bootstrap: str,
    topics: dict[str, str],
    flow: Flow,
    stop: asyncio.Event,
    show_alert: bool,
) -> None:
    # The demo's screen is for the stream; a broker that went away is said
    # once by the summary, not by a retry line every few milliseconds.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    consumer = AIOKafkaConsumer(
        *topics.values(),
        bootstrap_servers=bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
    )
    await consumer.start()
    role_of = {name: role for role, name in topics.items()}
    try:
        while not stop.is_set():
            batches = await consumer.getmany(timeout_ms=500)
            for partition, records in batches.items():
                role = role_of[partition.topic]
                for record in records:
                    _count(role, record.value, flow, show_alert)
    finally:
        await consumer.stop()


def _count(role: str, value: bytes | None, flow: Flow, show_alert: bool) -> None:
    if role == "raw":
        flow.raw += 1
        return
    if role == "anonymised":
        flow.anonymised += 1
        return
    try:
        doc = orjson.loads(value or b"null")
    except orjson.JSONDecodeError:
        doc = {}
    if not isinstance(doc, dict):
        doc = {}
    if role == "deadletter":
        flow.dead_letters[str(doc.get("stage", "?"))] += 1
        return
    kind = str(doc.get("kind", "?"))
    severity = str(doc.get("severity", "?"))
    flow.alerts[(kind, severity, str(doc.get("state", "?")))] += 1
    if show_alert:
        _say(
            f"  ALERT {doc.get('state', '?'):>9} {kind:<13} {severity:<10} "
            f"{doc.get('condition', '')} subject {doc.get('subject', '?')} "
            f"at {doc.get('at', doc.get('observed_at', '?'))}"
        )


async def _delete_run_topics(bootstrap: str, run: str) -> None:
    # Every topic of the run starts with its id, the alerting state topic too.
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        names = [name for name in await admin.list_topics() if name.startswith(run)]
        await admin.delete_topics(names)
    finally:
        await admin.close()


def _summary(flow: Flow, seconds: float) -> str:
    lines = [
        "",
        f"vitalstream demo summary ({seconds:.0f} s)",
        f"  entries ingested (raw topic):     {flow.raw}",
        f"  readings anonymised:              {flow.anonymised}",
        f"  dead letters:                     {sum(flow.dead_letters.values())}"
        + "".join(f"  {stage}: {n}" for stage, n in sorted(flow.dead_letters.items())),
        f"  alerts and notices raised:        {flow.raised()}"
        " (raised or escalated; resolutions apart)",
    ]
    if flow.in_flight():
        lines.insert(
            4,
            f"  still in the anonymiser at stop:  {flow.in_flight()}"
            f" (not through within {DRAIN_S:.0f} s of the connector's stop)",
        )
    for (kind, severity, state), count in sorted(flow.alerts.items()):
        lines.append(f"    {kind:<14} {severity:<12} {state:<10} {count}")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument(
        "--data", type=Path, help="recorded CSV/feeds.json file or folder"
    )
    parser.add_argument("--fleet", type=int, default=40, help="simulated wearables")
    parser.add_argument(
        "--pace", type=float, default=1.0, help="seconds between entries"
    )
    parser.add_argument("--keep", action="store_true", help="keep the run's topics")
    parser.add_argument("--quiet-alerts", action="store_true")
    args = parser.parse_args()
    return asyncio.run(_demo(args))


async def _demo(args: argparse.Namespace) -> int:
    from vitalstream.config import load_dotenv_file

    load_dotenv_file(ROOT / ".env")
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    run = f"demo-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:4]}"
    workdir = ROOT / "var" / run
    # The run's keyring and the authorised side's log (which shows values)
    # live here: readable by this user only.
    workdir.mkdir(parents=True, mode=0o700)
    keyring = workdir / "keyring.json"
    port = _free_port()

    real_channels = os.environ.get("THINGSPEAK_CHANNELS", "").strip()
    sites = None  # the simulated fleet's, or every channel on the skin
    if args.data:
        from connectors.tsserver.recorded import channel_ids_in

        ids = channel_ids_in(args.data)
        source = ["--data", str(args.data)]
        base_url = f"http://127.0.0.1:{port}"
        what = f"recorded ThingSpeak exports from {args.data}"
    elif real_channels:
        ids = [int(part) for part in real_channels.split(",") if part.strip()]
        source = []
        base_url = "https://api.thingspeak.com"
        what = f"the real ThingSpeak, channels {ids}"
    else:
        from connectors.tsserver import FleetConfig, fleet_channel_ids

        ids = fleet_channel_ids(args.fleet)
        source = [
            "--fleet",
            str(args.fleet),
            "--pace",
            str(args.pace),
            "--temperature-site",
            "mixed",
        ]
        sites = FleetConfig(size=args.fleet, temperature_site="mixed")
        base_url = f"http://127.0.0.1:{port}"
        what = f"a simulated fleet of {args.fleet} wearables"

    topics = {
        "raw": f"{run}.vitals.raw",
        "anonymised": f"{run}.vitals.anonymised",
        "alerts": f"{run}.vitals.alerts",
        "deadletter": f"{run}.vitals.deadletter",
    }
    config = workdir / "vitalstream.toml"
    config.write_text(
        f'[kafka]\nbootstrap_servers = "{bootstrap}"\nclient_id = "{run}"\n'
        + "".join(
            f'[topics.{role}]\nname = "{name}"\n' for role, name in topics.items()
        )
        + f'[topics.connector_offsets]\nname = "{run}.connector-offsets"\n'
        + f'[connector]\nbase_url = "{base_url}"\npoll_interval_s = 2\n'
        + f'[anonymiser]\ngroup_id = "{run}-anonymiser"\nweb_port = {_free_port()}\n'
        + f'data_dir = "{workdir / "anonymiser"}"\n'
        + f'[keys]\nkeyring = "{keyring}"\n'
        + f'[alerting]\ngroup_id = "{run}-alerting"\nsilent_after_s = 120\n'
        + f'audit_log = "{workdir / "audit.log"}"\n\n'
        + _channels_toml(ids, sites.site_of if sites else _on_the_skin)
    )
    env = {**os.environ, "VITALSTREAM_CONFIG": str(config)}

    print(f"vitalstream demo {run}: {what}, {len(ids)} channel(s)", flush=True)
    stages: list[Stage] = []
    watcher: asyncio.Task[None] | None = None
    flow = Flow()
    stop = asyncio.Event()
    interrupted = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        # Ctrl-C ends the run as its time would: everything stopped, the
        # summary printed, the run's topics deleted; no traceback.
        loop.add_signal_handler(signum, interrupted.set)
    started = time.monotonic()
    settled: tuple[int, int, float] | None = None
    try:
        # Inside the try: whatever happens from here, the run's topics go.
        print(_run("topics", "create", env=env).rstrip(), flush=True)
        _run("keys", "generate", env=env)
        if source:
            stages.append(
                _start(
                    "thingspeak",
                    ["thingspeak", "serve", "--port", str(port), *source],
                    env,
                    workdir,
                )
            )
        stages.append(_start("alerting", ["alert"], env, workdir))
        stages.append(_start("anonymiser", ["anonymise"], env, workdir))
        stages.append(_start("connector", ["connect"], env, workdir))
        watcher = asyncio.create_task(
            _watch(bootstrap, topics, flow, stop, not args.quiet_alerts)
        )
        while time.monotonic() - started < args.seconds:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(interrupted.wait(), timeout=2)
            if interrupted.is_set():
                _say("demo: interrupted; stopping everything it started")
                break
            elapsed = time.monotonic() - started
            _say(f"[{elapsed:5.0f}s] {flow.line()}")
            if args.data:
                # A recording has an end: once every entry is through and
                # nothing has moved for a while, there is nothing more to see.
                now = (flow.raw, flow.anonymised, time.monotonic())
                if settled is None or settled[:2] != now[:2]:
                    settled = now
                elif (
                    flow.raw
                    and flow.anonymised >= flow.raw - sum(flow.dead_letters.values())
                    and now[2] - settled[2] >= 8
                ):
                    _say("demo: every recorded entry is through; stopping")
                    break
            for stage in stages:
                if stage.process.poll() is not None:
                    print(f"demo: {stage.name} exited early; its log:", file=sys.stderr)
                    print(stage.log.read_text()[-3000:], file=sys.stderr)
                    return 1
    finally:
        # The connector first, then what it wrote is given time to get
        # through before the other stages stop, so the summary adds up.
        _stop([stage for stage in stages if stage.name == "connector"])
        await _drain(flow, stages, DRAIN_S)
        _stop(stages)
        await asyncio.sleep(1.5)  # let the watcher read what the last stages wrote
        stop.set()
        if watcher is not None:
            # With the broker gone, the watcher's consumer ends cancelled.
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(watcher, timeout=15)
        # Clean up before printing: a closed terminal or pipe must not leave
        # the run's topics behind.
        if not args.keep:
            try:
                await asyncio.wait_for(_delete_run_topics(bootstrap, run), 30)
            except (Exception, asyncio.CancelledError) as exc:
                _say(f"demo: the run's topics ({run}.*) are left: {exc!r}")
            shutil.rmtree(workdir / "anonymiser", ignore_errors=True)
        _say(_summary(flow, time.monotonic() - started))
        _say(f"  logs: {workdir}")
    if interrupted.is_set():
        return 130
    return 0 if flow.raw else 1


def _say(text: str) -> None:
    # The reader may have gone (a pipe closed by Ctrl-C): carry on without.
    with contextlib.suppress(OSError):
        print(text, flush=True)


if __name__ == "__main__":
    sys.exit(main())
