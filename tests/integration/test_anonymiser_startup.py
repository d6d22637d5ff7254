"""`vitalstream anonymise` refuses to start on a bad keyring, policy or topics."""

from __future__ import annotations

import socket
import subprocess
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integration.anonymiser_support import VITALSTREAM, Deployment, deploy
from vitalstream.config import Settings

pytestmark = pytest.mark.kafka


@pytest.fixture
async def deployment(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> Deployment:
    settings = make_settings(
        anonymiser={"group_id": f"test-anon-{uuid.uuid4().hex[:10]}"}
    )
    return await deploy(settings, tmp_path)


def _start(config: Path, *env: tuple[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [VITALSTREAM, "--config", str(config), "anonymise", "--web-port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"PATH": "/usr/bin:/bin", **dict(env)},
    )


def test_missing_keyring_stops_start_up(deployment: Deployment) -> None:
    deployment.keyring_path.unlink()
    result = _start(deployment.config_path)
    assert result.returncode == 2
    assert "no keyring at" in result.stderr
    assert "vitalstream keys generate" in result.stderr


def test_keyring_readable_by_others_stops_start_up(deployment: Deployment) -> None:
    deployment.keyring_path.chmod(0o644)
    result = _start(deployment.config_path)
    assert result.returncode == 2
    assert "open to group or others" in result.stderr
    # Nothing of the key material is shown.
    assert '"key"' not in result.stderr


def test_bad_policy_stops_start_up(deployment: Deployment, tmp_path: Path) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text('version = 1\n[fields.heart_rate]\nactions = ["shred"]\n')
    config = deployment.config_path
    config.write_text(
        config.read_text().replace(
            "[anonymiser]\n", f'[anonymiser]\npolicy = "{policy}"\n'
        )
    )
    result = _start(config)
    assert result.returncode == 2
    assert "policy" in result.stderr
    assert "heart_rate" in result.stderr
    assert "shred" in result.stderr


def test_policy_for_a_field_no_channel_carries(
    deployment: Deployment, tmp_path: Path
) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text('version = 1\n[fields.shoe_size]\nactions = ["encrypt"]\n')
    config = deployment.config_path
    config.write_text(
        config.read_text().replace(
            "[anonymiser]\n", f'[anonymiser]\npolicy = "{policy}"\n'
        )
    )
    result = _start(config)
    assert result.returncode == 2
    assert "shoe_size" in result.stderr


def test_missing_topics_stop_start_up(deployment: Deployment) -> None:
    config = deployment.config_path
    raw = deployment.settings.topics.raw.name
    config.write_text(config.read_text().replace(f'"{raw}"', f'"{raw}.absent"'))
    result = _start(config)
    assert result.returncode == 2
    assert f"{raw}.absent" in result.stderr
    assert "vitalstream topics create" in result.stderr


def test_a_web_port_in_use_stops_start_up_naming_the_setting(
    deployment: Deployment,
) -> None:
    # Faust bound its web port late and crashed with a traceback: what a
    # second worker from the same configuration did.
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [
                VITALSTREAM,
                "--config",
                str(deployment.config_path),
                "anonymise",
                "--web-port",
                str(port),
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env={"PATH": "/usr/bin:/bin"},
        )
    assert result.returncode == 2
    assert "bad setting 'anonymiser.web_port'" in result.stderr
    assert f"port {port}" in result.stderr
    assert "Traceback" not in result.stderr
