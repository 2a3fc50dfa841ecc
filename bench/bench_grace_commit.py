"""How soon after a call's last Hangup is it on disk? (the kill -9 window of docs/tickets.md)

``pbx-bridge run`` as a real process, the ITFlow simulator, and the fault suite's AMI feed: each call's
events are written to the daemon's AMI socket, then the state file is polled (read-only, every 1 ms)
until the call's provisional record (table ``ended_calls``) or its outbox row is there. Printed: p50,
p95 and max over the calls, with ``ami.grace`` = 3 s (the default; no ticket is decided yet when the
record lands). No assertions. Run: ``.venv/bin/python bench/bench_grace_commit.py [--calls 40]``.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from itflow_sim import Simulator  # noqa: E402
from tests.faults.harness import Rig, call_blocks  # noqa: E402


def _saved(db: Path, linkedid: str) -> bool:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=0.05) as c:
            return bool(
                c.execute(
                    "SELECT 1 FROM ended_calls WHERE linkedid=? UNION ALL "
                    "SELECT 1 FROM outbox WHERE linkedid=?",
                    (linkedid, linkedid),
                ).fetchone()
            )
    except sqlite3.Error:
        return False


async def main(n: int) -> None:
    sim = Simulator("v1-head")
    await sim.start()
    with tempfile.TemporaryDirectory() as tmp:
        rig = await Rig.make(sim, Path(tmp), grace=3.0)
        d = rig.start()
        try:
            await d.wait_http("/healthz")
            await rig.ami.wait_login(1)
            db = Path(tmp) / "state" / "pbx-bridge.sqlite3"
            lat = []
            for lid, blocks in call_blocks(n):
                await rig.ami.play(blocks)
                t0 = time.perf_counter()
                for _ in range(5000):  # at most ~5 s per call
                    if _saved(db, lid):
                        break
                    await asyncio.sleep(0.001)
                lat.append(time.perf_counter() - t0)
                await asyncio.sleep(0.05)
            lat.sort()
            print(
                f"{n} calls, ami.grace 3 s: last Hangup written -> call on disk: "
                f"p50 {statistics.median(lat) * 1000:.1f} ms, "
                f"p95 {lat[int(0.95 * (n - 1))] * 1000:.1f} ms, max {lat[-1] * 1000:.1f} ms"
            )
        finally:
            await rig.close()
            await sim.stop()


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=40)
    asyncio.run(main(ap.parse_args().calls))
