"""The real caller-ID stack for lab tests and benchmarks: ITFlow simulator -> DirectorySync -> CallerId ->
FastAGI ``cid`` route and HTTP ``/cid`` routes, all on loopback. Nothing is mocked."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from pbx_bridge.agi.cid import cid_route
from pbx_bridge.agi.server import FastAgiServer
from pbx_bridge.callerid_http import cid_routes
from pbx_bridge.config import FastAgiSettings, ItflowSettings, Settings
from pbx_bridge.metrics import Metrics
from pbx_bridge.store import Store


@dataclass
class CidStack:
    settings: Settings
    sync: Any              # DirectorySync
    callerid: Any          # CallerId
    server: FastAgiServer
    http_base: str         # e.g. http://127.0.0.1:PORT (serves /cid and /cid.json)
    metrics: Metrics

    @property
    def json_url(self) -> str:
        return f"{self.http_base}/cid.json"


def stack_settings(sim_url: str, api_key: str, state_dir: Path, fastagi_port: int,
                   **sections: Any) -> Settings:
    return Settings(itflow=ItflowSettings(url=sim_url, api_key=api_key), state_dir=state_dir,
                    fastagi=FastAgiSettings(port=fastagi_port or 4574), **sections)


@contextlib.asynccontextmanager
async def cid_stack(sim: Any, state_dir: Path, *, fastagi_port: int = 0, http_port: int = 0,
                    key: str = "all", **sections: Any) -> AsyncIterator[CidStack]:
    """Sync the directory from ``sim`` (already populated), then serve FastAGI and HTTP."""
    from pbx_bridge.directory.lookup import CallerId
    from pbx_bridge.directory.service import DirectorySync
    from pbx_bridge.itflow.backend import Itflow
    from pbx_bridge.numbers import NumberPlan

    settings = stack_settings(sim.url, sim.keys[key], state_dir, fastagi_port, **sections)
    metrics = Metrics()
    store = Store.in_state_dir(state_dir)
    itflow = Itflow.from_settings(settings)
    plan = NumberPlan(settings.numbers)
    sync = DirectorySync(settings, itflow, store, plan, metrics)
    await sync.sync()
    callerid = CallerId(sync, itflow, plan, settings, metrics)
    server = FastAgiServer(settings.fastagi.host, fastagi_port, {"cid": cid_route(callerid)},
                           env_timeout=settings.fastagi.env_timeout,
                           command_timeout=settings.fastagi.command_timeout, metrics=metrics)
    await server.start()
    app = web.Application()
    app.router.add_routes(cid_routes(callerid, settings))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", http_port).start()
    base = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        yield CidStack(settings, sync, callerid, server, base, metrics)
    finally:
        import asyncio

        await server.stop(asyncio.get_running_loop().time() + 2)
        await runner.cleanup()
        with contextlib.suppress(Exception):
            await callerid.aclose()
        with contextlib.suppress(Exception):
            await itflow.aclose()
        store.close()
