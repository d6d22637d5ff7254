"""A Kafka broker of the fault suite's own, to stop and start at will.

The shared broker on 9092 serves other tests and people: it is never
stopped. This one runs through the same scripts/kafka on free ports, from a
home folder of its own that links to the jars already fetched (so no second
download), and is stopped and started by that script's own pid file.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from pathlib import Path

from tests.conftest import PROJECT_ROOT

KAFKA_SCRIPT = PROJECT_ROOT / "scripts" / "kafka"
SHARED_HOME = PROJECT_ROOT / ".cache" / "kafka"
VERSION = os.environ.get("KAFKA_VERSION", "4.0.1")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class OwnBroker:
    """A single-node KRaft broker under ``home`` on free ports."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.port = free_port()
        self.controller_port = free_port()
        home.mkdir(parents=True, exist_ok=True)
        shared_libs = SHARED_HOME / f"lib-{VERSION}"
        if (shared_libs / ".complete").exists():
            (home / f"lib-{VERSION}").symlink_to(shared_libs)

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _script(self, command: str) -> str:
        env = {
            **os.environ,
            "KAFKA_PORT": str(self.port),
            "KAFKA_CONTROLLER_PORT": str(self.controller_port),
            "VITALSTREAM_KAFKA_HOME": str(self.home),
        }
        done = subprocess.run(
            [str(KAFKA_SCRIPT), command],
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"scripts/kafka {command}: {done.stderr[-2000:]}")
        return done.stdout.strip()

    def start(self) -> str:
        return self._script("start")

    def stop(self) -> str:
        return self._script("stop")

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.home, ignore_errors=True)
