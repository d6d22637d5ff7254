"""Stage processes for the benchmarks, their peak memory, and their profiles.

A :class:`StageProcess` is one ``vitalstream`` (or ``python -m``) child with
its log in the scenario's folder. :class:`MemoryWatch` samples the resident
set size (RSS) of every process it is given, with psutil, in a thread, and
keeps the peak per role ("anonymiser", "alerting", ...) over the whole run.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil  # type: ignore[import-untyped]  # no stubs installed

from bench.env import VITALSTREAM


@dataclass
class StageProcess:
    """A child process of one role, started in its own session."""

    role: str
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def log_tail(self, chars: int = 3000) -> str:
        with contextlib.suppress(OSError):
            return self.log.read_text(errors="replace")[-chars:]
        return ""

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM, then SIGKILL after ``timeout``; the exit status."""
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
        return self.process.wait()


def start_stage(
    role: str,
    args: list[str],
    *,
    env: dict[str, str],
    folder: Path,
    module: bool = False,
) -> StageProcess:
    """Start ``vitalstream ARGS`` (or ``python -m ARGS`` with ``module``)."""
    command = [sys.executable, "-m", *args] if module else [VITALSTREAM, *args]
    log = folder / f"{role}.log"
    process = subprocess.Popen(
        command,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    return StageProcess(role, process, log)


@dataclass
class MemoryWatch:
    """Peak RSS per role of the processes being watched, sampled every 0.2 s."""

    interval_s: float = 0.2
    peaks: dict[str, int] = field(default_factory=dict)
    _watched: list[tuple[str, psutil.Process]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def watch(self, role: str, pid: int) -> None:
        with self._lock, contextlib.suppress(psutil.Error):
            self._watched.append((role, psutil.Process(pid)))

    def start(self) -> None:
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def sample_now(self) -> None:
        with self._lock:
            watched = list(self._watched)
        gone = []
        for role, process in watched:
            try:
                rss = int(process.memory_info().rss)
            except psutil.Error:
                gone.append((role, process))
                continue
            if rss > self.peaks.get(role, 0):
                self.peaks[role] = rss
        if gone:
            with self._lock:
                self._watched = [w for w in self._watched if w not in gone]

    def _sample(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.sample_now()

    def peaks_mb(self) -> dict[str, float]:
        return {role: round(rss / 2**20, 1) for role, rss in sorted(self.peaks.items())}


class PySpy:
    """``py-spy record`` of one process to a collapsed-stack file, if available."""

    def __init__(self, pid: int, output: Path, *, rate: int = 100) -> None:
        self.output = output
        self.process: subprocess.Popen[bytes] | None = None
        binary = Path(sys.executable).with_name("py-spy")
        if not binary.exists():
            return
        with contextlib.suppress(OSError):
            self.process = subprocess.Popen(
                [
                    str(binary),
                    "record",
                    "--pid",
                    str(pid),
                    "--format",
                    "raw",
                    "--rate",
                    str(rate),
                    "--output",
                    str(output),
                    "--nonblocking",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )

    def stop(self) -> Path | None:
        """Stop recording; the collapsed-stack file, or None if there is none."""
        if self.process is None:
            return None
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        time.sleep(0.1)
        return self.output if self.output.exists() else None
