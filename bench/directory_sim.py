"""The ITFlow simulator seeded with a large directory, in a child process of its own (its tables and its
page serving are not the measured process's), controlled over stdin.

Seeding: ``n`` parties (80 % contacts with an office and a mobile number, 10 % locations, 10 % vendors),
one client per 50 parties; the same data as ``bench_phonebook.py`` has always used. Commands, one per
line on the child's stdin: ``rename`` renames the last contact (not the one the probe asks for; the
next sync is a changed directory: the phonebook republishes), answered ``ok``; end of input stops the
simulator.
"""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import dataclass

__all__ = ["SIM_SCRIPT", "SimChild", "start_sim"]

SIM_SCRIPT = r"""
import asyncio, json, sys
from itflow_sim import Simulator

async def main(n):
    sim = Simulator("v1-head")
    db = sim.db
    clients = [db.add_client(f"Client {c:04d} & Sons") for c in range(max(1, n // 50))]
    contacts = n * 8 // 10
    locations = n // 10
    vendors = n - contacts - locations
    last = 0
    for i in range(contacts):
        last = db.add_contact(clients[i % len(clients)], f"Person {i:06d} <{i % 7}>",
                             phone=f"412{(2 * i) % 10**7:07d}", mobile=f"724{(2 * i + 1) % 10**7:07d}")
    for i in range(locations):
        db.add_location(clients[i % len(clients)], f"Site {i:06d}", phone=f"650{i % 10**7:07d}")
    for i in range(vendors):
        db.add_vendor(f"Vendor {i:06d} \"Q\"", phone=f"800{i % 10**7:07d}")
    await sim.start()
    print(json.dumps({"url": sim.url, "key": sim.keys["all"]}), flush=True)
    loop = asyncio.get_running_loop()
    renames = 0
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:
            break
        if line.strip() == "rename":
            renames += 1
            for row in db.tables["contacts"]:
                if row["contact_id"] == str(last):
                    row["contact_name"] = f"Person renamed {renames}"
            print("ok", flush=True)
    await sim.stop()

asyncio.run(main(int(sys.argv[1])))
"""

# The first contact's numbers and name as seeded (what a correct caller-ID answer names).
FIRST_NUMBER = "4120000000"
FIRST_NAME = "Client 0000 & Sons - Person 000000 <0>"


@dataclass
class SimChild:
    proc: asyncio.subprocess.Process
    url: str
    key: str

    async def rename(self) -> None:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(b"rename\n")
        await self.proc.stdin.drain()
        await asyncio.wait_for(self.proc.stdout.readline(), timeout=60)

    async def stop(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            await asyncio.wait_for(self.proc.wait(), timeout=30)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()


async def start_sim(parties: int) -> SimChild:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        SIM_SCRIPT,
        str(parties),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    info = json.loads(await asyncio.wait_for(proc.stdout.readline(), timeout=600))
    return SimChild(proc, info["url"], info["key"])
