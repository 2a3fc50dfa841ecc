"""Fixtures of the caller-ID tests: the HTTP door (``face``) and the simulator rig (``caller_env``)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from pbx_bridge.callerid.http import cid_guard, cid_routes
from pbx_bridge.http import HttpFace
from tests.callerid.http_face import callerid
from tests.directory.conftest import caller_env

__all__ = ["caller_env", "face"]  # caller_env: the directory tests' rig, shared


@pytest.fixture
async def face() -> AsyncIterator:
    faces: list[HttpFace] = []

    async def start(
        directory: Any, settings: Any = None, *, extra: list[web.RouteDef] | None = None, **kwargs: Any
    ) -> int:
        settings = settings or callerid()
        f = HttpFace(
            "127.0.0.1",
            0,
            [*cid_routes(directory, settings.callerid), *(extra or [])],
            front=[cid_guard(settings.callerid)],
            **kwargs,
        )
        await f.start()
        faces.append(f)
        assert f.bound_port is not None
        return f.bound_port

    yield start
    for f in faces:
        await f.stop(asyncio.get_running_loop().time() + 2)
