"""`vitalstream thingspeak serve` as a process: keys, control, clean stop."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from connectors.tsserver import FaultPlan, ServerStartError, start_server_process
from tests.conftest import RECORDED_CHANNEL


def read_keys(path: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in path.read_text().splitlines())
    return {name: value for name, value in pairs}


def test_private_fleet_keys_file_and_control(tmp_path: Path) -> None:
    keys_file = tmp_path / "keys.env"
    env = dict(os.environ, THINGSPEAK_READ_KEY_900002="FROMTHEENVIRON01")
    options = ("--fleet", "3", "--private", "--keys-file", str(keys_file), "--control")

    with start_server_process(*options, env=env) as server:
        keys = read_keys(keys_file)
        key = keys["THINGSPEAK_READ_KEY_900001"]
        allowed = httpx.get(f"{server.url}/channels/900001/feeds.json?api_key={key}")
        refused = httpx.get(f"{server.url}/channels/900001/feeds.json?api_key=nope")
        from_env = httpx.get(
            f"{server.url}/channels/900002/feeds/last.json?api_key=FROMTHEENVIRON01"
        )
        plan = FaultPlan()
        plan.error(503, times=1)
        server.set_faults(plan)
        failed = httpx.get(f"{server.url}/channels/900001/feeds.json?api_key={key}")
        code = server.stop()

    assert stat.S_IMODE(keys_file.stat().st_mode) == 0o600
    assert len(keys) == 3
    assert len(key) == 16
    assert allowed.status_code == 200
    assert (refused.status_code, refused.content) == (400, b"-1")
    assert from_env.status_code == 200
    assert failed.status_code == 503
    assert code == 0


def test_recorded_folder_served_by_the_command() -> None:
    with start_server_process("--data", str(RECORDED_CHANNEL)) as server:
        feed = httpx.get(f"{server.url}/channels/1448708/feeds.json?results=8000")

    assert len(feed.json()["feeds"]) == 149


def test_nothing_to_serve_stops_at_start() -> None:
    with pytest.raises(ServerStartError, match="exited with status 2"):
        start_server_process()


def test_port_in_use_is_named_not_a_traceback() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [
                sys.executable,
                "-c",
                "from vitalstream.cli import main; main()",
                "thingspeak",
                "serve",
                "--fleet",
                "1",
                "--port",
                str(port),
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )

    assert result.returncode == 2
    assert "'--host/--port'" in result.stderr
    assert f"127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr
