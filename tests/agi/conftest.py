"""Fixtures of the caller-name door tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from pbx_bridge.callerid.http import cid_guard, cid_routes
from pbx_bridge.http import HttpFace
from tests.agi.http_face import callerid


@pytest.fixture
async def face() -> AsyncIterator:
    faces: list[HttpFace] = []

    async def start(directory: Any, settings: Any = None, *,
                    extra: list[web.RouteDef] | None = None, **kwargs: Any) -> int:
        settings = settings or callerid()
        f = HttpFace("127.0.0.1", 0, [*cid_routes(directory, settings.callerid), *(extra or [])],
                     front=[cid_guard(settings.callerid)], **kwargs)
        await f.start()
        faces.append(f)
        assert f.bound_port is not None
        return f.bound_port

    yield start
    for f in faces:
        await f.stop(asyncio.get_running_loop().time() + 2)
