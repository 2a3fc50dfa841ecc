"""Lost answers at ITFlow: the write committed, the daemon cannot know. Searched, never re-sent blindly."""

from __future__ import annotations

import pytest


async def _feed(r, n: int):
    d, calls = await r.start_with_calls(n)
    return d, [lid for lid, _ in calls]


@pytest.mark.parametrize("gateway", [502, 504])
async def test_gateway_error_after_commit_10_calls_0_lost_0_duplicated(rig, gateway: int) -> None:
    r = await rig()
    r.proxy.after_commit = gateway
    r.proxy.fault_count = 10
    d, ids = await _feed(r, 10)
    await r.wait_tickets(d, ids)
    await r.settled(d)
    count = r.count(ids)
    assert r.proxy.faults == 10
    assert (count.ticketed, count.lost, count.duplicated) == (10, 0, 0), str(count)


@pytest.mark.parametrize("search_fault", [500, 0], ids=["search-http-500", "search-connection-cut"])
async def test_cut_after_commit_with_failing_searches_5_calls_0_duplicated(rig, search_fault: int) -> None:
    r = await rig()
    r.proxy.after_commit = 0  # every create commits, its answer is cut
    r.proxy.fault_count = 5
    r.proxy.fail_searches = search_fault
    d, ids = await _feed(r, 5)
    await d.wait_until(
        lambda: r.proxy.faults >= 5 + 10 or r.proxy.creates > 5,
        what="5 cut creates and 10 failed searches (or a create sent again)",
    )
    r.proxy.fail_searches = None  # searches work again
    await r.wait_tickets(d, ids)
    await r.settled(d)
    count = r.count(ids)
    assert r.proxy.creates == 5  # nothing was sent a second time
    assert (count.ticketed, count.lost, count.duplicated) == (5, 0, 0), str(count)


async def test_commit_after_client_timeout_10_calls_0_duplicated(rig) -> None:
    # Two creates reach ITFlow 4 s late; the daemon gives up after 1 s (the other 8 go through at
    # once, so it comes back to the first two well before their commit), and searches 6 s after sending.
    r = await rig(itflow={"timeout": 1}, tickets={"reconcile_after": 6})
    r.proxy.hold_writes = 4.0
    r.proxy.fault_count = 2
    d, ids = await _feed(r, 10)
    await r.wait_tickets(d, ids)
    await r.settled(d)
    count = r.count(ids)
    assert (count.ticketed, count.lost, count.duplicated) == (10, 0, 0), str(count)


async def test_cut_after_commit_on_100000_tickets_5_calls_0_duplicated(rig) -> None:
    r = await rig()
    for i in range(100_000):  # an ITFlow with years of tickets
        r.sim.db.add_ticket(1, f"old ticket {i}")
    r.proxy.after_commit = 0
    r.proxy.fault_count = 5
    d, ids = await _feed(r, 5)
    await r.wait_tickets(d, ids, limit=120)
    await r.settled(d, limit=120)
    count = r.count(ids)
    assert r.proxy.creates == 5
    assert (count.ticketed, count.lost, count.duplicated) == (5, 0, 0), str(count)
