"""The call-marker search over real HTTP against the simulator: newest first, bounded by the floor."""

from __future__ import annotations

from pathlib import Path

import pytest

from pbx_bridge.itflow.v1 import V1Client
from pbx_bridge.store import Store
from pbx_bridge.tickets.outbox import Outbox
from pbx_bridge.tickets.reconcile import MarkerSearch
from pbx_bridge.tickets.render import call_marker
from pbx_bridge.tickets.settings import TicketsSettings
from tests.support.fault_proxy import FaultProxy

from .support import Rig, make_rig


async def test_search_on_100000_tickets_finds_the_newest_in_few_reads_and_proves_absence(
    itflow_sim, tmp_path: Path
) -> None:
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
        assert first <= 45  # galloping + bisection, not 500 pages
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
        assert search.reads == reads  # no second probe
    store.close()


@pytest.mark.parametrize("search_answer", [401, 500, 0], ids=["search-401", "search-500", "search-cut"])
async def test_a_failing_search_keeps_the_unknown_mark_until_one_succeeds(
    itflow_sim, tmp_path: Path, rigs: list[Rig], search_answer: int
) -> None:
    sim = await itflow_sim("v1-head")
    proxy = await FaultProxy(sim.url).start()
    try:
        rig = await make_rig(sim, tmp_path, url=proxy.url)
        rigs.append(rig)
        rig.outbox.enqueue("1800000300.1", "missed", _payload("1800000300.1"))
        proxy.after_commit = 0  # committed, the answer cut
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
    return {
        "subject": f"Missed call {linkedid}",
        "details": f"<p>{marker}</p>",
        "priority": "Low",
        "marker": marker,
    }


async def test_reply_cut_after_commit_on_a_ticket_with_60_replies_1_reply_0_duplicated(
    itflow_sim, tmp_path: Path, rigs: list[Rig]
) -> None:
    # ticket_replies/read pages 50 at a time (oldest first): our reply is past the first page.
    sim = await itflow_sim("v1-head")
    proxy = await FaultProxy(sim.url).start()
    try:
        rig = await make_rig(sim, tmp_path, url=proxy.url)
        rigs.append(rig)
        rig.outbox.enqueue(
            "1800000400.1", "missed", _payload("1800000400.1"), number="+14125550190", client_id=1
        )
        await rig.rounds(1, step=10)
        (ticket,) = rig.tickets
        for i in range(60):
            sim.db.insert(
                "ticket_replies",
                {"ticket_reply": f"technician note {i}", "ticket_reply_ticket_id": ticket["ticket_id"]},
            )
        marker = call_marker("1800000401.1", "missed")
        rig.outbox.enqueue(
            "1800000401.1", "missed", _payload("1800000401.1"), number="+14125550190", client_id=1
        )
        proxy.after_commit = 0  # the reply commits, its answer is cut
        await rig.rounds(1, step=10)
        proxy.after_commit = None
        await rig.rounds(3, step=10)
        ours = [r for r in sim.db["ticket_replies"] if marker in (r["ticket_reply"] or "")]
        assert rig.outbox.counts() == {"delivered": 2}
        assert (len(ours), proxy.reply_creates) == (1, 1), "the reply was sent again"
    finally:
        await proxy.stop()


async def test_dead_letter_while_the_outcome_is_unknown_then_retry_1_ticket_0_duplicated(
    itflow_sim, tmp_path: Path, rigs: list[Rig]
) -> None:
    # The create commits behind a 502, every search answers 500 until dead_letter_after: the row is
    # dead-lettered with its outcome still unknown. `tickets retry` must search before it re-sends.
    sim = await itflow_sim("v1-head")
    proxy = await FaultProxy(sim.url).start()
    try:
        rig = await make_rig(sim, tmp_path, url=proxy.url, settings=TicketsSettings(dead_letter_after=7200))
        rigs.append(rig)
        rig.outbox.enqueue("1800000500.1", "missed", _payload("1800000500.1"))
        proxy.after_commit = 502
        await rig.rounds(1)
        proxy.fail_searches = 500
        await rig.rounds(3)
        (row,) = rig.outbox.rows(("dead",))
        assert len(rig.tickets) == 1
        proxy.after_commit = proxy.fail_searches = None
        assert rig.outbox.retry(row.id) == 1
        await rig.rounds(2)
        assert rig.outbox.counts() == {"delivered": 1}
        assert (len(rig.tickets), proxy.creates) == (1, 1), "the dead-lettered create was sent again"
    finally:
        await proxy.stop()


async def test_search_takes_the_marker_whole_not_as_the_start_of_a_longer_one(
    itflow_sim, tmp_path: Path
) -> None:
    sim = await itflow_sim("v1-head")
    floor = max(int(t["ticket_id"]) for t in sim.db.tickets)
    marker = call_marker("1800000900.1", "missed")
    sim.db.add_ticket(1, "Other", ticket_details=f"<p><small>{marker}-callback</small></p>")
    sim.db.add_ticket(1, "Other", ticket_details=f"<p><small>{marker}.5</small></p>")
    store = Store(tmp_path / "s.sqlite3")
    search = MarkerSearch(Outbox(store, clock=lambda: 0.0), window=200)
    async with V1Client(sim.url, sim.keys["all"], timeout=10) as client:
        assert await search.search(client, marker, floor) is None
        ours = sim.db.add_ticket(1, "Missed call", ticket_details=f"<p><small>{marker}</small></p><br>")
        assert await search.search(client, marker, floor) == ours
    store.close()
