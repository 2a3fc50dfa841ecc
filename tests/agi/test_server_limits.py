"""FastAGI exhaustion guards on real loopback sockets: allow-list, the connection cap and who it pushes
out, junk senders closed, and the log kept to a few lines whatever the flood."""

from __future__ import annotations

import asyncio
import logging

import pytest

from pbx_bridge.agi.session import AgiSession
from tests.agi.conftest import Factory
from tests.agi.peer import HANG_GUARD, Peer, env_block
from tests.support.waits import wait_until


async def _named(s: AgiSession) -> None:
    await s.set_variable("CALLERID(name)", f"name of {s.callerid}")


async def _real_request(port: int, number: str) -> list[str]:
    peer = await Peer.connect(port)
    await peer.send(env_block("cid", callerid=number))
    commands = await peer.answer_all()
    peer.close()
    return commands


async def _closed_by_server(peer: Peer) -> bool:
    try:
        return await peer.wait_closed_by_server()
    except ConnectionResetError:
        return True


async def test_a_peer_outside_fastagi_allow_is_dropped_before_anything_runs(make_server: Factory) -> None:
    ran: list[str] = []
    server = await make_server({"cid": lambda s: ran.append(s.callerid)}, allow=["192.0.2.0/24"])
    peer = await Peer.connect(server.port)
    await peer.send(env_block("cid"))
    assert await _closed_by_server(peer)
    assert ran == [] and server.stats["not_allowed"] == 1 and server.stats["sessions"] == 0


async def test_at_the_cap_the_oldest_silent_connection_makes_room_for_a_real_request(
    make_server: Factory,
) -> None:
    server = await make_server({"cid": _named}, max_connections=4)
    silent = [await Peer.connect(server.port) for _ in range(4)]
    await silent[3].send(b"agi_network: yes\n")  # a slow one: half an environment
    await wait_until(
        lambda: server.health().data["open_connections"] == 4,
        timeout=1,
        what="the server to have the four connections",
        detail=lambda: str(server.health().data),
    )
    assert await _real_request(server.port, "15551230001") == [
        'SET VARIABLE CALLERID(name) "name of 15551230001"'
    ]
    assert await _closed_by_server(silent[0])  # the oldest was pushed out
    assert server.stats["evicted"] == 1 and server.stats["refused_full"] == 0
    for p in silent:
        p.close()


async def test_at_the_cap_with_only_real_sessions_a_newcomer_is_refused_and_they_finish(
    make_server: Factory,
) -> None:
    release = asyncio.Event()

    async def slow(s: AgiSession) -> None:
        await release.wait()
        await _named(s)

    server = await make_server({"cid": slow}, max_connections=2)
    peers = [await Peer.connect(server.port) for _ in range(2)]
    for p in peers:
        await p.send(env_block("cid"))
    await wait_until(
        lambda: server.health().data["active_sessions"] == 2 and not server._unready,
        timeout=1,
        what="the two sessions to start",
        detail=lambda: str(server.health().data),
    )
    extra = await Peer.connect(server.port)
    await extra.send(env_block("cid"))
    assert await _closed_by_server(extra)
    release.set()
    for p in peers:
        assert await p.answer_all() == ['SET VARIABLE CALLERID(name) "name of 15551230001"']
    assert server.stats["refused_full"] == 1


async def test_100000_junk_lines_close_the_sender_and_log_a_few_lines(
    make_server: Factory, caplog: pytest.LogCaptureFixture
) -> None:
    server = await make_server({"cid": _named})
    caplog.set_level(logging.WARNING, logger="pbx_bridge.agi.server")
    junk = await Peer.connect(server.port)
    sent = 0
    try:
        async with asyncio.timeout(HANG_GUARD):
            for _ in range(100):  # 100 x 1,000 lines
                junk.writer.write(b"this is not agi\n" * 1000)
                await junk.writer.drain()
                sent += 1000
    except (ConnectionError, TimeoutError):
        pass
    assert await _closed_by_server(junk)
    # Still serving the real thing.
    assert await _real_request(server.port, "15551230002") == [
        'SET VARIABLE CALLERID(name) "name of 15551230002"'
    ]
    lines = [r for r in caplog.records if r.name == "pbx_bridge.agi.server"]
    assert server.stats["junk_closed"] == 1
    assert len(lines) <= 4, [r.getMessage() for r in lines]


async def test_a_flood_of_slow_connections_is_logged_as_a_summary_not_a_line_each(
    make_server: Factory, caplog: pytest.LogCaptureFixture
) -> None:
    server = await make_server({"cid": _named}, max_connections=8, log_interval=0.2)
    caplog.set_level(logging.WARNING, logger="pbx_bridge.agi.server")
    peers = [await Peer.connect(server.port) for _ in range(200)]
    assert await _real_request(server.port, "15551230003") == [
        'SET VARIABLE CALLERID(name) "name of 15551230003"'
    ]
    await wait_until(
        lambda: any("more like it" in r.getMessage() for r in caplog.records),
        timeout=5,
        what="the summary line",
        poll=0.05,
    )
    for p in peers:
        p.close()
    evictions = [r.getMessage() for r in caplog.records if "connection cap" in r.getMessage()]
    assert server.stats["evicted"] >= 190
    assert 1 <= len(evictions) <= 3, evictions
    assert any("more like it" in m for m in evictions)


async def test_at_the_cap_sessions_sitting_on_a_quick_command_make_room_for_a_real_request(
    make_server: Factory,
) -> None:
    # A flood that sends whole environments and then never answers would otherwise hold every slot for
    # command_timeout: the real request would be refused. SET VARIABLE is answered at once by Asterisk.
    server = await make_server({"cid": _named}, max_connections=3, stall_grace=0.0, command_timeout=60)
    sitting = [await Peer.connect(server.port) for _ in range(3)]
    for p in sitting:
        await p.send(env_block("cid", callerid="15550000000"))
        assert await p.read_command() == 'SET VARIABLE CALLERID(name) "name of 15550000000"'  # unanswered
    answers = [await _real_request(server.port, f"1555123000{n}") for n in range(3)]
    assert answers == [[f'SET VARIABLE CALLERID(name) "name of 1555123000{n}"'] for n in range(3)]
    # The first one pushed out the oldest sitter; each finished and freed its slot for the next.
    assert server.stats["stalled"] == 1 and server.stats["refused_full"] == 0, server.stats
    assert await _closed_by_server(sitting[0])
    assert server.health().data["open_connections"] == 2  # the two younger sitters
    for p in sitting:
        p.close()


async def test_at_the_cap_a_session_waiting_on_the_caller_is_never_pushed_out(make_server: Factory) -> None:
    # GET DATA waits for the caller's digits: a slow caller is a real call, never a stalled peer.
    async def prompt(s: AgiSession) -> None:
        await s.command("GET DATA beep 5000 4")

    server = await make_server({"cid": prompt}, max_connections=1, stall_grace=0.0, command_timeout=60)
    caller = await Peer.connect(server.port)
    await caller.send(env_block("cid"))
    assert (await caller.read_command() or "").startswith("GET DATA")
    extra = await Peer.connect(server.port)
    await extra.send(env_block("cid"))
    assert await _closed_by_server(extra)  # refused, not the caller
    await caller.send("200 result=1234\n")
    assert await _closed_by_server(caller)  # its session ended normally
    assert server.stats["refused_full"] == 1 and server.stats["stalled"] == 0
