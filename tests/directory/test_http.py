"""Directory HTTP routes, served by aiohttp on loopback, backed by the simulator."""

from __future__ import annotations

import asyncio

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from pbx_bridge.directory.http import directory_routes

from .conftest import EnvFactory


async def client_for(env) -> TestClient:
    app = web.Application()
    app.router.add_routes(directory_routes(env.directory))
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    return client


async def test_stats_and_sync_on_demand(caller_env: EnvFactory) -> None:
    env = await caller_env("v1-head")
    client = await client_for(env)
    try:
        r = await client.get("/directory/stats")
        assert r.status == 503
        c = env.sim.db.add_client("Http Co")
        env.sim.db.add_contact(c, "Hal Http", phone="4125555101", email="h@http.example")
        r = await client.post("/directory/sync")
        body = await r.json()
        assert r.status == 200 and body["source"] == "v1" and body["coalesced"] is False
        assert env.directory.index.lookup("+14125555101").display == "Http Co - Hal Http"
        r = await client.get("/directory/stats")
        assert r.status == 200 and (await r.json())["numbers"] == body["numbers"]
        assert (await client.get("/directory/sync")).status == 405
        env.sim.down = True
        r = await client.post("/directory/sync")
        assert r.status == 502 and "ITFlow" in (await r.json())["error"]
        assert env.directory.index.lookup("+14125555101").found  # last good kept
    finally:
        await client.close()


async def test_concurrent_sync_requests_share_one_sync(caller_env: EnvFactory) -> None:
    env = await caller_env("v1-v25")
    client = await client_for(env)
    try:
        env.sim.delay = 0.3  # each ITFlow request is slow: the first sync is still running
        first, second = await asyncio.gather(client.post("/directory/sync"), client.post("/directory/sync"))
        bodies = [await first.json(), await second.json()]
        assert first.status == second.status == 200
        assert sorted(b["coalesced"] for b in bodies) == [False, True]
        assert env.directory.syncs == 1
    finally:
        await client.close()
