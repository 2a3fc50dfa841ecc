"""agi/itflow-cid as Asterisk runs it: a process fed the AGI environment on stdin, asking a real daemon
HTTP listener on loopback. (Inside the lab chroot, as an unprivileged user: tests/lab/test_cid_classic.py.)"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from pbx_bridge.callerid.http import cid_routes
from pbx_bridge.http import access_middleware
from tests.agi.peer import HANG_GUARD, env_block, parse_args
from tests.callerid.test_route import Directory, contact

SCRIPT = Path(__file__).resolve().parents[2] / "agi" / "itflow-cid"


@pytest.fixture
async def daemon() -> AsyncIterator:
    runners: list[web.AppRunner] = []

    async def start(directory: Directory, *, auth: tuple[str, str] | None = None) -> str:
        middlewares = [access_middleware(["127.0.0.0/8"], *auth)] if auth else []
        app = web.Application(middlewares=middlewares)
        app.router.add_routes(cid_routes(directory))
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        runners.append(runner)
        return f"http://127.0.0.1:{runner.addresses[0][1]}/cid.agi"

    yield start
    for r in runners:
        await r.cleanup()


async def run_script(env: bytes, *args: str, replies: int = 10) -> list[str]:
    """Run the script with ``env`` and enough ``200 result=1`` replies; return the commands it sent."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-IS",
        str(SCRIPT),
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={"PATH": os.environ.get("PATH", "")},
    )
    async with asyncio.timeout(HANG_GUARD):
        out, err = await proc.communicate(env + b"200 result=1\n" * replies)
    assert proc.returncode == 0, err.decode()
    return [line for line in out.decode().split("\n") if line]


async def test_match_sets_name_and_variables(daemon) -> None:
    name = "O'Brien / $x Zoë 👩‍💻"  # what the daemon's FreePBX-safe rule made of 'O"Brien \\ ${x} ...'
    url = await daemon(Directory({"4125550101": contact('O"Brien \\ ${x} Zoë 👩‍💻')}))
    cmds = await run_script(env_block(callerid="4125550101"), "201", f"url={url}")
    assert [parse_args(c)[2:] for c in cmds] == [
        ["CALLERID(name)", name],
        ["ITFLOW_MATCH", "contact"],
        ["ITFLOW_NAME", name],
        ["ITFLOW_CLIENT_ID", "1"],
        ["ITFLOW_CLIENT_NAME", "ACME Corp"],
        ["ITFLOW_CONTACT_ID", "7"],
    ]


async def test_no_match(daemon) -> None:
    url = await daemon(Directory({}))
    cmds = await run_script(env_block(callerid="15559990000"), f"url={url}")
    assert parse_args(cmds[0])[2:] == ["ITFLOW_MATCH", "none"]
    assert not any("CALLERID(name)" in c for c in cmds)


async def test_daemon_down_fails_open(unused_tcp_port: int) -> None:
    url = f"http://127.0.0.1:{unused_tcp_port}/cid.agi"
    cmds = await run_script(env_block(callerid="4125550101"), f"url={url}")
    assert len(cmds) == 1 and cmds[0].startswith("VERBOSE ")


async def test_daemon_stalled_fails_open_after_the_deadline() -> None:
    async def stall(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(HANG_GUARD)

    server = await asyncio.start_server(stall, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        cmds = await run_script(
            env_block(callerid="4125550101"), f"url=http://127.0.0.1:{port}/cid.agi", "timeout=0.2"
        )
    finally:
        server.close()
    assert len(cmds) == 1 and cmds[0].startswith("VERBOSE ")


async def test_caller_hangup_stops_the_script(daemon) -> None:
    url = await daemon(Directory({"4125550101": contact("ACME Corp - Alice")}))
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-IS",
        str(SCRIPT),
        f"url={url}",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(HANG_GUARD):
        out, _ = await proc.communicate(env_block(callerid="4125550101") + b"200 result=1\nHANGUP\n")
    assert proc.returncode == 0
    assert len(out.decode().strip().split("\n")) == 2


async def test_anonymous_caller_never_asks(daemon) -> None:
    d = Directory({})
    url = await daemon(d)
    cmds = await run_script(env_block(callerid="anonymous"), f"url={url}")
    assert parse_args(cmds[0])[2:] == ["ITFLOW_MATCH", "none"]
    assert d.asked == []


async def test_basic_auth_in_the_url(daemon) -> None:
    url = await daemon(Directory({"4125550101": contact("ACME Corp - Alice")}), auth=("pbx", "s3cr:et"))
    with_auth = url.replace("http://", "http://pbx:s3cr:et@")
    cmds = await run_script(env_block(callerid="4125550101"), f"url={with_auth}")
    assert parse_args(cmds[0])[2:] == ["CALLERID(name)", "ACME Corp - Alice"]
    refused = await run_script(env_block(callerid="4125550101"), f"url={url}")
    assert len(refused) == 1 and refused[0].startswith("VERBOSE ")  # 401: fails open
