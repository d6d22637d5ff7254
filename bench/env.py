"""What every benchmark shares: the machine's facts, a run's topics and config.

Each scenario gets a :class:`Workspace`: its own folder under ``var/``, its
own topic names and consumer groups (prefixed with the run id, deleted at
the end), a keyring, and a ``vitalstream.toml`` the stage processes read.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import os
import platform
import shutil
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient

from schemas.keyring import Keyring
from vitalstream.config import Settings, load_settings
from vitalstream.topics import ensure_topics

ROOT = Path(__file__).resolve().parent.parent
VITALSTREAM = str(Path(sys.executable).with_name("vitalstream"))
LIBRARIES = (
    "faust-streaming",
    "aiokafka",
    "httpx",
    "httpcore",
    "anyio",
    "aiohttp",
    "cryptography",
    "orjson",
    "pandas",
    "psutil",
)


def bootstrap_servers() -> str:
    return os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")


def machine() -> dict[str, Any]:
    """Commit, CPU, Python and library versions: what a figure depends on."""
    versions: dict[str, str | None] = {}
    for name in LIBRARIES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "git_commit": _git("rev-parse", "HEAD"),
        "git_dirty": bool(_git("status", "--porcelain", "--untracked-files=no")),
        "cpu_count": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "libraries": versions,
        "kafka_bootstrap": bootstrap_servers(),
    }


def _git(*args: str) -> str:
    done = subprocess.run(
        ["git", *args], cwd=ROOT, capture_output=True, text=True, check=False
    )
    return done.stdout.strip()


def _cpu_model() -> str | None:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return None


@dataclass
class Workspace:
    """One scenario's folder, topics, groups, keyring and configuration."""

    name: str
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:6])
    extra_toml: str = ""

    def __post_init__(self) -> None:
        self.prefix = f"bench-{self.run_id}-{self.name}"
        self.folder = ROOT / "var" / "bench" / self.prefix
        self.folder.mkdir(parents=True, exist_ok=True)
        self.keyring_path = self.folder / "keyring.json"
        self.config_path = self.folder / "vitalstream.toml"
        self.topics = {
            role: f"{self.prefix}.{role}"
            for role in ("raw", "anonymised", "alerts", "deadletter")
        }
        self.offsets_topic = f"{self.prefix}.connector-offsets"

    def write_config(self, extra_toml: str = "") -> Settings:
        """Write the scenario's ``vitalstream.toml`` and return its settings."""
        text = (
            f'[kafka]\nbootstrap_servers = "{bootstrap_servers()}"\n'
            f'client_id = "{self.prefix}"\n'
            + "".join(
                f'[topics.{role}]\nname = "{name}"\n'
                for role, name in self.topics.items()
            )
            + f'[topics.connector_offsets]\nname = "{self.offsets_topic}"\n'
            + f'[anonymiser]\ngroup_id = "{self.prefix}-anonymiser"\nweb_port = 0\n'
            + f'data_dir = "{self.folder / "anonymiser"}"\n'
            + f'[keys]\nkeyring = "{self.keyring_path}"\n'
            + f'[alerting]\ngroup_id = "{self.prefix}-alerting"\n'
            + f'audit_log = "{self.folder / "audit.log"}"\n'
            + extra_toml
        )
        self.config_path.write_text(text)
        if not self.keyring_path.exists():
            Keyring.generate(self.keyring_path)
        return load_settings(self.config_path)

    async def create_topics(self, settings: Settings) -> None:
        await ensure_topics(settings)

    def env(self) -> dict[str, str]:
        """The environment a stage process of this scenario runs with."""
        return {**os.environ, "VITALSTREAM_CONFIG": str(self.config_path)}

    async def cleanup(self) -> None:
        """Delete the scenario's topics and its folder's bulky state."""
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers())
        await admin.start()
        try:
            existing = set(await admin.list_topics())
            doomed = [t for t in existing if t.startswith(self.prefix)]
            if doomed:
                with contextlib.suppress(Exception):
                    await admin.delete_topics(doomed)
        finally:
            await admin.close()
        shutil.rmtree(self.folder / "anonymiser", ignore_errors=True)


def stamp() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
