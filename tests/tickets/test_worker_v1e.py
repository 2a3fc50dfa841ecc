"""Outbox worker on ITFlow 26.09+ (era V1e, simulator profile v1-2610): a ticket whose answer was lost is
found among its own client's tickets (``tickets/read?client_id=N``, docs/itflow-api.md §7 row 1), exactly
once, and a server that ignores the filter falls back to the full listing instead of duplicating."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from itflow_sim import PROFILES
from pbx_bridge.tickets.render import call_marker

from .support import Rig, RigFactory, make_rig


def _payload(linkedid: str) -> dict[str, str]:
    marker = call_marker(linkedid, "missed")
    return {
        "subject": f"Missed call from {linkedid}",
        "details": f"<p>{marker}</p>",
        "priority": "Low",
        "marker": marker,
    }


def _ticket_reads(sim) -> list[dict[str, list[str]]]:
    return [
        parse_qs(urlsplit(r.path_qs).query)
        for r in sim.requests
        if "/tickets/read.php" in r.path_qs and "ticket_id=" not in r.path_qs
    ]


async def _lost_then_reconciled(rig: Rig, client_id: int) -> None:
    await rig.itflow.capabilities()
    rig.outbox.enqueue(
        "1795850777.1", "missed", _payload("1795850777.1"), number="+15551230077", client_id=client_id
    )
    rig.sim.drop_answer_after_commit = True
    assert await rig.rounds(1) == 0
    assert len(rig.tickets) == 1  # committed by ITFlow, answer lost
    rig.sim.drop_answer_after_commit = False
    assert await rig.rounds(1) == 1
    assert len(rig.tickets) == 1  # found again, not created twice
    (row,) = rig.outbox.rows(("delivered",))
    assert row.ticket_id == int(rig.tickets[0]["ticket_id"])


async def test_lost_answer_is_found_among_the_clients_tickets(
    itflow_sim, tmp_path: Path, rigs: list[Rig]
) -> None:
    sim = await itflow_sim("v1-2610")
    for i in range(30):  # other clients' tickets the narrowed search never pages through
        sim.db.add_ticket(2, f"Globex ticket {i}")
    rig = await make_rig(sim, tmp_path)
    rigs.append(rig)
    await _lost_then_reconciled(rig, client_id=1)
    reads = _ticket_reads(sim)
    assert reads and all(q.get("client_id") == ["1"] for q in reads)


async def test_client_filter_ignored_falls_back_to_every_ticket(rig_for: RigFactory) -> None:
    rig = await rig_for("v1-2610")
    sim = rig.sim
    await rig.itflow.capabilities()  # detected as V1e ...
    sim.profile = replace(PROFILES["v1-2610"], client_filter=False)  # ... then the filter stops working
    await _lost_then_reconciled(rig, client_id=1)
    reads = _ticket_reads(sim)
    assert any("client_id" not in q for q in reads)  # the full listing found it
