"""FastAGI server against a raw socket peer: every panoramisk 1.4 defect, routing, timeouts, draining."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from pbx_bridge.agi.server import FastAgiServer
from pbx_bridge.agi.session import AgiSession
from pbx_bridge.metrics import Metrics
from tests.agi.peer import HANG_GUARD, Peer, env_block

from .conftest import Factory, settle


async def test_route_gets_env_args_query_and_commands_pair_with_replies(make_server: Factory) -> None:
    seen: dict[str, Any] = {}

    async def route(s: AgiSession) -> None:
        seen.update(args=s.args, query=s.query, callerid=s.callerid, route=s.route)
        await s.set_variable("ITFLOW_MATCH", "contact")
        seen["name"] = await s.get_variable("CALLERID(name)")
        seen["missing"] = await s.get_variable("NOPE")

    metrics = Metrics()
    server = await make_server({"cid": route}, metrics=metrics)
    peer = await Peer.connect(server.port)
    await peer.send(env_block("cid?mode=full&x=", args=("201", "opt two")))
    assert await peer.read_command() == 'SET VARIABLE ITFLOW_MATCH "contact"'
    await peer.send("200 result=1\n")
    assert await peer.read_command() == "GET VARIABLE CALLERID(name)"
    await peer.send("200 result=1 (ACME (HQ) - Alice)\n")
    assert await peer.read_command() == "GET VARIABLE NOPE"
    await peer.send("200 result=0\n")
    assert await peer.wait_closed_by_server()
    await settle(server)
    assert seen == {
        "args": ["201", "opt two"],
        "query": {"mode": "full", "x": ""},
        "callerid": "15551230001",
        "route": "cid",
        "name": "ACME (HQ) - Alice",
        "missing": None,
    }
    assert (
        metrics.registry.get_sample_value("pbx_bridge_agi_sessions_total", {"route": "cid", "result": "ok"})
        == 1
    )


async def test_early_close_before_environment_ends_the_session(make_server: Factory) -> None:
    called = []
    server = await make_server({"cid": lambda s: called.append(s)})
    for partial in (b"", b"agi_network: yes\nagi_network_script: cid\n", b"agi_network: y"):
        peer = await Peer.connect(server.port)
        await peer.send(partial)
        peer.close()
    await settle(server)
    assert server.stats["early_close"] == 3
    assert called == []
    # Still serving afterwards.
    assert server.health().ok


async def test_stalled_environment_times_out_and_closes(make_server: Factory) -> None:
    server = await make_server({"cid": lambda s: None}, env_timeout=0.2)
    peer = await Peer.connect(server.port)
    await peer.send(b"agi_network: yes\n")
    assert await peer.wait_closed_by_server()
    await settle(server)
    assert server.stats["timeouts"] == 1


async def test_sync_route_and_unknown_route(make_server: Factory) -> None:
    called: list[str] = []

    def sync_route(s: AgiSession) -> None:
        called.append(s.query.get("account", ""))

    server = await make_server({"balance": sync_route})
    peer = await Peer.connect(server.port)
    await peer.send(env_block("balance?account=42"))
    assert await peer.wait_closed_by_server()
    peer2 = await Peer.connect(server.port)
    await peer2.send(env_block("nonexistent"))
    assert await peer2.wait_closed_by_server()
    await settle(server)
    assert called == ["42"]
    assert server.stats["no_route"] == 1


async def test_failing_route_does_not_stop_the_server(make_server: Factory) -> None:
    async def broken(s: AgiSession) -> None:
        raise RuntimeError("bug")

    server = await make_server({"cid": broken})
    for _ in range(3):
        peer = await Peer.connect(server.port)
        await peer.send(env_block())
        assert await peer.wait_closed_by_server()
    await settle(server)
    assert server.stats["errors"] == 3 and server.health().ok


async def test_stop_drains_then_cancels_at_deadline(make_server: Factory) -> None:
    started = asyncio.Event()
    cancelled = asyncio.Event()

    async def slow(s: AgiSession) -> None:
        started.set()
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    server = await make_server({"cid": slow})
    peer = await Peer.connect(server.port)
    await peer.send(env_block())
    async with asyncio.timeout(HANG_GUARD):
        await started.wait()
    loop = asyncio.get_running_loop()
    await server.stop(loop.time() + 0.2)
    assert cancelled.is_set()
    assert not server.health().ok
    with pytest.raises(OSError):
        await Peer.connect(server.port)


async def test_stop_lets_a_running_session_finish(make_server: Factory) -> None:
    done: list[str] = []

    async def route(s: AgiSession) -> None:
        await s.verbose("one")
        done.append("finished")

    server = await make_server({"cid": route})
    peer = await Peer.connect(server.port)
    await peer.send(env_block())
    await peer.read_command()
    loop = asyncio.get_running_loop()
    stopper = asyncio.create_task(server.stop(loop.time() + HANG_GUARD))
    await asyncio.sleep(0.05)
    await peer.send("200 result=1\n")
    await stopper
    assert done == ["finished"]


async def test_silent_peer_times_out_on_the_environment(make_server: Factory) -> None:
    server = await make_server({"cid": lambda s: None}, env_timeout=0.2)
    assert not server.health().data["active_sessions"]
    peer = await Peer.connect(server.port)
    assert await peer.wait_closed_by_server()
    assert await server.wait_idle(HANG_GUARD)
    assert server.stats["timeouts"] == 1


async def test_health_reports_listening_and_counts(make_server: Factory) -> None:
    server = FastAgiServer("127.0.0.1", 0, {})
    assert not server.health().ok
    server = await make_server({"cid": lambda s: None})
    health = server.health()
    assert health.ok and health.detail == f"127.0.0.1:{server.port}"
    assert {"active_sessions", "sessions", "malformed_lines", "hangups"} <= set(health.data)
