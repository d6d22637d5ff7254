"""The HTTP client against a small real HTTP server playing ThingSpeak's answers."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from connectors.errors import (
    ChannelAccessError,
    ChannelNotFoundError,
    ChannelResponseError,
    ChannelUnavailableError,
)
from connectors.thingspeak.client import RetryPolicy, ThingSpeakClient
from vitalstream.config import ChannelSettings, ConnectorSettings

KEY = "SECRETREADKEY0042"
CHANNEL = ChannelSettings(id=42)
FAST = RetryPolicy(attempts=3, initial_s=0.01, max_wait_s=0.05)
START = datetime(2021, 7, 19, 18, 0, tzinfo=UTC)
FEED = {
    "channel": {"id": 42, "field1": "BPM"},
    "feeds": [{"created_at": "2021-07-19T19:07:36Z", "entry_id": 1, "field1": "72"}],
}


@dataclass
class Script:
    """Answers the server gives, one per request; the last one repeats."""

    answers: list[Callable[[], web.StreamResponse]] = field(default_factory=list)
    delays: list[float] = field(default_factory=list)
    queries: list[dict[str, str]] = field(default_factory=list)


@pytest.fixture
async def server() -> AsyncIterator[tuple[TestServer, Script]]:
    script = Script()

    async def feeds(request: web.Request) -> web.StreamResponse:
        n = len(script.queries)
        script.queries.append(dict(request.query))
        if n < len(script.delays):
            await asyncio.sleep(script.delays[n])
        return script.answers[min(n, len(script.answers) - 1)]()

    app = web.Application()
    app.router.add_get("/channels/{id}/feeds.json", feeds)
    test_server = TestServer(app, host="127.0.0.1")
    await test_server.start_server()
    yield test_server, script
    await test_server.close()


def client_for(test_server: TestServer, timeout_s: float = 2.0) -> ThingSpeakClient:
    settings = ConnectorSettings(
        base_url=str(test_server.make_url("")).rstrip("/"),
        request_timeout_s=timeout_s,
        concurrency=4,
    )
    return ThingSpeakClient(settings, retry=FAST)


def ok() -> web.Response:
    return web.json_response(FEED)


def refused() -> web.Response:
    return web.Response(status=400, text="-1", content_type="application/json")


@pytest.fixture(autouse=True)
def read_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("THINGSPEAK_READ_KEY_42", KEY)


async def test_reads_a_feed_with_the_window_and_key(
    server: tuple[TestServer, Script],
) -> None:
    test_server, script = server
    script.answers = [ok]
    async with client_for(test_server) as client:
        page = await client.read_feed(
            CHANNEL, START, datetime(2021, 7, 20, tzinfo=UTC), 8000
        )
    assert [e.entry_id for e in page.entries] == [1]
    assert script.queries == [
        {
            "start": "2021-07-19 18:00:00",
            "end": "2021-07-20 00:00:00",
            "results": "8000",
            "timezone": "UTC",
            "api_key": KEY,
        }
    ]


async def test_open_ended_read_of_a_public_channel_sends_no_key(
    server: tuple[TestServer, Script], monkeypatch: pytest.MonkeyPatch
) -> None:
    test_server, script = server
    monkeypatch.delenv("THINGSPEAK_READ_KEY_42")
    script.answers = [ok]
    async with client_for(test_server) as client:
        await client.read_feed(CHANNEL, START, None, 100)
    assert "api_key" not in script.queries[0]
    assert "end" not in script.queries[0]


async def test_wrong_key_is_one_clear_error_without_the_key(
    server: tuple[TestServer, Script], caplog: pytest.LogCaptureFixture
) -> None:
    test_server, script = server
    script.answers = [refused]
    caplog.set_level(logging.DEBUG)
    async with client_for(test_server) as client:
        with pytest.raises(ChannelAccessError) as caught:
            await client.read_feed(CHANNEL, START, None, 100)
    message = str(caught.value)
    assert message.startswith("channel 42: read refused (HTTP 400, body -1)")
    assert "THINGSPEAK_READ_KEY_42" in message
    assert KEY not in message
    assert len(script.queries) == 1  # not retried here: the source retries slowly
    # The client side's log lines (the test server's access log is not ours).
    ours = [
        r.getMessage()
        for r in caplog.records
        if r.name.split(".")[0] in ("connectors", "httpx", "httpcore")
    ]
    assert not [line for line in ours if KEY in line]
    assert any("api_key=***" in line for line in ours)  # httpx's request line


async def test_not_found(server: tuple[TestServer, Script]) -> None:
    test_server, script = server
    script.answers = [lambda: web.Response(status=404, text="Not Found")]
    async with client_for(test_server) as client:
        with pytest.raises(ChannelNotFoundError, match=r"channel 42: .*404"):
            await client.read_feed(CHANNEL, START, None, 100)


@pytest.mark.parametrize("status", [500, 502, 503, 429])
async def test_transient_status_is_retried_then_succeeds(
    server: tuple[TestServer, Script], status: int
) -> None:
    test_server, script = server
    failing = lambda: web.Response(status=status, headers={"Retry-After": "0"})  # noqa: E731
    script.answers = [failing, failing, ok]
    async with client_for(test_server) as client:
        page = await client.read_feed(CHANNEL, START, None, 100)
    assert len(page.entries) == 1
    assert len(script.queries) == 3


async def test_timeout_is_retried_then_succeeds(
    server: tuple[TestServer, Script],
) -> None:
    test_server, script = server
    script.answers = [ok]
    script.delays = [1.0]
    async with client_for(test_server, timeout_s=0.2) as client:
        page = await client.read_feed(CHANNEL, START, None, 100)
    assert len(page.entries) == 1
    assert len(script.queries) == 2


async def test_retries_run_out_with_a_clear_error_without_the_key(
    server: tuple[TestServer, Script],
) -> None:
    test_server, script = server
    script.answers = [lambda: web.Response(status=503)]
    async with client_for(test_server) as client:
        with pytest.raises(ChannelUnavailableError) as caught:
            await client.read_feed(CHANNEL, START, None, 100)
    assert "HTTP 503" in str(caught.value)
    assert "after 3 attempts" in str(caught.value)
    assert KEY not in str(caught.value)
    # No chained exception carries a URL into a traceback.
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__


async def test_connection_refused_names_no_key() -> None:
    settings = ConnectorSettings(base_url="http://127.0.0.1:9", request_timeout_s=1)
    async with ThingSpeakClient(settings, retry=FAST) as client:
        with pytest.raises(ChannelUnavailableError, match="ConnectError") as caught:
            await client.read_feed(CHANNEL, START, None, 100)
    assert KEY not in str(caught.value)


async def test_body_that_is_not_json_is_an_error_with_context(
    server: tuple[TestServer, Script],
) -> None:
    test_server, script = server
    script.answers = [lambda: web.Response(text="<html>maintenance</html>")]
    async with client_for(test_server) as client:
        with pytest.raises(ChannelResponseError, match=r"not JSON.*maintenance"):
            await client.read_feed(CHANNEL, START, None, 100)


async def test_json_of_the_wrong_shape_is_an_error_with_context(
    server: tuple[TestServer, Script],
) -> None:
    test_server, script = server
    script.answers = [lambda: web.json_response({"feeds": [{"entry_id": "x"}]})]
    async with client_for(test_server) as client:
        with pytest.raises(ChannelResponseError, match=r"feeds\[0\]"):
            await client.read_feed(CHANNEL, START, None, 100)


async def test_concurrency_is_bounded() -> None:
    in_flight = peak = 0

    async def slow(request: web.Request) -> web.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.05)
        in_flight -= 1
        return web.json_response(FEED)

    app = web.Application()
    app.router.add_get("/channels/{id}/feeds.json", slow)
    slow_server = TestServer(app, host="127.0.0.1")
    await slow_server.start_server()
    try:
        async with client_for(slow_server) as client:  # concurrency=4
            await asyncio.gather(
                *(client.read_feed(CHANNEL, START, None, 1) for _ in range(12))
            )
    finally:
        await slow_server.close()
    assert peak == 4


async def drip(request: web.Request) -> web.StreamResponse:
    """A slow-loris answer: the whole feed, one byte every 0.2 s."""
    body = orjson.dumps(FEED)
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    response.content_length = len(body)
    await response.prepare(request)
    for position in range(len(body)):
        await response.write(body[position : position + 1])
        await asyncio.sleep(0.2)
    await response.write_eof()
    return response


async def test_an_answer_dripped_byte_by_byte_meets_the_request_deadline() -> None:
    # Each byte comes well within request_timeout_s, so only a deadline on
    # the whole request ends it; then it is retried like a timeout.
    app = web.Application()
    app.router.add_get("/channels/{id}/feeds.json", drip)
    slow_server = TestServer(app, host="127.0.0.1")
    await slow_server.start_server()
    settings = ConnectorSettings(
        base_url=str(slow_server.make_url("")).rstrip("/"),
        request_timeout_s=3,
        request_deadline_s=1,
    )
    began = time.monotonic()
    try:
        async with ThingSpeakClient(settings, retry=FAST) as client:
            with pytest.raises(ChannelUnavailableError) as caught:
                await client.read_feed(CHANNEL, START, None, 100)
    finally:
        await slow_server.close()
    message = str(caught.value)
    assert "did not finish within its 1s deadline" in message
    assert "connector.request_deadline_s" in message
    assert "after 3 attempts" in message
    assert KEY not in message
    # Three attempts of 1 s and the backoff, not the 20 s of the whole drip.
    assert time.monotonic() - began < len(orjson.dumps(FEED)) * 0.2 / 2


@pytest.mark.parametrize("declared", [True, False], ids=["length", "chunked"])
async def test_an_answer_over_the_size_limit_is_not_read_to_its_end(
    declared: bool,
) -> None:
    # 40 MB of feed, announced by Content-Length or sent chunked without
    # one: the client stops once it passes the limit, with the limit named.
    chunk, chunks = b" " * 65_536, 640
    sent = 0

    async def huge(request: web.Request) -> web.StreamResponse:
        nonlocal sent
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        if declared:
            response.content_length = len(chunk) * chunks
        await response.prepare(request)
        for _ in range(chunks):
            await response.write(chunk)
            sent += len(chunk)
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_get("/channels/{id}/feeds.json", huge)
    huge_server = TestServer(app, host="127.0.0.1")
    await huge_server.start_server()
    settings = ConnectorSettings(
        base_url=str(huge_server.make_url("")).rstrip("/"),
        max_response_bytes=256 * 1024,
    )
    try:
        async with ThingSpeakClient(settings, retry=FAST) as client:
            with pytest.raises(ChannelResponseError) as caught:
                await client.read_feed(CHANNEL, START, None, 100)
    finally:
        await huge_server.close()
    message = str(caught.value)
    assert "answered more than 262,144 bytes" in message
    assert "connector.max_response_bytes" in message
    assert sent < len(chunk) * chunks // 4


@pytest.mark.parametrize(
    ("status", "content_type", "error"),
    [
        (200, "text/html", "not JSON"),
        (418, "text/plain", "HTTP 418"),
    ],
)
async def test_an_answer_echoing_the_url_does_not_leak_the_key(
    monkeypatch: pytest.MonkeyPatch,
    status: int,
    content_type: str,
    error: str,
) -> None:
    key = "SECRET+KEY/123"
    monkeypatch.setenv("THINGSPEAK_READ_KEY_42", key)

    async def echo(request: web.Request) -> web.Response:
        # The URL as sent (percent-encoded), then the key as a form would
        # spell it and as it was given.
        text = f"<p>bad request {request.path_qs}</p> {key}"
        return web.Response(status=status, text=text, content_type=content_type)

    app = web.Application()
    app.router.add_get("/channels/{id}/feeds.json", echo)
    echo_server = TestServer(app, host="127.0.0.1")
    await echo_server.start_server()
    try:
        async with client_for(echo_server) as client:
            with pytest.raises(ChannelResponseError) as caught:
                await client.read_feed(CHANNEL, START, None, 100)
    finally:
        await echo_server.close()
    message = str(caught.value)
    assert error in message
    assert "api_key=***" in message  # the excerpt reached the parameter
    for secret in ("SECRET", "secret", "%2F123", "KEY/123"):
        assert secret not in message


@pytest.mark.parametrize("retry_after", ["\u00b2", "\u0663", "1e3", "-1"])
async def test_a_retry_after_that_is_no_ascii_number_falls_back_to_the_backoff(
    server: tuple[TestServer, Script], retry_after: str
) -> None:
    # str.isdigit() holds for "²" (a latin-1 header byte), which float() refuses.
    test_server, script = server
    failing = lambda: web.Response(status=503, headers={"Retry-After": retry_after})  # noqa: E731
    script.answers = [failing, ok]
    async with client_for(test_server) as client:
        page = await client.read_feed(CHANNEL, START, None, 100)
    assert len(page.entries) == 1
    assert len(script.queries) == 2


@pytest.mark.parametrize(
    ("location", "shown"),
    [
        (
            "https://api.thingspeak.com/channels/42/feeds.json?api_key=SECRETREADKEY0042",
            "https://api.thingspeak.com/channels/42/feeds.json",
        ),
        ("/v2/channels/42/feeds.json?results=100#top", "/v2/channels/42/feeds.json"),
        (
            "https://user:SECRETREADKEY0042@proxy.example:8443/in",
            "https://proxy.example:8443/in",
        ),
        (None, "nowhere (no Location header)"),
    ],
)
async def test_a_redirect_says_where_to_without_query_or_key(
    server: tuple[TestServer, Script], location: str | None, shown: str
) -> None:
    test_server, script = server
    headers = {} if location is None else {"Location": location}
    script.answers = [lambda: web.Response(status=301, headers=headers)]
    async with client_for(test_server) as client:
        with pytest.raises(ChannelResponseError) as caught:
            await client.read_feed(CHANNEL, START, None, 100)
    message = str(caught.value)
    assert f"answered HTTP 301, a redirect to {shown}: not followed" in message
    assert KEY not in message
    assert "?" not in message
    assert len(script.queries) == 1  # not followed
