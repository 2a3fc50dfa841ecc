"""A whole balance IVR on loopback: ITFlow simulator (real HTTP), directory synced from it, SQLite store on
disk, the real FastAGI server with the ``balance`` route, and a scripted Asterisk placing calls."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from itflow_sim import Simulator
from pbx_bridge.agi.server import FastAgiServer
from pbx_bridge.balance.dialogue import BalanceService
from pbx_bridge.balance.http import RemoteSessions, balance_http_routes
from pbx_bridge.balance.route import balance_route
from pbx_bridge.balance.verify import AttemptLog
from pbx_bridge.callerid.service import CallerId
from pbx_bridge.directory.service import DirectorySync
from pbx_bridge.itflow.backend import Itflow
from pbx_bridge.metrics import Metrics
from pbx_bridge.numbers import NumberPlan
from pbx_bridge.settings import Settings
from pbx_bridge.store import Store
from tests.balance.asterisk_peer import ScriptedAsterisk, agi_env

# Every phrase present (prompts built): the sequences are then the documented ones.
ALL_FILES = {
    "custom/pbxb-your-balance-is",
    "custom/pbxb-open-invoices-total",
    "custom/pbxb-cents",
    "custom/pbxb-enter-pin",
    "custom/pbxb-enter-client-number",
    "custom/pbxb-pin-incorrect",
    "custom/pbxb-balance-unavailable",
    "digits/dollars",
    "digits/minus",
    "vm-and",
    "your",
    "vm-goodbye",
    "agent-pass",
    "auth-incorrect",
    "im-sorry",
    "number",
}


@dataclass
class Ivr:
    sim: Simulator
    settings: Settings
    service: BalanceService
    server: FastAgiServer
    store: Store
    metrics: Metrics

    calls: int = 0

    async def call(
        self,
        callerid: str,
        *,
        dtmf: str = "",
        args: tuple[str, ...] = (),
        script: str = "balance",
        hangup_at: int | None = None,
        existing: set[str] | None = None,
        uniqueid: str = "1795850061.10",
        channel: str = "",
        files: dict[str, bytes] | None = None,
    ) -> list[str]:
        """One call; each gets its own channel name (as Asterisk's are) unless ``channel`` is given."""
        self.calls += 1
        peer = ScriptedAsterisk(
            existing=ALL_FILES if existing is None else existing,
            dtmf=list(dtmf),
            hangup_at=hangup_at,
            files=files or {},
        )
        env = agi_env(
            callerid,
            args=args,
            script=script,
            uniqueid=uniqueid,
            channel=channel or f"PJSIP/trunk-{self.calls:08x}",
        )
        return await peer.call(self.server.port, env)

    def outcomes(self) -> dict[str, float]:
        out = {}
        for metric in self.metrics.balance_requests.collect():
            for s in metric.samples:
                if s.name.endswith("_total"):
                    out[s.labels["result"]] = s.value
        return out


async def open_ivr(
    stack: AsyncExitStack,
    tmp: Path,
    sim: Simulator,
    *,
    key: str = "all",
    port: int = 0,
    command_timeout: float = 5,
    clock: Callable[[], float] | None = None,
    **balance: Any,
) -> Ivr:
    """The IVR over ``sim`` (from the ``itflow_sim`` fixture, which stops it), served on ``port`` (0: any;
    the lab passes the port its dialplan calls). ``clock``: the attempt log's time (a fixed one keeps a
    test's calls inside every limit window however slow the machine)."""
    settings = Settings.model_validate(
        {
            "itflow": {"url": sim.url, "api_key": sim.keys[key], "timeout": 5},
            "state_dir": str(tmp),
            "balance": balance,
        }
    )
    store = Store.in_state_dir(tmp)
    stack.callback(store.close)
    itflow = Itflow.from_settings(settings.itflow)
    stack.push_async_callback(itflow.aclose)
    plan = NumberPlan(settings.numbers)
    directory = DirectorySync(settings.directory, itflow, store, plan)
    await directory.sync()
    callerid = CallerId(directory, itflow, plan, settings.callerid, settings.directory)
    stack.push_async_callback(callerid.aclose)
    metrics = Metrics()
    service = BalanceService.build(
        settings=settings.balance, itflow=itflow, callerid=callerid, plan=plan, store=store, metrics=metrics
    )
    if clock is not None:
        service.verifier.attempts = AttemptLog(store, clock=clock)
    server = FastAgiServer(
        "127.0.0.1", port, {"balance": balance_route(service)}, env_timeout=5, command_timeout=command_timeout
    )
    await server.start()
    stack.push_async_callback(lambda: server.stop(asyncio.get_running_loop().time() + 5))
    return Ivr(sim, settings, service, server, store, metrics)


async def serve_internal(
    stack: AsyncExitStack, sessions: RemoteSessions, *, secret: str | None = None
) -> int:
    """The loopback listener ``agi/itflow-balance`` talks to, on a free port (returned)."""
    app = web.Application()
    app.router.add_routes(balance_http_routes(sessions.service, sessions=sessions, secret=secret))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    stack.push_async_callback(runner.cleanup)
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return site._server.sockets[0].getsockname()[1]
