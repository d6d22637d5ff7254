"""What the fault tests share: a running pipeline, waiting, and the report."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from vitalstream.accounting import AccountingResult, SourceKey, TopicTail
from vitalstream.alert_accounting import AlertAccounting
from vitalstream.pipeline import Pipeline, PipelineOptions, SourceServer

# A worker killed with SIGKILL stays in its consumer group until its session
# times out, and a restarted one is assigned partitions only after that
# (anonymiser.session_timeout_s, 10 s by default): the broker's least.
FAST_REJOIN = {
    "VITALSTREAM_ANONYMISER__SESSION_TIMEOUT_S": "6",
    "VITALSTREAM_ANONYMISER__HEARTBEAT_INTERVAL_S": "1",
}


@dataclass
class FaultReport:
    """What one fault test did and found, for the terminal summary."""

    test: str
    injected: list[str] = field(default_factory=list)
    result: AccountingResult | None = None
    alerts: AlertAccounting | None = None
    notes: list[str] = field(default_factory=list)

    def fault(self, what: str) -> None:
        self.injected.append(what)

    @property
    def faults(self) -> int:
        return len(self.injected)

    @property
    def checked(self) -> int:
        return self.result.expected if self.result else 0

    @property
    def lost(self) -> int:
        return self.result.lost if self.result else 0

    @property
    def duplicated(self) -> int:
        return self.result.duplicated if self.result else 0

    def lines(self) -> list[str]:
        lines = [
            f"{self.test}: {self.faults} fault(s) injected: {'; '.join(self.injected)}"
        ]
        if self.result is not None:
            lines.append(f"    entries: {self.result.summary()}")
        if self.alerts is not None:
            lines.append(f"    {self.alerts.summary()}")
        lines += [f"    {note}" for note in self.notes]
        return lines


async def wait_until(
    check: Callable[[], Awaitable[bool]], *, timeout_s: float, what: str
) -> None:
    """Poll ``check`` every 0.2 s until it is true; AssertionError after the timeout."""
    deadline = time.monotonic() + timeout_s
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        await asyncio.sleep(0.2)


class FaultRun:
    """A source server and a pipeline on it, with counters for waiting."""

    def __init__(self, server: SourceServer, pipeline: Pipeline) -> None:
        self.server = server
        self.pipeline = pipeline
        self._tails: dict[str, TopicTail] = {}
        self.started = time.monotonic()

    def count_time(self) -> float:
        """Seconds since the run began."""
        return time.monotonic() - self.started

    async def count(self, role: str) -> int:
        """Committed records of the run's ``role`` topic so far."""
        tail = self._tails.get(role)
        if tail is None:
            tail = self._tails[role] = self.pipeline.tail(role)
            await tail.start()
        await tail.catch_up()
        return len(tail.of(self.pipeline.topics[role]))

    async def wait_for(self, role: str, minimum: int, timeout_s: float = 90) -> int:
        """Wait until ``role`` holds ``minimum`` records; the count then."""
        seen = 0

        async def enough() -> bool:
            nonlocal seen
            seen = await self.count(role)
            if exited := self.pipeline.exited():
                raise AssertionError(
                    f"{exited} exited: {self.pipeline.stage(exited[0]).log_tail()}"
                )
            return seen >= minimum

        await wait_until(enough, timeout_s=timeout_s, what=f"{minimum} {role} records")
        return seen

    async def close_tails(self) -> None:
        for tail in self._tails.values():
            await tail.stop()
        self._tails.clear()

    async def finish(
        self, report: FaultReport, *, alerts: bool = True
    ) -> tuple[AccountingResult, AlertAccounting | None]:
        """Freeze the source, let the pipeline drain, stop it, and account."""
        await self.close_tails()
        frozen = time.monotonic()
        expected: set[SourceKey] = self.server.freeze_and_list()
        await self.pipeline.drain(expected, timeout_s=150, quiet_s=40)
        if alerts:
            caught_up = await self.pipeline.wait_for_alerting(timeout_s=120)
            assert caught_up, "the alerting consumer did not reach the topic's end"
        drained = time.monotonic()
        statuses = self.pipeline.stop()
        report.notes.append(
            f"stream ran {frozen - self.started:.0f} s, drained in "
            f"{drained - frozen:.0f} s; exit statuses after SIGTERM: {statuses}"
        )
        result = await self.pipeline.account(expected)
        report.result = result
        alert_result = await self.pipeline.account_alerts() if alerts else None
        report.alerts = alert_result
        return result, alert_result


@asynccontextmanager
async def fault_run(
    workdir: Path, server_options: list[str], options: PipelineOptions
) -> AsyncIterator[FaultRun]:
    """A source server with ``server_options`` and a pipeline (not started) on it."""
    with SourceServer.start(*server_options, workdir=workdir) as server:
        pipeline = Pipeline(workdir, server.url, server.channel_ids(), options)
        await pipeline.prepare()
        run = FaultRun(server, pipeline)
        try:
            yield run
        finally:
            await run.close_tails()
            pipeline.stop()
            await pipeline.delete_topics()
