"""A webhook URL often is the receiver's credential: it stays out of the log."""

from __future__ import annotations

import logging

import pytest
from aiohttp import web

from schemas.keyring import Keyring
from streams.alerting.record import seal_alert
from streams.alerting.sinks import Webhook, webhook_body
from tests.unit.streams.alerting.test_sinks import EVENT

TOKEN = "T0AAAA/B0BBBB/S3CR3TS3CR3T"


async def test_httpx_request_lines_do_not_show_the_webhook_path(
    caplog: pytest.LogCaptureFixture,
) -> None:
    received: list[str] = []

    async def handle(request: web.Request) -> web.Response:
        received.append(request.path)
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post(f"/services/{TOKEN}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    caplog.set_level(logging.INFO, logger="httpx")
    try:
        hook = Webhook(
            f"http://127.0.0.1:{port}/services/{TOKEN}", timeout_s=2, attempts=1
        )
        hook.start()
        hook.submit(webhook_body(seal_alert(EVENT, Keyring.new()), EVENT))
        await hook.close(drain_s=30)
    finally:
        await runner.cleanup()

    assert hook.sent == 1
    lines = [r.getMessage() for r in caplog.records if r.name == "httpx"]
    assert lines  # httpx did log the request
    assert all("S3CR3T" not in line for line in lines)
    assert any(f"127.0.0.1:{port}" in line for line in lines)
