"""Operator log line and the webhook, against a real local HTTP server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import pytest
from aiohttp import web

from schemas.keyring import Keyring
from streams.alerting.engine import AlertEvent
from streams.alerting.record import seal_alert
from streams.alerting.sinks import Webhook, alert_line, webhook_body

EVENT = AlertEvent(
    subject="sbj_x",
    kind="sensor_fault",
    condition="body_temp_implausible",
    severity="notice",
    state="raised",
    at="2021-07-19T19:05:03Z",
    details={"body_temp": -127.0},
    hint="probe disconnected",
)


def test_operator_line_shows_what_and_the_values() -> None:
    line = alert_line(seal_alert(EVENT, Keyring.new()), EVENT.details)
    assert line == (
        "RAISED sensor_fault body_temp_implausible severity=notice subject=sbj_x "
        "at=2021-07-19T19:05:03Z [probe disconnected] body_temp=-127"
    )


class Receiver:
    """A care system that fails the first ``failures`` POSTs with 503."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.received: list[dict[str, Any]] = []
        self.attempts = 0

    async def handle(self, request: web.Request) -> web.Response:
        self.attempts += 1
        if self.attempts <= self.failures:
            return web.Response(status=503)
        self.received.append(await request.json())
        return web.Response(status=204)


@pytest.fixture
async def serve() -> AsyncIterator[Any]:
    runners: list[web.AppRunner] = []

    async def start(receiver: Receiver) -> str:
        app = web.Application()
        app.router.add_post("/alerts", receiver.handle)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        port = runner.addresses[0][1]
        return f"http://127.0.0.1:{port}/alerts"

    yield start
    for runner in runners:
        await runner.cleanup()


async def test_webhook_retries_until_delivered(serve: Any) -> None:
    receiver = Receiver(failures=2)
    hook = Webhook(await serve(receiver), timeout_s=2, attempts=4)
    hook.start()
    alert = seal_alert(EVENT, Keyring.new())
    hook.submit(webhook_body(alert, EVENT))
    await hook.close(drain_s=30)

    assert receiver.attempts == 3
    assert hook.sent == 1
    assert hook.failed == 0
    (body,) = receiver.received
    assert body["alert_id"] == alert.alert_id
    assert body["details"] == {"body_temp": -127.0}


async def test_webhook_gives_up_counts_and_goes_on(serve: Any) -> None:
    receiver = Receiver(failures=100)
    hook = Webhook(await serve(receiver), timeout_s=2, attempts=2)
    hook.start()
    alert = seal_alert(EVENT, Keyring.new())
    hook.submit(webhook_body(alert, EVENT))
    hook.submit(webhook_body(alert, EVENT))
    await hook.close(drain_s=30)

    assert receiver.attempts == 4
    assert hook.failed == 2
    assert hook.sent == 0


async def test_unreachable_webhook_is_counted() -> None:
    hook = Webhook("http://127.0.0.1:9/alerts", timeout_s=1, attempts=2)
    hook.start()
    hook.submit(webhook_body(seal_alert(EVENT, Keyring.new()), EVENT))
    await asyncio.wait_for(hook.close(drain_s=30), 40)
    assert hook.failed == 1


async def test_a_post_that_raises_no_http_error_is_counted_and_delivery_goes_on(
    serve: Any, caplog: pytest.LogCaptureFixture
) -> None:
    # Port 99999 passes a loose pattern; httpx raises OverflowError (inside an
    # exception group), not an httpx.HTTPError, on the first POST.
    broken = Webhook(
        "http://127.0.0.1:99999/hook?token=S3CR3T", timeout_s=1, attempts=3
    )
    broken.start()
    alert = seal_alert(EVENT, Keyring.new())
    broken.submit(webhook_body(alert, EVENT))
    broken.submit(webhook_body(alert, EVENT))
    await asyncio.wait_for(broken.close(drain_s=10), 20)

    assert broken.failed == 2
    assert broken.sent == 0
    assert "S3CR3T" not in caplog.text
    assert "/hook" not in caplog.text
    assert "OverflowError" in caplog.text

    # The same task delivers on after an error that is no httpx error.
    receiver = Receiver(failures=0)
    hook = Webhook(await serve(receiver), timeout_s=2, attempts=1)
    calls = 0
    real_post = hook._client.post

    async def first_post_explodes(url: str, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("a bug in a transport")
        return await real_post(url, **kwargs)

    hook._client.post = first_post_explodes  # type: ignore[method-assign]
    hook.start()
    hook.submit(webhook_body(alert, EVENT))
    hook.submit(webhook_body(alert, EVENT))
    await hook.close(drain_s=30)
    assert (hook.failed, hook.sent) == (1, 1)
    assert len(receiver.received) == 1


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (3283.0, "3283"),
        (3283.004, "3283"),
        (3283.5, "3283.5"),
        (31.8125, "31.81"),
        (36.85, "36.85"),
        (-127.0, "-127"),
        (-0.001, "0"),
        (88.0, "88"),
    ],
)
def test_operator_line_writes_every_number_one_way(value: float, shown: str) -> None:
    event = replace(EVENT, details={"silent_s": value})
    line = alert_line(seal_alert(event, Keyring.new()), event.details)
    assert line.endswith(f" silent_s={shown}")
