"""FastAGI under a flood: real caller-ID latency with and without 1,500 slow connections + 100,000 junk lines.

Run:  .venv/bin/python bench/bench_fastagi_flood.py [--requests 300] [--slow 1500] [--junk-lines 100000]
      [--sitters 0] [--nofile 1024] [--max-connections N] [--json]

The real daemon (``pbx-bridge run``, its open-file limit set to ``--nofile`` as under a unit without
LimitNOFILE=) against the ITFlow simulator on loopback. Real requests are placed one at a time as Asterisk
places them (``cid`` route, every command answered); the flood runs in another process
(tests/support/agi_flood.py). Printed side by side: p50 / p99 / max latency of a whole request (connect to
the server closing the session), with the count of refused requests and of wrong names next to them, and
the daemon's log growth during each phase.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import yaml

from itflow_sim import Simulator
from tests.support.agi_flood import Answer, flood_result, real_request, start_flood
from tests.support.daemon import Daemon, write_config

ALICE = "4125550101"
ALICE_NAME = "ACME Corp - Alice Anderson"


def _figures(name: str, answers: list[Answer], log_lines: int, log_bytes: int) -> dict[str, Any]:
    ms = sorted(a.seconds * 1000 for a in answers)
    q = statistics.quantiles(ms, n=100) if len(ms) >= 2 else ms * 99
    return {
        "phase": name,
        "requests": len(answers),
        "refused": sum(a.refused for a in answers),
        "wrong": sum(f'SET VARIABLE CALLERID(name) "{ALICE_NAME}"' not in a.commands for a in answers),
        "p50_ms": round(q[49], 2),
        "p99_ms": round(q[98], 2),
        "max_ms": round(ms[-1], 2),
        "log_lines": log_lines,
        "log_bytes": log_bytes,
    }


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


async def _phase(d: Daemon, port: int, n: int) -> tuple[list[Answer], int, int]:
    before = d.log()
    answers = []
    for _ in range(n):
        answers.append(await real_request(port, ALICE))
        await asyncio.sleep(0.01)
    after = d.log()
    lines = len(after.splitlines()) - len(before.splitlines())
    return answers, lines, len(after.encode()) - len(before.encode())


async def main(args: argparse.Namespace) -> list[dict[str, Any]]:
    sim = Simulator("v1-head")
    await sim.start()
    with tempfile.TemporaryDirectory(prefix="pbxb-flood-") as tmp:
        work = Path(tmp)
        fastagi: dict[str, Any] = {"max_connections": args.max_connections} if args.max_connections else {}
        cfg = write_config(
            work / "c.yaml",
            itflow_url=sim.url,
            api_key=sim.keys["all"],
            state_dir=work / "state",
            extra={"phonebook": {"enabled": False}, "fastagi": fastagi},
        )
        port = int(yaml.safe_load(cfg.read_text())["fastagi"]["port"])
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(args.nofile, hard), hard))
        try:
            d = Daemon(cfg, log_path=work / "daemon.log").start()
        finally:
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        try:
            await d.wait_http("/readyz", 200)
            quiet = _figures("no flood", *await _phase(d, port, args.requests))
            seconds = max(5.0, args.requests * 0.05 + 3)
            flood = start_flood(
                port, slow=args.slow, junk_lines=args.junk_lines, seconds=seconds, sitters=args.sitters
            )
            await asyncio.sleep(1.5)
            sat = f" + {args.sitters} sitting" if args.sitters else ""
            loud = _figures(
                f"flood ({args.slow} slow + {args.junk_lines} junk lines{sat})",
                *await _phase(d, port, args.requests),
            )
            loud["daemon_rss_mb_during_flood"] = _rss_mb(d.pid)
            loud["flood"] = await asyncio.to_thread(flood_result, flood)
        finally:
            if args.show_log:
                print(d.log()[-3000:])
            d.kill()
            await sim.stop()
    return [quiet, loud]


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--requests", type=int, default=300)
    p.add_argument("--slow", type=int, default=1500)
    p.add_argument("--junk-lines", type=int, default=100_000)
    p.add_argument("--nofile", type=int, default=1024)
    p.add_argument(
        "--sitters",
        type=int,
        default=0,
        help="connections sending a whole environment, then never answering the first command",
    )
    p.add_argument("--max-connections", type=int, default=0, help="fastagi.max_connections (0: default)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--show-log", action="store_true", help="print the daemon's log tail at the end")
    rows = asyncio.run(main(p.parse_args()))
    if p.parse_args().json:
        print(json.dumps(rows, indent=2))
    else:
        print(
            f"{'phase':<45} {'n':>5} {'refused':>7} {'wrong':>5} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} "
            f"{'log lines':>9} {'log bytes':>9}"
        )
        for r in rows:
            print(
                f"{r['phase']:<45} {r['requests']:>5} {r['refused']:>7} {r['wrong']:>5} {r['p50_ms']:>8} "
                f"{r['p99_ms']:>8} {r['max_ms']:>8} {r['log_lines']:>9} {r['log_bytes']:>9}"
            )
        print("flood:", rows[1]["flood"])
        print("daemon RSS during the flood:", rows[1]["daemon_rss_mb_during_flood"], "MB")
