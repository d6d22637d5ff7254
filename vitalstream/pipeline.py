"""The whole pipeline as child processes: for fault tests, load runs and demos.

A :class:`Pipeline` writes one run's configuration (topics, consumer groups
and transactional ids of its own, a fresh keyring) into a work folder and
runs each stage as ``vitalstream <stage>`` in its own process, which can be
started, killed (SIGKILL, by its pid) and restarted one by one. The
ThingSpeak side is a :class:`SourceServer` (vitalstream.source_server): the
project's compatible server, whose clock can be frozen so that the entries
it served are known exactly. :meth:`Pipeline.account` then checks the
accounting invariant (vitalstream.accounting) and :meth:`Pipeline.account_alerts`
the alert side (vitalstream.alert_accounting)::

    with SourceServer.start("--fleet", "20", "--pace", "1") as server:
        pipeline = Pipeline(workdir, server.url, server.channel_ids(), options)
        await pipeline.prepare()
        pipeline.start()
        ...; pipeline.stage("anonymiser").kill(); pipeline.stage("anonymiser").start()
        expected = server.freeze_and_list()
        await pipeline.drain(expected)
        pipeline.stop()
        result = await pipeline.account(expected)
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import httpx
import orjson

from vitalstream.accounting import (
    AccountingResult,
    SourceKey,
    TopicTail,
    account,
    channel_names,
    expected_entries,
)
from vitalstream.config import Settings, load_settings

if TYPE_CHECKING:
    from connectors.tsserver import FaultPlan
    from vitalstream.alert_accounting import AlertAccounting

__all__ = ["Pipeline", "PipelineOptions", "SourceServer", "StageProcess"]

logger = logging.getLogger(__name__)

VITALSTREAM = str(Path(sys.executable).with_name("vitalstream"))
STAGES = ("alerting", "anonymiser", "connector")
_STAGE_COMMAND = {
    "connector": "connect",
    "anonymiser": "anonymise",
    "alerting": "alert",
}


@dataclass
class StageProcess:
    """One stage's process: started, killed and stopped by its own pid."""

    name: str
    argv: list[str]
    env: dict[str, str]
    cwd: Path
    log: Path
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0
    kills: int = 0

    @property
    def pid(self) -> int | None:
        return None if self.process is None else self.process.pid

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        """Start the process (again), appending to its log."""
        if self.running:
            raise RuntimeError(f"{self.name} is already running (pid {self.pid})")
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(  # noqa: S603 - our own command
                self.argv,
                env=self.env,
                cwd=self.cwd,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.starts += 1
        logger.info("%s started: pid %s", self.name, self.process.pid)

    def kill(self) -> None:
        """SIGKILL, as a crash would: no clean-up of any kind."""
        if self.process is None or not self.running:
            raise RuntimeError(f"{self.name} is not running")
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait()
        self.kills += 1
        logger.info("%s killed: pid %s", self.name, self.process.pid)

    def stop(self, timeout: float = 60.0) -> int | None:
        """SIGTERM, wait, SIGKILL if it would not stop; the exit status."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait()
        return self.process.returncode

    def log_tail(self, chars: int = 3000) -> str:
        return (
            self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""
        )


class SourceServer:
    """A ``python -m vitalstream.source_server`` child process."""

    def __init__(self, process: subprocess.Popen[str], url: str, log: Path) -> None:
        self.process = process
        self.url = url
        self.log = log

    @classmethod
    def start(
        cls, *options: str, workdir: Path, timeout: float = 120.0
    ) -> SourceServer:
        """Start the server with ``options`` on a free port and wait until ready."""
        from connectors.tsserver.runner import READY_LINE

        log = workdir / "source-server.log"
        with log.open("ab") as err:
            process = subprocess.Popen(  # noqa: S603 - our own interpreter
                [sys.executable, "-m", "vitalstream.source_server", *options],
                stdout=subprocess.PIPE,
                stderr=err,
                text=True,
                cwd=workdir,
            )
        assert process.stdout is not None
        deadline = time.monotonic() + timeout
        line = ""
        while time.monotonic() < deadline and READY_LINE not in line:
            line = process.stdout.readline()
            if not line and process.poll() is not None:
                raise RuntimeError(f"source server exited: {log.read_text()[-2000:]}")
        if READY_LINE not in line:
            process.kill()
            raise RuntimeError("source server did not report ready")
        url = line.split(READY_LINE, 1)[1].split()[0]
        return cls(process, url, log)

    @property
    def pid(self) -> int:
        return self.process.pid

    def set_faults(self, plan: FaultPlan) -> None:
        """Replace the server's fault plan (connectors.tsserver.FaultPlan)."""
        httpx.put(
            f"{self.url}/_tsserver/faults", content=plan.to_json()
        ).raise_for_status()

    def clear_faults(self) -> None:
        httpx.delete(f"{self.url}/_tsserver/faults").raise_for_status()

    def faults_applied(self) -> dict[str, int]:
        """How many faults of each kind the server has injected so far."""
        reply = httpx.get(f"{self.url}/_tsserver/status")
        reply.raise_for_status()
        return dict(orjson.loads(reply.content)["faults"])

    def channel_ids(self) -> list[int]:
        return sorted(int(c) for c in self._entries()["channels"])

    def freeze_and_list(self) -> set[SourceKey]:
        """Stop the server's clock; every entry readable from now on."""
        httpx.post(f"{self.url}/_tsserver/freeze").raise_for_status()
        return expected_entries(self._entries()["channels"])

    def _entries(self) -> dict[str, Any]:
        reply = httpx.get(f"{self.url}/_tsserver/entries", timeout=120)
        reply.raise_for_status()
        return dict(orjson.loads(reply.content))

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()

    def __enter__(self) -> SourceServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


@dataclass(frozen=True)
class PipelineOptions:
    """How a run is configured (the rest are vitalstream's defaults)."""

    bootstrap: str
    guarantee: str = "at_least_once"
    partitions: int = 3
    poll_interval_s: float = 1.0
    page_size: int = 8000
    request_timeout_s: float = 10.0
    concurrency: int = 32
    # Device silence depends on wall-clock time; off unless asked for.
    silent_after_s: float = 1e6
    temperature_site: str = "core"
    extra_env: dict[str, str] = field(default_factory=dict)


class Pipeline:
    """One run's configuration and stage processes."""

    def __init__(
        self,
        workdir: Path,
        source_url: str,
        channels: list[int],
        options: PipelineOptions,
        *,
        run_id: str | None = None,
    ) -> None:
        self.workdir = workdir
        self.options = options
        self.run_id = run_id or f"run-{uuid.uuid4().hex[:10]}"
        self.channels = channels
        self.keyring_path = workdir / "keyring.json"
        self.config_path = workdir / "vitalstream.toml"
        self.topics = {
            role: f"{self.run_id}.{role}"
            for role in ("raw", "anonymised", "alerts", "deadletter")
        }
        self.config_path.write_text(self._config(source_url))
        from schemas.keyring import Keyring

        self.keyring = Keyring.generate(self.keyring_path)
        self.settings: Settings = load_settings(self.config_path)
        env = {k: v for k, v in os.environ.items() if not k.startswith("VITALSTREAM_")}
        env.update(options.extra_env)
        env["VITALSTREAM_CONFIG"] = str(self.config_path)
        self.stages = {
            name: StageProcess(
                name,
                [VITALSTREAM, _STAGE_COMMAND[name]],
                env,
                workdir,
                workdir / f"{name}.log",
            )
            for name in STAGES
        }

    def _config(self, source_url: str) -> str:
        o = self.options
        lines = [
            "[kafka]",
            f'bootstrap_servers = "{o.bootstrap}"',
            f'client_id = "{self.run_id}"',
        ]
        for role, name in self.topics.items():
            lines += [f"[topics.{role}]", f'name = "{name}"']
            lines.append(f"partitions = {o.partitions}")
        lines += [
            "[topics.connector_offsets]",
            f'name = "{self.run_id}.connector-offsets"',
            "[connector]",
            f'base_url = "{source_url}"',
            f"poll_interval_s = {o.poll_interval_s}",
            f"page_size = {o.page_size}",
            f"request_timeout_s = {o.request_timeout_s}",
            f"concurrency = {o.concurrency}",
            "slow_retry_s = 5",
            "[anonymiser]",
            f'group_id = "{self.run_id}-anonymiser"',
            f'guarantee = "{o.guarantee}"',
            "web_port = 0",
            f'data_dir = "{self.workdir / "anonymiser"}"',
            "[keys]",
            f'keyring = "{self.keyring_path}"',
            "[alerting]",
            f'group_id = "{self.run_id}-alerting"',
            f"silent_after_s = {o.silent_after_s}",
            f'audit_log = "{self.workdir / "audit.log"}"',
        ]
        for channel in self.channels:
            lines += [
                "[[channels]]",
                f"id = {channel}",
                f'temperature_site = "{o.temperature_site}"',
            ]
        return "\n".join(lines) + "\n"

    def stage(self, name: str) -> StageProcess:
        return self.stages[name]

    async def prepare(self) -> None:
        """Create the run's topics."""
        from vitalstream.topics import ensure_topics

        await ensure_topics(self.settings)

    def start(self, *names: str) -> None:
        """Start the named stages (all of them, consumers first, by default)."""
        for name in names or STAGES:
            self.stages[name].start()

    def stop(self) -> dict[str, int | None]:
        """SIGTERM every running stage, the connector first; their exit statuses."""
        return {name: self.stages[name].stop() for name in reversed(STAGES)}

    def exited(self) -> list[str]:
        """Stages that were started and are no longer running."""
        return [
            name
            for name, stage in self.stages.items()
            if stage.process is not None and not stage.running
        ]

    def tail(self, *roles: str) -> TopicTail:
        """A reader of the run's topics (``raw``, ``anonymised`` ...)."""
        return TopicTail(self.options.bootstrap, [self.topics[r] for r in roles])

    def _account(self, tail: TopicTail, expected: set[SourceKey]) -> AccountingResult:
        return account(
            expected,
            raw=tail.of(self.topics["raw"]),
            anonymised=tail.of(self.topics["anonymised"]),
            dead_letters=tail.of(self.topics["deadletter"]),
            names=channel_names(self.keyring, self.channels),
        )

    async def drain(
        self, expected: set[SourceKey], *, timeout_s: float = 120.0, quiet_s: float = 20
    ) -> AccountingResult:
        """Wait until every expected entry is accounted for downstream.

        Gives up after ``timeout_s``, or once nothing new arrived for
        ``quiet_s``; returns the accounting as it then stands.
        """
        deadline = time.monotonic() + timeout_s
        async with self.tail("raw", "anonymised", "deadletter") as tail:
            last_new = time.monotonic()
            while True:
                if await tail.catch_up():
                    last_new = time.monotonic()
                result = self._account(tail, expected)
                now = time.monotonic()
                if result.lost == 0 or now > deadline or now - last_new > quiet_s:
                    return result
                await asyncio.sleep(0.5)

    async def wait_for_alerting(self, timeout_s: float = 120.0) -> bool:
        """Wait until the alerting group has committed the anonymised topic's end."""
        from aiokafka.admin import AIOKafkaAdminClient

        # The group commits "last record + 1"; a transaction's commit marker
        # may follow that record, so the end offset itself is never reached.
        group = self.settings.alerting.group_id
        topic = self.topics["anonymised"]
        deadline = time.monotonic() + timeout_s
        admin = AIOKafkaAdminClient(bootstrap_servers=self.options.bootstrap)
        await admin.start()
        try:
            async with self.tail("anonymised") as tail:
                while time.monotonic() < deadline:
                    await tail.catch_up()
                    needed: dict[int, int] = {}
                    for record in tail.of(topic):
                        needed[record.partition] = record.offset + 1
                    committed = await admin.list_consumer_group_offsets(group)
                    done = {
                        tp.partition: meta.offset
                        for tp, meta in committed.items()
                        if tp.topic == topic
                    }
                    if all(done.get(p, -1) >= n for p, n in needed.items()):
                        return True
                    await asyncio.sleep(0.5)
        finally:
            await admin.close()
        logger.warning("alerting group %s did not catch up in %s s", group, timeout_s)
        return False

    async def account(self, expected: set[SourceKey]) -> AccountingResult:
        """The accounting invariant over the run's topics, read to their end."""
        async with self.tail("raw", "anonymised", "deadletter") as tail:
            await tail.catch_up()
            return self._account(tail, expected)

    async def account_alerts(self) -> AlertAccounting:
        """The alert side: replayed alerts against the alerts topic."""
        from streams.alerting.rules import rule_config
        from vitalstream.alert_accounting import account_alerts

        async with self.tail("anonymised", "alerts") as tail:
            await tail.catch_up()
            return account_alerts(
                tail.of(self.topics["anonymised"]),
                tail.of(self.topics["alerts"]),
                self.keyring,
                rule_config(self.settings.alerting),
            )

    async def delete_topics(self) -> None:
        """Delete the run's topics (and the alerting consumer's state topic)."""
        from aiokafka.admin import AIOKafkaAdminClient

        names = [*self.topics.values(), f"{self.run_id}.connector-offsets"]
        names.append(f"{self.settings.alerting.group_id}.state")
        admin = AIOKafkaAdminClient(bootstrap_servers=self.options.bootstrap)
        await admin.start()
        try:
            await admin.delete_topics(names)
        except Exception as exc:  # clean-up only: a missing topic is fine
            logger.warning("deleting topics of %s: %s", self.run_id, exc)
        finally:
            await admin.close()
