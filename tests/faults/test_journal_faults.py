"""The journal under the fault suite: its notes are outbox items like tickets, so a reply whose answer is
lost (a gateway's 502/504 after ITFlow committed, a cut connection) is searched for among the ticket's
replies by its call marker, never sent twice; kill -9 right after the calls loses none."""

from __future__ import annotations

import signal

import pytest

from .harness import ANSWERED, Rig, call_blocks, count_replies

JOURNAL = {"enabled": True, "min_talk_seconds": 0}


def _known_caller(r: Rig) -> None:
    # The answered trace's caller, a contact of ACME Corp (client 1, whose ticket 1 is open).
    r.sim.db.insert(
        "contacts", {"contact_name": "Trace Caller", "contact_phone": "5551230001", "contact_client_id": 1}
    )


async def _settled_notes(r: Rig, d, ids: list[str]) -> None:  # type: ignore[no-untyped-def]
    await d.wait_until(
        lambda: count_replies(r.sim, set(ids)).ticketed == len(ids), what=f"{len(ids)} journal notes"
    )
    await r.settled(d)


@pytest.mark.parametrize("fault", [502, 504, 0], ids=["502", "504", "connection-cut"])
async def test_lost_reply_answers_5_calls_0_lost_0_duplicated(rig, fault: int) -> None:  # type: ignore[no-untyped-def]
    r = await rig(journal=JOURNAL)
    _known_caller(r)
    r.proxy.after_commit = fault  # every note reaches ITFlow, its answer does not come back
    r.proxy.fault_count = 5
    d, calls = await r.start_with_calls(5, ANSWERED)
    ids = [lid for lid, _ in calls]
    await _settled_notes(r, d, ids)
    count = count_replies(r.sim, set(ids))
    assert r.proxy.faults == 5 and r.proxy.reply_creates == 5  # none was sent a second time
    assert (count.ticketed, count.lost, count.duplicated) == (5, 0, 0), str(count)


async def test_kill_9_after_the_calls_5_calls_0_lost_0_duplicated(rig) -> None:  # type: ignore[no-untyped-def]
    r = await rig(journal=JOURNAL)
    _known_caller(r)
    d = r.start()
    await r.ami.wait_login(1)

    async def journal_ready() -> bool:
        return bool((await r.parts(d)).get("journal", {}).get("ok"))

    await d.wait_until(journal_ready, what="the journal ready (directory synced, open-ticket index)")
    r.proxy.page = (503, b"<html>Service Unavailable</html>")  # nothing is delivered before the kill
    calls = call_blocks(5, ANSWERED)
    for _, blocks in calls:
        await r.ami.play(blocks)
    ids = [lid for lid, _ in calls]
    await d.wait_until(lambda: r.outbox_pending(d) >= 5, what="5 journal notes in the outbox")
    d.signal(signal.SIGKILL)
    await d.wait_exit()
    r.proxy.page = None
    d2 = r.start()
    await _settled_notes(r, d2, ids)
    count = count_replies(r.sim, set(ids))
    assert (count.ticketed, count.lost, count.duplicated) == (5, 0, 0), str(count)
