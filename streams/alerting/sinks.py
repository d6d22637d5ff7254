"""Where alerts go besides the alerts topic: the operator log and a webhook.

Both sit on the authorised side and see the details in the clear. They run
after the Kafka transaction that wrote the alert has committed, so an
aborted attempt never pages anyone; a crash between the commit and the POST
loses that POST (the alerts topic is the record of what was raised), and a
re-run after a crash before the commit may POST again, which receivers
de-duplicate on ``alert_id``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

import httpx
from tenacity import (
    AsyncRetrying,
    RetryError,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
)

from streams.alerting.engine import AlertEvent
from streams.alerting.record import Alert

logger = logging.getLogger(__name__)
operator_log = logging.getLogger("vitalstream.alerts")

_QUEUE_LIMIT = 10_000


def alert_line(alert: Alert, details: Mapping[str, float]) -> str:
    """One readable line for the operator, values included."""
    shown = " ".join(f"{name}={_number(value)}" for name, value in details.items())
    partial = " (partial: no " + ", ".join(alert.missing) + ")" if alert.missing else ""
    hint = f" [{alert.hint}]" if alert.hint else ""
    return (
        f"{alert.state.upper()} {alert.kind} {alert.condition} "
        f"severity={alert.severity} subject={alert.subject} at={alert.at}"
        f"{hint} {shown}{partial}"
    ).rstrip()


def webhook_body(alert: Alert, event: AlertEvent) -> dict[str, Any]:
    """The JSON a care system receives: the alert with its details opened."""
    return {
        "alert_id": alert.alert_id,
        "subject": alert.subject,
        "kind": alert.kind,
        "condition": alert.condition,
        "severity": alert.severity,
        "state": alert.state,
        "at": alert.at,
        "partial": alert.partial,
        "missing": list(alert.missing),
        "hint": alert.hint,
        "details": dict(event.details),
    }


def _number(value: float) -> str:
    # One way for every value: at most two decimals, no trailing zeros, so
    # 3283.0 and 3283.004 both read 3283 (they read 3283 and 3283.00).
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


class Webhook:
    """POSTs alerts from a queue, retried with exponential backoff.

    An HTTP or transport error is retried; a delivery that still fails after
    ``attempts``, or fails with any other error, is counted and logged (the
    URL's origin only: its path and query may hold a token); the consumer
    and the delivery task go on. A full queue (the receiver down for long) drops the
    newest POST with a warning rather than holding up the alerts topic.
    """

    def __init__(self, url: str, *, timeout_s: float, attempts: int) -> None:
        self.url = url
        self.attempts = attempts
        self.sent = 0
        self.failed = 0
        self._client = httpx.AsyncClient(timeout=timeout_s)
        self._hidden = _HiddenUrl(url)
        logging.getLogger("httpx").addFilter(self._hidden)
        self._queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(_QUEUE_LIMIT)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._deliver_all(), name="alert-webhook")

    def submit(self, body: dict[str, Any]) -> None:
        try:
            self._queue.put_nowait(body)
        except asyncio.QueueFull:
            self.failed += 1
            logger.warning("webhook queue full: alert %s not posted", body["alert_id"])

    async def close(self, drain_s: float = 10.0) -> None:
        """Deliver what is queued (for up to ``drain_s``), then stop."""
        try:
            await asyncio.wait_for(self._queue.join(), drain_s)
        except TimeoutError:
            logger.warning("webhook: %d alerts not posted at stop", self._queue.qsize())
        if self._task is not None:
            self._task.cancel()
        await self._client.aclose()
        logging.getLogger("httpx").removeFilter(self._hidden)
        logger.info(
            "webhook %s: %d alerts posted, %d not",
            self._hidden.shown,
            self.sent,
            self.failed,
        )

    async def _deliver_all(self) -> None:
        while True:
            body = await self._queue.get()
            try:
                await self._deliver(body)
            except Exception as exc:
                # Not an HTTP error (a port httpx cannot connect to raised
                # OverflowError): not worth retrying, and no reason for the
                # task to end and every later alert to go unposted.
                self.failed += 1
                logger.warning(
                    "webhook: alert %s not delivered to %s: %s",
                    body["alert_id"],
                    self._hidden.shown,
                    _describe(exc),
                )
            finally:
                self._queue.task_done()

    async def _deliver(self, body: dict[str, Any]) -> None:
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.attempts),
            wait=wait_exponential(multiplier=0.5, max=30),
            retry=retry_if_exception_type(httpx.HTTPError),
        )
        try:
            async for attempt in retrying:
                with attempt:
                    response = await self._client.post(self.url, json=body)
                    response.raise_for_status()
        except RetryError as exc:
            self.failed += 1
            cause = exc.last_attempt.exception()
            logger.warning(
                "webhook: alert %s not delivered to %s after %d attempts: %s",
                body["alert_id"],
                self._hidden.shown,
                self.attempts,
                _describe(cause),
            )
            return
        self.sent += 1


def _describe(error: BaseException | None) -> str:
    # Type names and status codes only: an error's text may hold the URL.
    if isinstance(error, httpx.HTTPStatusError):
        return f"HTTP {error.response.status_code}"
    if isinstance(error, BaseExceptionGroup):
        return "+".join(_describe(inner) for inner in error.exceptions)
    return type(error).__name__ if error is not None else "unknown"


class _HiddenUrl(logging.Filter):
    # httpx logs every request URL at INFO, and a webhook URL is often the
    # receiver's credential (a token in its path or query): show the origin.
    def __init__(self, url: str) -> None:
        super().__init__()
        parsed = httpx.URL(url)
        self._urls = {url, str(parsed)}
        self.shown = f"{parsed.scheme}://{parsed.netloc.decode('ascii')}/***"

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        for url in self._urls:
            if url in message:
                record.msg, record.args = message.replace(url, self.shown), None
                message = record.msg
        return True
