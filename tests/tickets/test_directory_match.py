"""A known caller: client and contact come from the directory, the subject names them (simulator seed:
ACME Corp, client 1, primary contact Alice at 4125550101)."""

from __future__ import annotations

import contextlib
from pathlib import Path

from pbx_bridge.callerid.service import CallerId
from pbx_bridge.directory.service import DirectorySync
from pbx_bridge.itflow.backend import Itflow
from pbx_bridge.metrics import Metrics
from pbx_bridge.numbers import NumberPlan
from pbx_bridge.settings import parse_settings
from pbx_bridge.tickets.intake import TicketIntake

from .support import RigFactory, record


async def test_known_caller_ticket_names_client_and_contact(rig_for: RigFactory, tmp_path: Path) -> None:
    rig = await rig_for("v1-head")
    sim = rig.sim
    settings = parse_settings(
        f"itflow:\n  url: {sim.url}\n  api_key: {sim.keys['all']}\nstate_dir: {tmp_path / 'dir'}\n", env={}
    )
    itflow = Itflow.from_settings(settings.itflow)
    plan = NumberPlan(settings.numbers)
    metrics = Metrics()
    directory = DirectorySync(settings.directory, itflow, rig.store, plan, metrics)
    callerid = CallerId(directory, itflow, plan, settings.callerid, settings.directory, metrics)
    try:
        await directory.sync()
        intake = TicketIntake(
            settings.tickets, rig.outbox, is_internal=plan.is_internal, plan=plan, lookup=callerid.lookup
        )
        assert await intake.handle(record("1800000300.1", number="4125550101"))
        await rig.rounds(1, step=10)
    finally:
        with contextlib.suppress(Exception):
            await directory.stop(0)
        await callerid.aclose()
        await itflow.aclose()
    (t,) = rig.tickets
    alice = next(c for c in sim.db["contacts"] if c["contact_phone"] == "4125550101")
    assert t["ticket_client_id"] == "1" and t["ticket_contact_id"] == alice["contact_id"]
    assert t["ticket_subject"].startswith("Missed call from ACME Corp - Alice")
    assert t["ticket_subject"].endswith("(+1 412-555-0101)")
