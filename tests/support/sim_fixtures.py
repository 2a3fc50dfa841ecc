"""ITFlow simulator fixtures.

``itflow_sim`` is an async factory: ``sim = await itflow_sim("v1-head")`` starts a
:class:`~pbx_bridge.itflow.simulator.Simulator` on 127.0.0.1 (random port) with the default seed;
keyword arguments (``seed=``, ``quirks=``) go to the constructor. Every simulator it made is stopped at
teardown. ``sim.url`` is the ITFlow base URL, ``sim.keys["all"]`` an all-clients key, ``sim.db`` the
tables (``sim.db.add_contact(...)``), ``sim.delay`` / ``sim.down`` / ``sim.drop_answer_after_commit``
the fault knobs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest_asyncio

from pbx_bridge.itflow.simulator import PROFILES, Simulator

__all__ = ["ALL_PROFILES", "SimFactory", "itflow_sim"]

ALL_PROFILES = tuple(PROFILES)
SimFactory = Callable[..., Awaitable[Simulator]]


@pytest_asyncio.fixture
async def itflow_sim() -> AsyncIterator[SimFactory]:
    started: list[Simulator] = []

    async def make(profile: str = "v1-head", **kwargs: Any) -> Simulator:
        sim = Simulator(profile, **kwargs)
        await sim.start()
        started.append(sim)
        return sim

    try:
        yield make
    finally:
        for sim in reversed(started):
            await sim.stop()
