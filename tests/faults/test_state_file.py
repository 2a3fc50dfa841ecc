"""A state database emptied, deleted or corrupted between runs: noticed and said loudly; a corrupt
one does not take caller ID down."""

from __future__ import annotations

from pathlib import Path

import pytest

from .harness import call_blocks

ALICE = "4125550101"  # ACME Corp's primary contact in the simulator's default seed


@pytest.mark.parametrize("damage", ["emptied", "deleted"])
async def test_state_file_with_5_waiting_tickets_emptied_or_deleted_is_reported(
    rig, tmp_path: Path, damage: str
) -> None:
    r = await rig()
    await r.stopped_with_waiting(5)
    db = tmp_path / "state" / "pbx-bridge.sqlite3"
    for extra in (db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
        extra.unlink(missing_ok=True)
    if damage == "emptied":
        db.write_bytes(b"")
    else:
        db.unlink()
    r.proxy.page = None
    d = r.start()
    await d.wait_http("/healthz")
    state = (await r.parts(d))["state"]
    assert state["ok"] is False and "5 ticket(s) waiting" in state["detail"], state
    assert str(db) in state["detail"]
    assert "STATE DATABASE DAMAGED" in d.log()


async def test_corrupt_state_file_keeps_caller_id_and_tickets_10_calls_0_lost(rig, tmp_path: Path) -> None:
    r = await rig()
    db = tmp_path / "state" / "pbx-bridge.sqlite3"
    db.parent.mkdir(parents=True)
    db.write_bytes(b"this is not an SQLite database\n" * 200)
    d = r.start()
    await d.wait_http("/healthz")
    await d.wait_until(lambda: _cid_ok(d), what="caller ID answering from ITFlow")
    state = (await r.parts(d))["state"]
    assert state["ok"] is False and str(db) in state["detail"], state
    assert d.alive()
    await r.ami.wait_login(1)
    calls = call_blocks(10)
    for _, blocks in calls:
        await r.ami.play(blocks)
    ids = [lid for lid, _ in calls]
    await r.wait_tickets(d, ids)
    await r.settled(d)
    count = r.count(ids)
    assert (count.ticketed, count.lost, count.duplicated) == (10, 0, 0), str(count)
    assert db.read_bytes().startswith(b"this is not an SQLite database")  # kept for repair


async def _cid_ok(d) -> bool:
    try:
        resp = await d.get("/cid", params={"number": ALICE})
    except Exception:
        return False
    return resp.status_code == 200 and "Alice" in resp.text
