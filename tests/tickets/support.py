"""Shared set-up for outbox/worker tests: a fresh simulator, a store on disk, an injected clock."""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from itflow_sim import Simulator
from pbx_bridge.ami.outcome import CallRecord, Outcome
from pbx_bridge.itflow.backend import Itflow
from pbx_bridge.itflow.v1 import V1Client
from pbx_bridge.store import Store
from pbx_bridge.tickets.outbox import Outbox
from pbx_bridge.tickets.settings import TicketsSettings
from pbx_bridge.tickets.worker import OutboxWorker

from ..ami.traces import FakeClock


def record(
    linkedid: str, outcome: Outcome = Outcome.MISSED, number: str = "15551230001", **kw: Any
) -> CallRecord:
    start = datetime(2026, 11, 28, 14, 0, tzinfo=UTC)
    base = CallRecord(
        linkedid=linkedid,
        outcome=outcome,
        caller_num=number,
        caller_name="Alice Example",
        started=start,
        ended=start.replace(second=20),
        ring_seconds=5.0,
        did="5551000",
        context="from-pstn",
    )
    return replace(base, **kw)


@dataclass
class Rig:
    sim: Simulator
    store: Store
    outbox: Outbox
    worker: OutboxWorker
    clock: FakeClock
    itflow: Itflow
    client: V1Client
    seed_ids: frozenset[str] = frozenset()
    seed_replies: frozenset[str] = frozenset()

    @property
    def replies(self) -> list[dict[str, Any]]:
        return [r for r in self.sim.db["ticket_replies"] if r["ticket_reply_id"] not in self.seed_replies]

    @property
    def tickets(self) -> list[dict[str, Any]]:
        """Tickets created during the test (the seed has some of its own)."""
        return [t for t in self.sim.db.tickets if t["ticket_id"] not in self.seed_ids]

    async def rounds(self, n: int = 1, step: float = 3600.0) -> int:
        """n delivery rounds, the clock moving ``step`` s before each (past any backoff)."""
        total = 0
        for _ in range(n):
            self.clock.now += step
            total += await self.worker.run_once()
        return total


# ``rig_for`` in conftest.py: a profile name and make_rig's options -> a Rig.
RigFactory = Callable[..., Awaitable[Rig]]


async def make_rig(
    sim: Simulator,
    tmp_path: Path,
    *,
    key: str = "all",
    settings: TicketsSettings | None = None,
    db: str = "state.sqlite3",
    url: str | None = None,
) -> Rig:
    """``url``: talk to ITFlow there (a fault proxy in front of ``sim``) instead of ``sim.url``."""
    clock = FakeClock()
    store = Store(tmp_path / db)
    outbox = Outbox(store, clock=clock)
    itflow = Itflow(url or sim.url, sim.keys[key], api="v1", timeout=3.0)
    assert itflow.v1 is not None
    worker = OutboxWorker(
        outbox,
        itflow.v1,
        itflow.capabilities,
        settings or TicketsSettings(),
        clock=clock,
        rng=random.Random(7),
    )
    seed = frozenset(t["ticket_id"] for t in sim.db.tickets)
    seed_r = frozenset(r["ticket_reply_id"] for r in sim.db["ticket_replies"])
    return Rig(sim, store, outbox, worker, clock, itflow, itflow.v1, seed, seed_r)
