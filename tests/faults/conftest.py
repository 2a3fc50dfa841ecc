from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest_asyncio

from .harness import Rig


@pytest_asyncio.fixture
async def rig(itflow_sim: Any, tmp_path: Path) -> AsyncIterator[Callable[..., Awaitable[Rig]]]:
    """``r = await rig(**Rig.make kwargs)``: a simulator (v1-head) behind a fault proxy, an AMI feed."""
    made: list[Rig] = []

    async def make(profile: str = "v1-head", **kw: Any) -> Rig:
        sim = await itflow_sim(profile)
        r = await Rig.make(sim, tmp_path, **kw)
        made.append(r)
        return r

    try:
        yield make
    finally:
        for r in made:
            await r.close()
