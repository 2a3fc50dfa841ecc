"""Hostile ITFlow names through every caller-name door of the real stack (ITFlow simulator over HTTP ->
directory sync -> caller ID -> FastAGI ``cid``, HTTP ``/cid`` ``/cid.json``, and the classic
``agi/itflow-cid`` script as a subprocess asking ``/cid.agi``): none carries a character that changes how
Asterisk splits FreePBX's application arguments, and each stays readable. A slow ITFlow never holds a door.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from pbx_bridge.callerid.settings import CallerIdSettings
from tests.agi.peer import Peer, env_block, parse_args
from tests.callerid.http_face import raw_get
from tests.callerid.stack import cid_stack
from tests.callerid.test_itflow_cid_script import run_script

# The characters of docs/callerid.md's rule, spelled out here on purpose (not imported from the code).
SPLITTERS = set('()[]{},:;|"\\')

FULLWIDTH = "x\uff09\uff1aSet\uff08DB\uff08t/i\uff09=1"  # x）：Set（DB（t/i）=1, within 40 bytes
HOSTILE = [  # (ITFlow contact name, what the callee sees)
    ("x):Set(DB(t/inj)=PWNED", "Safe Co - x -Set DB t/inj =PWNED"),
    ("a,b", "Safe Co - a b"),
    ("(x)", "Safe Co - x"),
    ('"q"', "Safe Co - 'q'"),
    ("${EXTEN}", "Safe Co - $EXTEN"),
    ('O\'Brien "Bob" Müller', "Safe Co - O'Brien 'Bob' Müller"),
    # fullwidth look-alikes: harmless as they are (not ASCII), folded to ASCII only by charset=ascii
    (FULLWIDTH, f"Safe Co - {FULLWIDTH}"),
]


def number(i: int) -> str:
    return f"555409{2000 + i}"


async def fastagi_vars(port: int, caller: str) -> dict[str, str]:
    peer = await Peer.connect(port)
    await peer.send(env_block(callerid=caller, args=("201",)))
    await peer.answer_all()
    return {w[2]: w[3] for w in map(parse_args, peer.commands)}


async def script_vars(url: str, caller: str) -> dict[str, str]:
    cmds = await run_script(env_block(callerid=caller), f"url={url}")
    return {w[2]: w[3] for w in map(parse_args, cmds) if w[:2] == ["SET", "VARIABLE"]}


async def test_hostile_names_through_every_door(itflow_sim: Any, tmp_path: Path) -> None:
    sim = await itflow_sim("v1-head")
    safe_co = sim.db.add_client("Safe Co")
    for i, (name, _) in enumerate(HOSTILE):
        sim.db.add_contact(safe_co, name, phone=number(i), phone_country_code="1")
    hostile_co = sim.db.add_client("Evil (EU), Inc: x|y")
    sim.db.add_contact(hostile_co, "Eve", phone=number(99), phone_country_code="1")

    async with cid_stack(sim, tmp_path) as stack, httpx.AsyncClient(base_url=stack.http_base) as http:
        port = int(stack.http_base.rsplit(":", 1)[1])
        for i, (_, shown) in enumerate(HOSTILE):
            caller = "+1" + number(i)
            agi = await fastagi_vars(stack.server.port, caller)
            classic = await script_vars(f"{stack.http_base}/cid.agi", caller)
            status, plain = await raw_get(port, f"//cid?number=%2B1{number(i)}")
            _, folded = await raw_get(port, f"//cid?number=%2B1{number(i)}&charset=ascii")  # Superfecta
            data = json.loads((await http.get("/cid.json", params={"number": caller})).content)
            names = {
                "fastagi CALLERID(name)": agi["CALLERID(name)"],
                "fastagi ITFLOW_NAME": agi["ITFLOW_NAME"],
                "classic CALLERID(name)": classic["CALLERID(name)"],
                "classic ITFLOW_NAME": classic["ITFLOW_NAME"],
                "http /cid": plain.decode(),
                "http /cid.json name": data["name"],
                "http /cid.json ITFLOW_NAME": data["variables"]["ITFLOW_NAME"],
            }
            assert status == 200
            assert names == dict.fromkeys(names, shown), caller
            for door, name in {**names, "http /cid charset=ascii": folded.decode()}.items():
                assert not SPLITTERS & set(name), (door, name)
            assert folded.decode().isascii() and folded.startswith(b"Safe Co - ")

        caller = "+1" + number(99)
        agi = await fastagi_vars(stack.server.port, caller)
        classic = await script_vars(f"{stack.http_base}/cid.agi", caller)
        data = json.loads((await http.get("/cid.json", params={"number": caller})).content)
        shown_client = "Evil EU Inc- x/y"
        assert agi["ITFLOW_CLIENT_NAME"] == classic["ITFLOW_CLIENT_NAME"] == shown_client
        assert data["client_name"] == data["variables"]["ITFLOW_CLIENT_NAME"] == shown_client
        assert agi["CALLERID(name)"] == "Evil EU Inc- x/y - Eve"


@pytest.mark.parametrize("door", ["http", "fastagi"])
async def test_a_hung_itflow_never_holds_a_door(itflow_sim: Any, tmp_path: Path, door: str) -> None:
    sim = await itflow_sim("v1-head")
    async with cid_stack(sim, tmp_path, callerid=CallerIdSettings(live_budget=0.2)) as stack:
        sim.delay = 120.0  # ITFlow accepts the live lookup and does not answer (interrupted at teardown)
        unknown = "+15554093999"
        if door == "http":
            port = int(stack.http_base.rsplit(":", 1)[1])
            assert await raw_get(port, f"//cid?number=%2B{unknown[1:]}") == (200, unknown.encode())
        else:
            got = await fastagi_vars(stack.server.port, unknown)
            assert got["ITFLOW_MATCH"] == "none" and "CALLERID(name)" not in got
        # Answered while ITFlow still holds the live request: the door did not wait for ITFlow.
        assert stack.callerid.inflight == 1


async def test_overload_answers_the_number_without_asking_itflow(itflow_sim: Any, tmp_path: Path) -> None:
    sim = await itflow_sim("v1-head")
    settings = CallerIdSettings(live_budget=0.2, max_inflight=1)
    async with cid_stack(sim, tmp_path, callerid=settings) as stack:
        port = int(stack.http_base.rsplit(":", 1)[1])
        sim.delay = 120.0
        assert await raw_get(port, "//cid?number=%2B15554093998") == (200, b"+15554093998")
        # One live lookup already hangs on ITFlow: the next unknown caller is not queued behind it.
        assert await raw_get(port, "//cid?number=%2B15554093997") == (200, b"+15554093997")
        assert await raw_get(port, "//cid?number=%2B15554093997&miss=empty") == (200, b"")
        assert stack.callerid.inflight == 1
