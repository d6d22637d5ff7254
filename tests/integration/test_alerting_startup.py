"""`vitalstream alert` and `decrypt` before Kafka answers: one line, or a clean stop.

No broker is needed: the point is a Kafka address that refuses, or one that
accepts connections and never answers.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from schemas.keyring import Keyring
from tests.conftest import PROJECT_ROOT

VITALSTREAM = str(PROJECT_ROOT / ".venv" / "bin" / "vitalstream")


def config(tmp_path: Path, bootstrap: str) -> Path:
    keyring = tmp_path / "keyring.json"
    if not keyring.exists():
        Keyring.generate(keyring)
    path = tmp_path / "v.toml"
    path.write_text(
        f'[kafka]\nbootstrap_servers = "{bootstrap}"\n'
        f'[keys]\nkeyring = "{keyring}"\n'
        f'[alerting]\naudit_log = "{tmp_path / "audit.log"}"\n'
    )
    return path


def start(path: Path, *command: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [VITALSTREAM, "--config", str(path), *command],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("VITALSTREAM_")},
    )


@pytest.fixture
def silent_broker() -> Iterator[socket.socket]:
    """A listening socket that accepts connections and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield listener


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize("command", [["alert"], ["decrypt"]])
def test_unreachable_kafka_is_one_line_naming_it(
    tmp_path: Path, command: list[str]
) -> None:
    address = f"127.0.0.1:{closed_port()}"
    process = start(config(tmp_path, address), *command)
    _, stderr = process.communicate(timeout=120)

    assert process.returncode == 2
    assert "Traceback" not in stderr
    assert (
        stderr.strip()
        .splitlines()[-1]
        .startswith(f"vitalstream: cannot reach Kafka at {address}")
    )


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_during_start_up_stops_alert_cleanly(
    tmp_path: Path, silent_broker: socket.socket, signum: signal.Signals
) -> None:
    port = silent_broker.getsockname()[1]
    process = start(config(tmp_path, f"127.0.0.1:{port}"), "alert")
    connection, _ = silent_broker.accept()  # it is bootstrapping now
    with connection:
        process.send_signal(signum)
        _, stderr = process.communicate(timeout=120)

    assert "Traceback" not in stderr
    assert process.returncode == 0, stderr
    assert "stopped before Kafka answered" in stderr
