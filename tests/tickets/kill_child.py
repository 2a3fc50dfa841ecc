"""Child process for the kill -9 test: commit one outbox row, then (optionally) start delivering it.

Usage: python -m tests.tickets.kill_child DB URL KEY LINKEDID MODE   (MODE: idle | send)
Prints COMMITTED once the row is on disk; the parent kills it with SIGKILL.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

from pbx_bridge.itflow.backend import Itflow
from pbx_bridge.store import Store
from pbx_bridge.tickets.outbox import Outbox
from pbx_bridge.tickets.render import call_marker
from pbx_bridge.tickets.settings import TicketsSettings
from pbx_bridge.tickets.worker import OutboxWorker


async def main(db: str, url: str, key: str, linkedid: str, mode: str) -> None:
    store = Store(Path(db))
    outbox = Outbox(store, clock=time.time)
    marker = call_marker(linkedid, "missed")
    outbox.enqueue(
        linkedid,
        "missed",
        {
            "subject": f"Missed call {linkedid}",
            "details": f"<p>{marker}</p>",
            "priority": "Low",
            "marker": marker,
        },
        number="+14125559999",
    )
    print("COMMITTED", flush=True)
    if mode == "idle":
        await asyncio.sleep(300)
        return
    itflow = Itflow(url, key, api="v1", timeout=120)
    assert itflow.v1 is not None
    worker = OutboxWorker(outbox, itflow.v1, itflow.capabilities, TicketsSettings(), clock=time.time)
    await worker.run_once()
    await asyncio.sleep(300)


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:6]))
