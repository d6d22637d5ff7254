"""Running the server: in this process (tests, benchmarks) or as a child process.

In-process, on a free port, inside a test's event loop::

    store = build_store(fleet=FleetConfig(size=50, seed=7))
    async with serve_in_process(store, faults=FaultPlan()) as server:
        httpx.get(f"{server.url}/channels/900001/feeds.json")

As a process (what the demo and the kill tests use)::

    with start_server_process("--fleet", "1000", "--control") as server:
        server.set_faults(plan); ...; server.kill()
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import httpx
from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from aiohttp.web_request import BaseRequest

from connectors.tsserver.app import build_app
from connectors.tsserver.errors import ServerStartError
from connectors.tsserver.faults import FaultPlan
from connectors.tsserver.fleet import FleetConfig, build_fleet
from connectors.tsserver.recorded import load_recordings
from connectors.tsserver.store import ChannelStore
from connectors.tsserver.timeline import PacedTimeline

log = logging.getLogger(__name__)

READY_LINE = "tsserver listening on "
_READY = re.compile(re.escape(READY_LINE) + r"(http://\S+)")


def build_store(
    *,
    data: Sequence[Path] = (),
    channel_id: int | None = None,
    fleet: FleetConfig | None = None,
    pace: float | None = None,
    clock: Callable[[], float] = time.time,
) -> ChannelStore:
    """A store of the recorded channels under ``data`` and a simulated ``fleet``.

    With ``pace``, entries are released from now on (see ``timeline``).
    Raises RecordingError for a bad file, ValueError for clashing ids.
    """
    timeline = None
    if pace is not None:
        timeline = PacedTimeline(pace=pace, started_at=float(int(clock())))
    store = ChannelStore(timeline=timeline, clock=clock)
    for path in data:
        for channel in load_recordings(path, channel_id=channel_id):
            store.add(channel)
    if fleet is not None:
        for simulated in build_fleet(fleet, endless=pace is not None):
            store.add(simulated)
    return store


@dataclass(frozen=True)
class RunningServer:
    """A server listening in this process."""

    url: str
    port: int
    store: ChannelStore
    faults: FaultPlan


class _KeylessAccessLogger(AbstractAccessLogger):
    """One line per request, its path without the query: keys travel there."""

    def log(
        self, request: BaseRequest, response: web.StreamResponse, time: float
    ) -> None:
        self.logger.info(
            '%s "%s %s" %s %.3fs',
            request.remote,
            request.method,
            request.path,
            response.status,
            time,
        )


@contextlib.asynccontextmanager
async def serve_in_process(
    store: ChannelStore,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    faults: FaultPlan | None = None,
    control: bool = False,
    access_log: bool = False,
) -> AsyncIterator[RunningServer]:
    """Serve ``store`` on ``host``:``port`` (0: a free one) until the block ends."""
    plan = faults if faults is not None else FaultPlan()
    app = build_app(store, faults=plan, control=control)
    runner = web.AppRunner(
        app,
        access_log=logging.getLogger("aiohttp.access") if access_log else None,
        access_log_class=_KeylessAccessLogger,
    )
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound = runner.addresses[0][1]
        yield RunningServer(f"http://{host}:{bound}", bound, store, plan)
    finally:
        await runner.cleanup()


async def serve_until_stopped(
    store: ChannelStore,
    *,
    host: str,
    port: int,
    control: bool = False,
    access_log: bool = False,
    on_ready: Callable[[RunningServer], None] | None = None,
) -> None:
    """Serve until SIGINT or SIGTERM, then close (the command's main loop)."""
    stopped = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopped.set)
    async with serve_in_process(
        store, host=host, port=port, control=control, access_log=access_log
    ) as server:
        if on_ready is not None:
            on_ready(server)
        await stopped.wait()
    log.info("tsserver stopped")


class ServerProcess:
    """A ``vitalstream thingspeak serve`` child process."""

    def __init__(self, process: subprocess.Popen[str], url: str) -> None:
        self.process = process
        self.url = url

    def __repr__(self) -> str:
        return f"<ServerProcess pid={self.pid} {self.url}>"

    @property
    def pid(self) -> int:
        return self.process.pid

    def set_faults(self, plan: FaultPlan) -> None:
        """Replace the process's fault plan (it must run with ``--control``)."""
        reply = httpx.put(f"{self.url}/_tsserver/faults", content=plan.to_json())
        reply.raise_for_status()

    def clear_faults(self) -> None:
        """Remove every fault rule of the process."""
        httpx.delete(f"{self.url}/_tsserver/faults").raise_for_status()

    def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM, wait, SIGKILL if it would not stop; the exit status."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
        code = self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()
        return code

    def kill(self) -> None:
        """SIGKILL, as a crash would."""
        self.process.kill()
        self.process.wait()

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def start_server_process(
    *options: str,
    env: Mapping[str, str] | None = None,
    startup_timeout: float = 30.0,
) -> ServerProcess:
    """Start ``vitalstream thingspeak serve OPTIONS`` on a free port; wait for it.

    ``--port 0`` is added unless ``options`` give a port. Raises
    ServerStartError if the process exits or is silent for ``startup_timeout``.
    """
    arguments = list(options)
    if "--port" not in arguments:
        arguments += ["--port", "0"]
    command = [
        sys.executable,
        "-c",
        "from vitalstream.cli import main; main()",
        "thingspeak",
        "serve",
        *arguments,
    ]
    environment = dict(os.environ if env is None else env)
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and command
        command, stdout=subprocess.PIPE, text=True, env=environment
    )
    try:
        url = _await_ready(process, startup_timeout)
    except BaseException:
        process.kill()
        process.wait()
        raise
    return ServerProcess(process, url)


def _await_ready(process: subprocess.Popen[str], timeout: float) -> str:
    if process.stdout is None:
        raise ServerStartError("tsserver was started without a stdout pipe")
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while time.monotonic() < deadline:
            if not selector.select(timeout=max(0.0, deadline - time.monotonic())):
                break
            line = process.stdout.readline()
            if not line:
                raise ServerStartError(
                    f"tsserver exited with status {process.wait()} before listening"
                )
            match = _READY.search(line)
            if match:
                return match.group(1)
    raise ServerStartError(f"tsserver did not report listening within {timeout} s")
