"""HTTP caller-name lookup over real HTTP on loopback (aiohttp server, httpx client)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from aiohttp import web

from pbx_bridge.callerid_http import cid_routes
from tests.agi.test_cid import Directory, contact


@pytest.fixture
async def client() -> AsyncIterator:
    runners: list[web.AppRunner] = []

    async def start(directory: Directory) -> httpx.AsyncClient:
        app = web.Application()
        app.router.add_routes(cid_routes(directory, None))
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        port = runner.addresses[0][1]
        return httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}")

    yield start
    for r in runners:
        await r.cleanup()


async def test_plain_body_is_exactly_the_name(client) -> None:
    name = 'ACME "Corp" \\ $ {x} – Zoë 👩‍💻'
    d = Directory({"4125550101": contact(name)})
    c = await client(d)
    r = await c.get("/cid", params={"number": "4125550101"})
    assert r.status_code == 200
    assert r.content == name.encode()          # no trailing newline
    assert r.headers["content-type"].startswith("text/plain")
    assert "charset=utf-8" in r.headers["content-type"]
    assert r.headers["cache-control"] == "no-store"


async def test_no_match_answers_the_number_itself(client) -> None:
    c = await client(Directory({}))
    r = await c.get("/cid", params={"number": "+1 (555) 999-0000"})
    assert r.status_code == 200 and r.text == "+1 (555) 999-0000"


async def test_failure_answers_the_number_and_missing_number_is_empty(client) -> None:
    c = await client(Directory({}, fail=True))
    assert (await c.get("/cid", params={"number": "15559990000"})).text == "15559990000"
    r = await c.get("/cid")
    assert r.status_code == 400 and r.content == b""


async def test_control_characters_in_the_number_never_reach_the_body(client) -> None:
    c = await client(Directory({}))
    r = await c.get("/cid", params={"number": "555\r\n0100"})
    assert r.text == "5550100"


async def test_json_variant_carries_the_contract(client) -> None:
    d = Directory({"4125550101": contact("ACME Corp - Alice")})
    c = await client(d)
    r = await c.get("/cid.json", params={"number": "4125550101", "live": "no"})
    body = r.json()
    assert body["match"] == "contact" and body["name"] == "ACME Corp - Alice"
    assert body["variables"] == {"ITFLOW_MATCH": "contact", "ITFLOW_NAME": "ACME Corp - Alice",
                                 "ITFLOW_CLIENT_ID": "1", "ITFLOW_CLIENT_NAME": "ACME Corp",
                                 "ITFLOW_CONTACT_ID": "7"}
    assert d.asked == [("4125550101", False)]
    none = (await c.get("/cid.json", params={"number": "1"})).json()
    assert none["match"] == "none" and none["variables"]["ITFLOW_MATCH"] == "none"


async def test_agi_lines_variant(client) -> None:
    d = Directory({"4125550101": contact('Evil\nITFLOW_MATCH=none "x"')})
    c = await client(d)
    body = (await c.get("/cid.agi", params={"number": "4125550101"})).text
    lines = body.split("\n")
    assert lines == ["ITFLOW_MATCH=contact", 'ITFLOW_NAME=EvilITFLOW_MATCH=none "x"', "ITFLOW_CLIENT_ID=1",
                     "ITFLOW_CLIENT_NAME=ACME Corp", "ITFLOW_CONTACT_ID=7"]
    assert (await c.get("/cid.agi")).status_code == 400
