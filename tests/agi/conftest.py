"""Fixtures of the FastAGI tests: a server on a free loopback port, stopped afterwards."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from pbx_bridge.agi.server import FastAgiServer
from tests.agi.peer import HANG_GUARD

__all__ = ["Factory", "make_server", "settle"]

Factory = Callable[..., Awaitable[FastAgiServer]]


@pytest.fixture
async def make_server() -> AsyncIterator[Factory]:
    servers: list[FastAgiServer] = []

    async def factory(routes: dict[str, Any], **kw: Any) -> FastAgiServer:
        kw.setdefault("env_timeout", 2.0)
        kw.setdefault("command_timeout", 2.0)
        server = FastAgiServer("127.0.0.1", 0, routes, **kw)
        await server.start()
        servers.append(server)
        return server

    yield factory
    loop = asyncio.get_running_loop()
    for s in servers:
        await s.stop(loop.time() + 1.0)


async def settle(server: FastAgiServer) -> None:
    """Wait (bounded) until no session is running."""
    assert await server.wait_idle(HANG_GUARD)
