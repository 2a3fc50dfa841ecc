"""ITFlow simulator fixtures.

``itflow_sim`` is an async factory: ``sim = await itflow_sim("v1-head")`` starts a
:class:`~itflow_sim.Simulator` on 127.0.0.1 (random port) with the default seed;
keyword arguments (``seed=``, ``quirks=``) go to the constructor. Every simulator it made is stopped at
teardown. ``sim.url`` is the ITFlow base URL, ``sim.keys["all"]`` an all-clients key, ``sim.db`` the
tables (``sim.db.add_contact(...)``), ``sim.delay`` / ``sim.down`` / ``sim.drop_answer_after_commit``
the fault knobs.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest_asyncio

from itflow_sim import PROFILES, Simulator

__all__ = ["ALL_PROFILES", "SimFactory", "itflow_sim", "legacy_request", "v1_request"]

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
    # A Python exception inside the simulator is answered as an empty 500, which a test could mistake
    # for ITFlow behaviour: surface it instead.
    errors = [repr(e) for sim in started for e in sim.errors]
    assert not errors, f"ITFlow simulator raised internally (a simulator bug): {errors}"


_UNSET: Any = object()


async def v1_request(
    sim: Simulator,
    module: str,
    function: str,
    *,
    method: str | None = None,
    key: str | None = _UNSET,
    params: dict[str, Any] | None = None,
    body: dict[str, Any] | None = None,
    content: bytes | None = None,
    key_in: str = "body",
) -> httpx.Response:
    """One raw HTTP call to ``/api/v1/{module}/{function}.php`` (for conformance tests, not a client).

    ``key`` defaults to the all-clients key, sent in the JSON body (``key_in="query"`` puts it in the
    URL, ``key=None`` sends none). ``method`` defaults to GET for read/time, else POST.
    """
    if method is None:
        method = "GET" if function in ("read", "time") else "POST"
    if key is _UNSET:
        key = sim.keys["all"]
    params = dict(params or {})
    payload = dict(body or {})
    if key is not None:
        if key_in == "query":
            params["api_key"] = key
        else:
            payload["api_key"] = key
    if content is None and payload:
        content = json.dumps(payload).encode()
    async with httpx.AsyncClient(base_url=sim.url, timeout=30) as http:
        return await http.request(method, f"/api/v1/{module}/{function}.php", params=params, content=content)


async def legacy_request(sim: Simulator, params: dict[str, Any], *, method: str = "GET") -> httpx.Response:
    """One raw HTTP call to ``/api.php`` (query parameters only, as the legacy API reads them)."""
    async with httpx.AsyncClient(base_url=sim.url, timeout=30) as http:
        return await http.request(method, "/api.php", params=params)
