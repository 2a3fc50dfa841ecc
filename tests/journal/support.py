"""A journal on a real simulator: directory sync, caller lookup, the tickets outbox and its worker with
the open-ticket finder and per-technician keys, the journal intake; the clock is injected."""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from itflow_sim import Simulator
from pbx_bridge.ami.outcome import CallRecord, Outcome
from pbx_bridge.callerid.service import CallerId
from pbx_bridge.directory.service import DirectorySync
from pbx_bridge.itflow.backend import Itflow
from pbx_bridge.itflow.v1 import V1Client
from pbx_bridge.journal.intake import JournalIntake
from pbx_bridge.metrics import Metrics
from pbx_bridge.numbers import NumberPlan
from pbx_bridge.settings import Settings, parse_settings
from pbx_bridge.store import Store
from pbx_bridge.tickets.outbox import Outbox
from pbx_bridge.tickets.worker import OutboxWorker

from ..ami.traces import FakeClock

START = datetime(2026, 11, 28, 14, 0, tzinfo=UTC)
ALICE = "4125550101"  # ACME Corp (client 1), contact 1; the seed's ticket 1 is hers and open


def answered(linkedid: str, number: str = ALICE, **kw: Any) -> CallRecord:
    base = CallRecord(
        linkedid=linkedid,
        outcome=Outcome.ANSWERED,
        caller_num=number,
        caller_name="Alice",
        started=START,
        ended=START.replace(minute=2, second=5),
        ring_seconds=4.0,
        talk_seconds=121.0,
        did="5551000",
        extension="201",
    )
    return replace(base, **kw)


@dataclass
class JournalRig:
    sim: Simulator
    settings: Settings
    store: Store
    outbox: Outbox
    worker: OutboxWorker
    intake: JournalIntake
    directory: DirectorySync
    itflow: Itflow
    clock: FakeClock
    writers: dict[str, V1Client]
    seed_replies: frozenset[str]
    seed_tickets: frozenset[str]
    _closers: list[Any]

    @property
    def replies(self) -> list[dict[str, Any]]:
        return [r for r in self.sim.db["ticket_replies"] if r["ticket_reply_id"] not in self.seed_replies]

    @property
    def tickets(self) -> list[dict[str, Any]]:
        return [t for t in self.sim.db.tickets if t["ticket_id"] not in self.seed_tickets]

    async def rounds(self, n: int = 1, step: float = 3600.0) -> int:
        total = 0
        for _ in range(n):
            self.clock.now += step
            total += await self.worker.run_once()
        return total

    async def close(self) -> None:
        for close in reversed(self._closers):
            await close()
        self.store.close()


async def make_journal_rig(
    sim: Simulator,
    tmp: Path,
    *,
    journal: dict[str, Any] | None = None,
    technicians: list[dict[str, Any]] | None = None,
    key: str = "all",
    extra: str = "",
) -> JournalRig:
    people = technicians if technicians is not None else []
    lines = [f"itflow:\n  url: {sim.url}\n  api_key: {sim.keys[key]}\nstate_dir: {tmp / 'state'}\n"]
    settings = parse_settings("".join(lines) + extra, env={})
    settings = settings.model_copy(
        update={
            "journal": type(settings.journal).model_validate({"enabled": True, **(journal or {})}),
            "technicians": type(settings.technicians).model_validate(people),
        }
    )
    clock = FakeClock()
    store = Store(tmp / "state.sqlite3")
    itflow = Itflow(sim.url, sim.keys[key], api="v1", timeout=3.0)
    assert itflow.v1 is not None
    plan = NumberPlan(settings.numbers)
    metrics = Metrics()
    directory = DirectorySync(settings.directory, itflow, store, plan, metrics)
    callerid = CallerId(directory, itflow, plan, settings.callerid, settings.directory, metrics)
    writers: dict[str, V1Client] = {}
    for person in settings.technicians.people:
        if person.api_key_file is not None:
            writers[person.name] = V1Client(sim.url, person.api_key_file.read_text().strip(), timeout=3.0)
    outbox = Outbox(store, clock=clock)
    worker = OutboxWorker(
        outbox,
        itflow.v1,
        itflow.capabilities,
        settings.tickets,
        clock=clock,
        rng=random.Random(7),
        writers=writers.get,
    )
    v1 = itflow.v1

    async def refresh(_snapshot: object) -> None:
        await worker.open_tickets.refresh(v1)

    directory.subscribe(refresh)
    intake = JournalIntake(
        settings.journal,
        outbox.aenqueue,
        technicians=settings.technicians,
        lookup=callerid.lookup,
        plan=plan,
        link_base=settings.http.public_url,
    )
    await directory.sync()
    closers = [itflow.aclose, callerid.aclose, *(w.aclose for w in writers.values())]
    return JournalRig(
        sim,
        settings,
        store,
        outbox,
        worker,
        intake,
        directory,
        itflow,
        clock,
        writers,
        frozenset(r["ticket_reply_id"] for r in sim.db["ticket_replies"]),
        frozenset(t["ticket_id"] for t in sim.db.tickets),
        closers,
    )
