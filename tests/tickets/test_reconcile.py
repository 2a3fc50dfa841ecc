"""The call-marker search over real HTTP against the simulator: newest first, bounded by the floor."""

from __future__ import annotations

from pathlib import Path

import pytest

from pbx_bridge.itflow.v1 import V1Client
from pbx_bridge.store import Store
from pbx_bridge.tickets.outbox import Outbox
from pbx_bridge.tickets.reconcile import MarkerSearch
from pbx_bridge.tickets.render import call_marker
from tests.support.fault_proxy import FaultProxy

from .support import Rig, make_rig


async def test_search_on_100000_tickets_finds_the_newest_in_few_reads_and_proves_absence(
        itflow_sim, tmp_path: Path) -> None:
    sim = await itflow_sim("v1-head")
    for i in range(100_000):
        sim.db.add_ticket(1, f"old {i}")
    floor = max(int(t["ticket_id"]) for t in sim.db.tickets)
    ours = sim.db.add_ticket(1, "Missed call", ticket_details="<p>pbx-bridge:call=1.2;kind=missed</p>")
    store = Store(tmp_path / "s.sqlite3")
    search = MarkerSearch(Outbox(store, clock=lambda: 0.0), window=200)
    async with V1Client(sim.url, sim.keys["all"], timeout=10) as client:
        assert await search.search(client, "pbx-bridge:call=1.2;kind=missed", floor) == ours
        first = search.reads
        assert first <= 45                      # galloping + bisection, not 500 pages
        # The end is remembered: the next search reads one page.
        assert await search.search(client, "pbx-bridge:call=9.9;kind=missed", ours) is None
        assert search.reads == 1
        assert await search.high_water() == ours
    store.close()


async def test_floor_is_learnt_once_on_a_fresh_state_file(itflow_sim, tmp_path: Path) -> None:
    sim = await itflow_sim("v1-head")
    newest = max(int(t["ticket_id"]) for t in sim.db.tickets)
    store = Store(tmp_path / "s.sqlite3")
    search = MarkerSearch(Outbox(store, clock=lambda: 0.0), window=10)
    async with V1Client(sim.url, sim.keys["all"], timeout=10) as client:
        assert await search.floor(client) == newest
        reads = search.reads
        assert await search.floor(client) == newest
        assert search.reads == reads            # no second probe
    store.close()


@pytest.mark.parametrize("search_answer", [401, 500, 0], ids=["search-401", "search-500", "search-cut"])
async def test_a_failing_search_keeps_the_unknown_mark_until_one_succeeds(itflow_sim, tmp_path: Path,
                                                                         rigs: list[Rig],
                                                                         search_answer: int) -> None:
    sim = await itflow_sim("v1-head")
    proxy = await FaultProxy(sim.url).start()
    try:
        rig = await make_rig(sim, tmp_path, url=proxy.url)
        rigs.append(rig)
        rig.outbox.enqueue("1800000300.1", "missed", _payload("1800000300.1"))
        proxy.after_commit = 0                    # committed, the answer cut
        await rig.rounds(1)
        (row,) = rig.outbox.rows(("pending",))
        assert row.in_flight and len(rig.tickets) == 1
        proxy.after_commit = None
        proxy.fail_searches = search_answer
        for _ in range(3):
            await rig.rounds(1)
            (row,) = rig.outbox.rows(("pending",))
            assert row.in_flight, "a failed search cleared the unknown-outcome mark"
        proxy.fail_searches = None
        await rig.rounds(2)
        assert rig.outbox.counts() == {"delivered": 1}
        assert len(rig.tickets) == 1 and proxy.creates == 1
    finally:
        await proxy.stop()


def _payload(linkedid: str) -> dict[str, str]:
    marker = call_marker(linkedid, "missed")
    return {"subject": f"Missed call {linkedid}", "details": f"<p>{marker}</p>", "priority": "Low",
            "marker": marker}
