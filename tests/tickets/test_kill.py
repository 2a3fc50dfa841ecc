"""kill -9 of the daemon between the outbox commit and delivery: after a restart, delivered once."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from pathlib import Path

import pytest

from ..support.waits import wait_until
from .support import Rig, make_rig

ROOT = Path(__file__).resolve().parents[2]


async def _child(db: Path, url: str, key: str, linkedid: str, mode: str) -> asyncio.subprocess.Process:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.tickets.kill_child",
        str(db),
        url,
        key,
        linkedid,
        mode,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.stdout is not None
    async with asyncio.timeout(60):
        line = await proc.stdout.readline()
    assert line.strip() == b"COMMITTED"
    return proc


@pytest.mark.parametrize("mode", ["idle", "send"])
async def test_kill_9_then_restart_delivers_once(
    itflow_sim, tmp_path: Path, rigs: list[Rig], mode: str
) -> None:
    sim = await itflow_sim("v1-head")
    db = tmp_path / "state.sqlite3"
    linkedid = "1800000100.1"
    if mode == "send":
        sim.delay = 1.0  # the create request is on its way when the process dies
    proc = await _child(db, sim.url, sim.keys["all"], linkedid, mode)
    if mode == "send":
        await wait_until(
            lambda: any(linkedid.encode() in r.body for r in sim.requests),
            timeout=60,
            what="the create request of the child reaching ITFlow",
        )
    os.kill(proc.pid, signal.SIGKILL)
    await proc.wait()
    sim.delay = 0.0
    rig = await make_rig(sim, tmp_path, db=db.name)
    rigs.append(rig)
    if mode == "send":
        # ITFlow may still commit the request of the dead process: let it finish first.
        # It may also never commit it; the assertions below hold either way, so a timeout is no failure.
        with contextlib.suppress(AssertionError):
            await wait_until(lambda: len(rig.tickets) == 1, timeout=5, what="the dead child's ticket")
        (row,) = rig.outbox.rows(("pending",))
        assert row.in_flight
    rig.clock.now = 4_000_000_000.0
    await rig.worker.run_once()
    assert rig.outbox.counts() == {"delivered": 1}
    assert [t for t in rig.tickets if f"call={linkedid};" in t["ticket_details"]] == rig.tickets
    assert len(rig.tickets) == 1
