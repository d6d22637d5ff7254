"""An httpx transport that sends through an aiohttp session (benchmark only).

Measures what the connector would gain by keeping httpx's API and
replacing only its HTTP/1.1 machinery (httpcore's pool over anyio) with
aiohttp's. Whole bodies are read at once: feed answers are small.
"""

from __future__ import annotations

import aiohttp
import httpx


class AiohttpTransport(httpx.AsyncBaseTransport):
    """httpx requests sent with ``session``; the session is the caller's."""

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self._session = session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        async with self._session.request(
            request.method,
            str(request.url),
            headers=list(request.headers.multi_items()),
            data=body or None,
            allow_redirects=False,
        ) as answer:
            content = await answer.read()
            headers = [
                (name, value)
                for name, value in answer.headers.items()
                # aiohttp has already undone any transfer or content coding.
                if name.lower() not in ("content-encoding", "transfer-encoding")
            ]
            return httpx.Response(answer.status, headers=headers, content=content)
