"""The tsserver's access log (`--access-log`) never writes a read key."""

from __future__ import annotations

import logging

import httpx
import pytest

from connectors.tsserver import ChannelStore, load_recordings, serve_in_process
from tests.conftest import RECORDED_CHANNEL

KEY = "K3YK3YK3YK3YK3YK"


@pytest.mark.parametrize("parameter", ["api_key", "key", "apikey"])
async def test_access_log_shows_the_path_without_the_key(
    caplog: pytest.LogCaptureFixture, parameter: str
) -> None:
    store = ChannelStore(load_recordings(RECORDED_CHANNEL / "feeds.json"))
    channel = store.get(1448708)
    assert channel is not None
    channel.read_key = KEY
    caplog.set_level(logging.INFO, logger="aiohttp.access")

    async with (
        serve_in_process(store, access_log=True) as server,
        httpx.AsyncClient(base_url=server.url) as client,
    ):
        answer = await client.get(
            "/channels/1448708/feeds.json", params={parameter: KEY, "results": 1}
        )

    assert answer.status_code == 200
    lines = [r.getMessage() for r in caplog.records if r.name == "aiohttp.access"]
    assert len(lines) == 1
    assert "/channels/1448708/feeds.json" in lines[0]
    assert KEY not in lines[0]
