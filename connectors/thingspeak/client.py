"""Reading ThingSpeak feeds over HTTP: one shared client, bounded, with retries.

Read keys travel as the ``api_key`` query parameter, so URLs are secret:
no exception text here carries a URL or a key, quoted answers are redacted
(:mod:`.redact`), and so are httpx's own request log lines (see
:class:`RedactApiKeys`).
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp
import httpx
import orjson
from httpx_aiohttp import AiohttpTransport
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)

from connectors.errors import (
    ChannelAccessError,
    ChannelNotFoundError,
    ChannelResponseError,
    ChannelUnavailableError,
    TransientHTTPError,
)
from connectors.thingspeak.parse import FeedPage, parse_feed
from connectors.thingspeak.redact import redact, redacted_excerpt
from vitalstream.config import ChannelSettings, ConnectorSettings, channel_read_key

logger = logging.getLogger(__name__)

_TRANSIENT_STATUS = {408, 425, 429, 500, 502, 503, 504}


class RedactApiKeys(logging.Filter):
    """Blanks ``api_key=...`` in log records (httpx logs every request URL)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "apikey=" in message.lower().replace("_", ""):
            record.msg = redact(message, None)
            record.args = None
        return True


def _install_redaction() -> None:
    for name in ("httpx", "httpcore"):
        target = logging.getLogger(name)
        if not any(isinstance(f, RedactApiKeys) for f in target.filters):
            target.addFilter(RedactApiKeys())


_install_redaction()


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how patiently a transient failure is retried."""

    attempts: int = 6
    initial_s: float = 0.5
    max_wait_s: float = 30.0


class _TransientError(TransientHTTPError):
    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ThingSpeakClient:
    """Feed reads for many channels on one ``httpx.AsyncClient``.

    At most ``settings.concurrency`` requests are in flight; a channel
    waiting out a backoff does not hold a slot. Use as an async context
    manager, or call :meth:`aclose`.
    """

    def __init__(
        self,
        settings: ConnectorSettings,
        *,
        retry: RetryPolicy | None = None,
    ) -> None:
        self._settings = settings
        self._retry = retry or RetryPolicy()
        self._backoff = wait_exponential_jitter(
            multiplier=self._retry.initial_s,
            max=self._retry.max_wait_s,
            jitter=self._retry.initial_s,
        )
        self._slots = asyncio.Semaphore(settings.concurrency)
        limits = httpx.Limits(
            max_connections=settings.concurrency,
            max_keepalive_connections=settings.concurrency,
        )
        self._http = httpx.AsyncClient(
            base_url=settings.base_url,
            timeout=settings.request_timeout_s,
            # httpx's API over aiohttp's connection pool: httpcore's pool
            # costs ~4x the CPU per poll (bench/README.md, connector polls).
            transport=AiohttpTransport(limits=limits),
            limits=limits,
            headers={"Accept": "application/json"},
            follow_redirects=False,
        )

    async def __aenter__(self) -> ThingSpeakClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def read_feed(
        self,
        channel: ChannelSettings,
        start: datetime,
        end: datetime | None,
        results: int,
    ) -> FeedPage:
        """Read at most ``results`` entries from ``start`` to ``end`` (or now).

        Raises :class:`ChannelAccessError` (wrong or missing key),
        :class:`ChannelNotFoundError`, :class:`ChannelUnavailableError` (retries
        exhausted) or :class:`ChannelResponseError` (not a feed).
        """
        params: dict[str, str | int] = {
            "start": _query_time(start),
            "results": results,
            # Start and end are read in this zone; the answer's times carry it.
            "timezone": "UTC",
        }
        if end is not None:
            params["end"] = _query_time(end)
        key = channel_read_key(channel)
        if key is not None:
            params["api_key"] = key

        retrying = AsyncRetrying(
            retry=retry_if_exception_type(_TransientError),
            stop=stop_after_attempt(self._retry.attempts),
            wait=self._wait,
            before_sleep=lambda state: _log_retry(channel.id, state),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    doc = await self._get_json(channel, params, key)
        except _TransientError as exc:
            raise ChannelUnavailableError(
                channel.id, f"{exc} (after {self._retry.attempts} attempts)"
            ) from None
        return parse_feed(doc, channel.id)

    async def _get_json(
        self, channel: ChannelSettings, params: dict[str, str | int], key: str | None
    ) -> Any:
        path = f"/channels/{channel.id}/feeds.json"
        deadline = self._settings.request_deadline_s
        async with self._slots:
            try:
                # httpx's timeouts hold per read; this one holds for the whole
                # request, answer included (a server can drip its answer).
                async with (
                    asyncio.timeout(deadline),
                    self._http.stream("GET", path, params=params) as response,
                ):
                    body = await self._read_body(channel, path, response)
            except TimeoutError:
                raise _TransientError(
                    f"GET {path} did not finish within its {deadline:g}s deadline "
                    "(connector.request_deadline_s)"
                ) from None
            except httpx.TimeoutException as exc:
                if isinstance(exc.__cause__, aiohttp.ClientConnectorError):
                    # httpx-aiohttp maps a refused connection to ConnectTimeout.
                    raise _TransientError(
                        f"GET {path} failed: ConnectError: {redact(str(exc), key)}"
                    ) from None
                raise _TransientError(
                    f"GET {path} timed out after {self._settings.request_timeout_s}s"
                ) from None
            except httpx.TransportError as exc:
                raise _TransientError(
                    f"GET {path} failed: {type(exc).__name__}: {redact(str(exc), key)}"
                ) from None
        return _decode(channel, path, response, body, key)

    async def _read_body(
        self, channel: ChannelSettings, path: str, response: httpx.Response
    ) -> bytes:
        # Streamed, and given up on past the limit: a 400 MB answer must not
        # become 400 MB (and more, decoded) in memory.
        limit = self._settings.max_response_bytes
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise _too_large(channel, path, f"declares {int(declared):,} bytes", limit)
        body = bytearray()
        async for chunk in response.aiter_bytes():
            body += chunk
            if len(body) > limit:
                raise _too_large(channel, path, "goes on", limit)
        return bytes(body)

    def _wait(self, state: RetryCallState) -> float:
        backoff = self._backoff(state)
        failure = state.outcome.exception() if state.outcome else None
        after = getattr(failure, "retry_after", None)
        if isinstance(after, float):
            return min(max(backoff, after), self._retry.max_wait_s)
        return backoff


def _too_large(
    channel: ChannelSettings, path: str, how: str, limit: int
) -> ChannelResponseError:
    return ChannelResponseError(
        channel.id,
        f"GET {path} answered more than {limit:,} bytes (its answer {how}); "
        "not read further (connector.max_response_bytes)",
    )


def _decode(
    channel: ChannelSettings,
    path: str,
    response: httpx.Response,
    body: bytes,
    key: str | None,
) -> Any:
    status = response.status_code
    if status == 200:
        try:
            doc = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise ChannelResponseError(
                channel.id,
                f"GET {path} answered 200 with a body that is not JSON "
                f"({response.headers.get('content-type', 'no content type')}): "
                f"{redacted_excerpt(body, key)}",
            ) from None
        if doc == -1:
            raise _access_error(channel, status)
        return doc
    if (status == 400 and body.strip() == b"-1") or status in (401, 403):
        raise _access_error(channel, status)
    if status == 404:
        raise ChannelNotFoundError(
            channel.id, f"GET {path} answered 404: no such channel"
        )
    if status in _TRANSIENT_STATUS or status >= 500:
        raise _TransientError(
            f"GET {path} answered HTTP {status}",
            retry_after=_retry_after(response.headers.get("retry-after")),
        )
    if response.is_redirect:
        raise ChannelResponseError(
            channel.id,
            f"GET {path} answered HTTP {status}, a redirect to "
            f"{_redirect_target(response, key)}: not followed; check that "
            "connector.base_url names where the API is",
        )
    raise ChannelResponseError(
        channel.id, f"GET {path} answered HTTP {status}: {redacted_excerpt(body, key)}"
    )


def _redirect_target(response: httpx.Response, key: str | None) -> str:
    # Where the Location points, without its query or fragment (which would
    # carry the read key back) or any user name and password.
    location = response.headers.get("location")
    if not location:
        return "nowhere (no Location header)"
    try:
        url = httpx.URL(location)
    except httpx.InvalidURL:
        return "an unreadable Location"
    origin = ""
    if url.host:
        port = f":{url.port}" if url.port else ""
        origin = f"{url.scheme}://{url.host}{port}"
    return redact(f"{origin}{url.path}", key)


def _access_error(channel: ChannelSettings, status: int) -> ChannelAccessError:
    variable = channel.read_key_env or f"THINGSPEAK_READ_KEY_{channel.id}"
    return ChannelAccessError(
        channel.id,
        f"read refused (HTTP {status}, body -1): the channel is private and its "
        f"read key is missing or wrong; put the key in the environment variable "
        f"{variable}",
    )


def _log_retry(channel: int, state: RetryCallState) -> None:
    failure = state.outcome.exception() if state.outcome else None
    wait = state.next_action.sleep if state.next_action else 0.0
    logger.warning(
        "channel %s: %s; attempt %d, retrying in %.1fs",
        channel,
        failure,
        state.attempt_number,
        wait,
    )


def _retry_after(value: str | None) -> float | None:
    # RFC 9110 section 10.2.3: delay-seconds or an HTTP date; only the first
    # is honoured, a date falls back to the backoff.
    # str.isdigit() is true of "²" too, which float() refuses.
    if value and re.fullmatch(r"[0-9]{1,6}", value.strip()):
        return float(value.strip())
    return None


def _query_time(moment: datetime) -> str:
    # ThingSpeak's documented form: YYYY-MM-DD HH:NN:SS.
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
