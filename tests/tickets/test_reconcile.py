"""The call-marker search over real HTTP against the simulator: newest first, bounded by the floor."""

from __future__ import annotations

from pathlib import Path

from pbx_bridge.itflow.v1 import V1Client
from pbx_bridge.store import Store
from pbx_bridge.tickets.outbox import Outbox
from pbx_bridge.tickets.reconcile import MarkerSearch


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
