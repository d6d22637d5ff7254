"""Injected faults reach the client as the connector will meet them."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import orjson
import pytest

from connectors.tsserver import (
    FaultPlan,
    FleetConfig,
    RunningServer,
    build_store,
    serve_in_process,
)

FIRST, SECOND = 900_001, 900_002


@pytest.fixture
async def server() -> AsyncIterator[RunningServer]:
    store = build_store(fleet=FleetConfig(size=2, seed=5, entries_per_channel=50))
    async with serve_in_process(store, faults=FaultPlan(), control=True) as running:
        yield running


@pytest.fixture
async def client(server: RunningServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.url, timeout=5.0) as client:
        yield client


def feeds(channel: int) -> str:
    return f"/channels/{channel}/feeds.json"


async def test_error_for_a_number_of_times_then_normal(
    server: RunningServer, client: httpx.AsyncClient
) -> None:
    server.faults.error(500, times=2)

    statuses = [(await client.get(feeds(FIRST))).status_code for _ in range(3)]

    assert statuses == [500, 500, 200]
    assert server.faults.applied["500"] == 2


async def test_error_body_is_the_api_error_object(
    server: RunningServer, client: httpx.AsyncClient
) -> None:
    server.faults.error(503, times=1)

    body = (await client.get(feeds(FIRST))).json()

    assert body["status"] == "503"
    assert body["error"]["error_code"] == "error_service_unavailable"


async def test_rate_limit_only_for_the_named_channel(
    server: RunningServer, client: httpx.AsyncClient
) -> None:
    server.faults.rate_limit(retry_after=7, channels={SECOND})

    limited = await client.get(feeds(SECOND))
    other = await client.get(feeds(FIRST))

    assert (limited.status_code, limited.headers["retry-after"]) == (429, "7")
    assert other.status_code == 200


async def test_hang_outlasts_a_client_timeout(
    server: RunningServer, client: httpx.AsyncClient
) -> None:
    server.faults.hang(1.0, times=1)

    with pytest.raises(httpx.ReadTimeout):
        await client.get(feeds(FIRST), timeout=0.1)


async def test_truncated_body_is_not_json(
    server: RunningServer, client: httpx.AsyncClient
) -> None:
    server.faults.truncate(times=1)

    answer = await client.get(feeds(FIRST))

    assert answer.status_code == 200
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(answer.content)


async def test_disconnect_mid_body_is_a_protocol_error(
    server: RunningServer, client: httpx.AsyncClient
) -> None:
    server.faults.disconnect(times=1)

    with pytest.raises(httpx.RemoteProtocolError):
        await client.get(feeds(FIRST))
    assert (await client.get(feeds(FIRST))).status_code == 200


async def test_any_fixed_answer(
    server: RunningServer, client: httpx.AsyncClient
) -> None:
    server.faults.respond(200, b"<html>gateway</html>", content_type="text/html")

    answer = await client.get(feeds(FIRST))

    assert answer.text == "<html>gateway</html>"
    server.faults.clear()
    assert (await client.get(feeds(FIRST))).json()["channel"]["id"] == FIRST


async def test_rate_picks_a_share_of_requests(
    server: RunningServer, client: httpx.AsyncClient
) -> None:
    server.faults.error(502, rate=0.5)

    statuses = [(await client.get(feeds(FIRST))).status_code for _ in range(40)]

    assert 5 < statuses.count(502) < 35
    assert set(statuses) == {200, 502}


async def test_control_endpoint_replaces_the_plan(
    server: RunningServer, client: httpx.AsyncClient
) -> None:
    wanted = FaultPlan()
    wanted.error(500, channels={FIRST}, times=1)

    stored = await client.put("/_tsserver/faults", content=wanted.to_json())
    first = await client.get(feeds(FIRST))
    status = (await client.get("/_tsserver/status")).json()

    assert stored.status_code == 200
    assert first.status_code == 500
    assert status == {"channels": 2, "faults": {"500": 1}}


def test_plan_round_trips_through_json() -> None:
    plan = FaultPlan()
    plan.rate_limit(retry_after=3, channels={1, 2}, times=4)
    plan.hang(1.5)
    plan.respond(200, b"\xff not json")

    again = FaultPlan.from_json(plan.to_json())

    assert again.rules == plan.rules


def test_bad_plans_are_refused() -> None:
    with pytest.raises(ValueError, match="times"):
        FaultPlan().error(500, times=0)
    with pytest.raises(ValueError, match="not a fault plan"):
        FaultPlan.from_json(b"[1]")
    with pytest.raises(ValueError, match="unknown fault kind"):
        FaultPlan.from_json(b'{"rules": [{"kind": "explode"}]}')
