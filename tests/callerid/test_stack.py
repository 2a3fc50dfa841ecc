"""The whole caller-ID path against the ITFlow simulator over real HTTP: FastAGI and HTTP answers agree,
for every simulator profile, and survive ITFlow going away."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.agi.peer import Peer, env_block, parse_args
from tests.callerid.stack import cid_stack

PROFILES = ["v1-head", "v1-v25", "legacy-2022"]


async def fastagi_vars(port: int, number: str) -> dict[str, str]:
    peer = await Peer.connect(port)
    await peer.send(env_block(callerid=number, args=("201",)))
    await peer.answer_all()
    return {w[2]: w[3] for w in map(parse_args, peer.commands)}


@pytest.mark.parametrize("profile", PROFILES)
async def test_fastagi_and_http_agree(itflow_sim: Any, tmp_path: Path, profile: str) -> None:
    sim = await itflow_sim(profile)
    client = sim.db.add_client("Stack Co")
    sim.db.add_contact(client, 'Sam "S" Stack', phone="5554091001", phone_country_code="1")
    async with cid_stack(sim, tmp_path) as stack, httpx.AsyncClient(base_url=stack.http_base) as http:
        got = await fastagi_vars(stack.server.port, "+1 (555) 409-1001")
        assert got["ITFLOW_MATCH"] in ("contact", "legacy")
        assert "Sam 'S' Stack" in got["CALLERID(name)"]  # the FreePBX-safe rule: " becomes '
        assert got["CALLERID(name)"] == (await stack.door("+15554091001")).display

        plain = await http.get("/cid", params={"number": "15554091001"})
        assert plain.text == got["CALLERID(name)"]
        body = (await http.get("/cid.json", params={"number": "15554091001"})).json()
        assert body["variables"]["ITFLOW_NAME"] == got["ITFLOW_NAME"]

        none = await fastagi_vars(stack.server.port, "15559990000")
        assert "CALLERID(name)" not in none and none["ITFLOW_MATCH"] == "none"
        assert (await http.get("/cid", params={"number": "15559990000"})).text == "15559990000"


async def test_known_number_answers_with_itflow_down(itflow_sim: Any, tmp_path: Path) -> None:
    sim = await itflow_sim("v1-head")
    async with cid_stack(sim, tmp_path) as stack:
        await sim.stop()
        got = await fastagi_vars(stack.server.port, "4125550101")
        assert got["ITFLOW_MATCH"] == "contact" and got["ITFLOW_CLIENT_ID"] != ""
        assert "Alice" in got["CALLERID(name)"]
        unknown = await fastagi_vars(stack.server.port, "15559990001")
        assert unknown["ITFLOW_MATCH"] == "none"
