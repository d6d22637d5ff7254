"""`vitalstream alert` as a process: keyring problems said at once, webhook fed."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from schemas.keyring import Keyring
from tests.conftest import PROJECT_ROOT
from tests.integration.alerting_support import (
    prepare,
    produce,
    reading,
    run_consumer,
    write_config,
)
from vitalstream.config import Settings

pytestmark = pytest.mark.kafka

VITALSTREAM = str(PROJECT_ROOT / ".venv" / "bin" / "vitalstream")


def run_alert(config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [VITALSTREAM, "--config", str(config), "alert", "--idle-exit", "3"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={k: v for k, v in os.environ.items() if k != "VITALSTREAM_KEYS__KEYRING"},
    )


def settings_for(make_settings: Callable[..., Settings], **alerting: Any) -> Settings:
    return make_settings(
        alerting={"group_id": f"test-alerting-{uuid.uuid4().hex[:8]}", **alerting}
    )


async def test_no_keyring_stops_at_once_naming_the_file(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    settings = settings_for(make_settings)
    missing = tmp_path / "nowhere" / "keyring.json"
    result = run_alert(write_config(settings, tmp_path / "v.toml", missing))
    assert result.returncode == 2
    assert f"no keyring at {missing}" in result.stderr


async def test_wrong_keyring_process_says_so_in_its_log(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    settings = settings_for(make_settings, keyring_check_records=3)
    right = Keyring.generate(tmp_path / "right.json")
    Keyring.generate(tmp_path / "wrong.json")
    await prepare(settings)
    await produce(settings, right, [reading("w", n, spo2=88) for n in range(1, 6)])

    result = run_alert(
        write_config(settings, tmp_path / "v.toml", tmp_path / "wrong.json")
    )

    assert result.returncode == 0, result.stderr
    assert (
        f"keyring does not match the anonymised topic: key id '{right.primary_id}' "
        "unknown" in result.stderr
    )
    assert "unseal_failures=5" in result.stderr
    assert "dead_letters=5" in result.stderr
    # Nothing was unsealed, so no value can have reached the log.
    assert "spo2=" not in result.stderr
    assert "88.0" not in result.stderr


async def test_alerts_reach_the_webhook_with_details_open(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    received: list[dict[str, Any]] = []

    async def handle(request: web.Request) -> web.Response:
        received.append(await request.json())
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hook", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        port = runner.addresses[0][1]
        settings = settings_for(
            make_settings, webhook_url=f"http://127.0.0.1:{port}/hook"
        )
        keyring = Keyring.generate(tmp_path / "keyring.json")
        await prepare(settings)
        await produce(
            settings, keyring, [reading("w", n, spo2=88) for n in range(1, 5)]
        )
        await run_consumer(settings, keyring, idle_exit_s=3)
    finally:
        await runner.cleanup()

    (body,) = received
    assert body["kind"] == "clinical"
    assert body["state"] == "raised"
    assert body["details"]["spo2"] == 88.0
    assert body["subject"] == keyring.pseudonymiser.pseudonym("device", "w")
