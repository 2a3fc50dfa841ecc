"""The real caller-ID stack for lab tests and benchmarks: ITFlow simulator -> DirectorySync -> CallerId ->
FastAGI ``cid`` route and HTTP ``/cid`` routes, all on loopback. Nothing is mocked."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pbx_bridge.agi.server import FastAgiServer
from pbx_bridge.callerid.http import cid_guard, cid_routes
from pbx_bridge.callerid.route import cid_route, door_guard, door_lookup
from pbx_bridge.config import FastAgiSettings
from pbx_bridge.http import HttpFace
from pbx_bridge.itflow.settings import ItflowSettings
from pbx_bridge.metrics import Metrics
from pbx_bridge.settings import Settings
from pbx_bridge.store import Store


@dataclass
class CidStack:
    settings: Settings
    sync: Any  # DirectorySync
    callerid: Any  # CallerId
    server: FastAgiServer
    http_base: str  # e.g. http://127.0.0.1:PORT (serves /cid and /cid.json)
    metrics: Metrics

    @property
    def json_url(self) -> str:
        return f"{self.http_base}/cid.json"

    async def door(self, number: str) -> Any:
        """What the doors answer for ``number`` (``callerid.lookup`` is the directory's raw answer; the
        doors add the FreePBX-safe name rule and the guard): a ``LookupResult``."""
        return await door_lookup(
            self.callerid,
            number,
            safe_names=self.settings.callerid.safe_names,
            guard=door_guard(self.settings.callerid),
        )


def stack_settings(
    sim_url: str, api_key: str, state_dir: Path, fastagi_port: int, **sections: Any
) -> Settings:
    return Settings(
        itflow=ItflowSettings(url=sim_url, api_key=api_key),
        state_dir=state_dir,
        fastagi=FastAgiSettings(port=fastagi_port or 4574),
        **sections,
    )


@contextlib.asynccontextmanager
async def cid_stack(
    sim: Any, state_dir: Path, *, fastagi_port: int = 0, http_port: int = 0, key: str = "all", **sections: Any
) -> AsyncIterator[CidStack]:
    """Sync the directory from ``sim`` (already populated), then serve FastAGI and HTTP."""
    from pbx_bridge.callerid.service import CallerId
    from pbx_bridge.directory.service import DirectorySync
    from pbx_bridge.itflow.backend import Itflow
    from pbx_bridge.numbers import NumberPlan

    settings = stack_settings(sim.url, sim.keys[key], state_dir, fastagi_port, **sections)
    metrics = Metrics()
    store = Store.in_state_dir(state_dir)
    itflow = Itflow.from_settings(settings.itflow)
    plan = NumberPlan(settings.numbers)
    sync = DirectorySync(settings.directory, itflow, store, plan, metrics)
    await sync.sync()
    callerid = CallerId(sync, itflow, plan, settings.callerid, settings.directory, metrics)
    # The doors exactly as the daemon wires them (wiring.py): the FreePBX-safe rule, the guard, and the
    # HTTP face with its outermost error guard.
    cid = cid_route(callerid, safe_names=settings.callerid.safe_names, guard=door_guard(settings.callerid))
    server = FastAgiServer(
        settings.fastagi.host,
        fastagi_port,
        {"cid": cid},
        env_timeout=settings.fastagi.env_timeout,
        command_timeout=settings.fastagi.command_timeout,
        metrics=metrics,
    )
    await server.start()
    # Any client address: the lab's Asterisk may ask from a private network namespace.
    face = HttpFace(
        "127.0.0.1",
        http_port,
        cid_routes(callerid, settings.callerid),
        allow=["0.0.0.0/0", "::/0"],
        front=[cid_guard(settings.callerid)],
    )
    await face.start()
    base = f"http://127.0.0.1:{face.bound_port}"
    try:
        if face.bound_port is None:  # a fixed port (the lab's cidlookup door) held by someone else
            raise RuntimeError(
                f"the caller-ID HTTP door could not listen on 127.0.0.1:{http_port}: "
                f"{face.health().detail} (set PBX_BRIDGE_LAB_HTTP_PORT to move the lab's)"
            )
        yield CidStack(settings, sync, callerid, server, base, metrics)
    finally:
        import asyncio

        await server.stop(asyncio.get_running_loop().time() + 2)
        await face.stop(asyncio.get_running_loop().time() + 2)
        with contextlib.suppress(Exception):
            await callerid.aclose()
        with contextlib.suppress(Exception):
            await itflow.aclose()
        store.close()
