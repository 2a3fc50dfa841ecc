"""Latency probe: the real daemon with a 100,000-party directory, FastAGI ``cid`` requests at a steady rate
while it starts cold, syncs, republishes the phonebook and restarts warm.

Run:  .venv/bin/python bench/bench_latency.py [--parties 100000] [--rate 100] [--json]

One ``pbx-bridge run`` process (phonebook on, every format, the daemon's own page size) against the ITFlow
simulator in a child process (bench/directory_sim.py). The probe (this process) opens one FastAGI request
every 1/rate s on a schedule (a stalled daemon shows as latency, not as fewer samples) and answers every
command as Asterisk does. Printed per phase: requests, refused, correct answers, p50 / p99 / max of a
whole request, next to the issue's target; the daemon's RSS (VmRSS) idle and its peak during the phase
(sampled every 20 ms), and the sync's CPU seconds (the daemon's utime+stime over the phase).

Phases: cold start (no stored state: time until FastAGI answers at all, and until it names the caller),
idle, a sync of the unchanged directory, a sync after one contact was renamed (pull + index + phonebook
republish), and a warm restart (state stored: time until it names the caller).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx
import yaml
from directory_sim import FIRST_NAME, FIRST_NUMBER, start_sim

from tests.support.agi_flood import Answer, real_request
from tests.support.daemon import Daemon, write_config

_NAMED = f'SET VARIABLE CALLERID(name) "{FIRST_NAME}"'
_CLK = os.sysconf("SC_CLK_TCK")


def _status(pid: int, key: str) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _cpu(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _CLK


@dataclass
class Phase:
    name: str
    target: str = ""
    answers: list[Answer] = field(default_factory=list)
    peak_rss: float = 0.0
    cpu: float = 0.0
    wall: float = 0.0

    def figures(self) -> dict[str, Any]:
        ms = sorted(a.seconds * 1000 for a in self.answers) or [0.0]
        q = statistics.quantiles(ms, n=100) if len(ms) >= 2 else ms * 99
        return {
            "phase": self.name,
            "requests": len(self.answers),
            "refused": sum(a.refused for a in self.answers),
            "named": sum(_NAMED in a.commands for a in self.answers),
            "p50_ms": round(q[49], 2),
            "p99_ms": round(q[98], 2),
            "max_ms": round(ms[-1], 2),
            "target": self.target,
            "peak_rss_mb": round(self.peak_rss, 1),
            "cpu_s": round(self.cpu, 2),
            "wall_s": round(self.wall, 2),
        }


class Probe:
    """Steady FastAGI requests into ``port``; every answer lands in the current phase."""

    def __init__(self, port: int, rate: float) -> None:
        self.port, self.period = port, 1.0 / rate
        self.phase: Phase | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._runner: asyncio.Task[None] | None = None

    async def _one(self, phase: Phase) -> None:
        phase.answers.append(await real_request(self.port, FIRST_NUMBER))

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        nxt = loop.time()
        while True:
            if self.phase is not None:
                t = loop.create_task(self._one(self.phase))
                self._tasks.add(t)
                t.add_done_callback(self._tasks.discard)
            nxt += self.period
            await asyncio.sleep(max(0.0, nxt - loop.time()))

    def start(self) -> None:
        self._runner = asyncio.get_running_loop().create_task(self._run())

    async def settle(self) -> None:
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=30)

    async def stop(self) -> None:
        if self._runner is not None:
            self._runner.cancel()
        await self.settle()


async def _measure(probe: Probe, phase: Phase, pid: int, work: Any) -> Phase:
    """Run ``work()`` (a coroutine function) with the probe feeding ``phase``; sample RSS meanwhile."""
    probe.phase = phase
    cpu0, t0 = _cpu(pid), time.perf_counter()
    done = asyncio.ensure_future(work())
    while not done.done():
        phase.peak_rss = max(phase.peak_rss, _status(pid, "VmRSS"))
        await asyncio.sleep(0.02)
    await done
    phase.wall, phase.cpu = time.perf_counter() - t0, _cpu(pid) - cpu0
    probe.phase = None
    await probe.settle()
    phase.peak_rss = max(phase.peak_rss, _status(pid, "VmRSS"))
    return phase


async def _published(d: Daemon, count: int, limit: float = 300) -> None:
    await d.wait_until(
        lambda: d.log().count("phonebook: published") >= count,
        what=f"phonebook publish #{count}",
        limit=limit,
    )


async def _until_named(port: int, limit: float) -> tuple[float | None, float | None, int]:
    """(seconds until the first answer of any kind, until the first correct name, refused requests)."""
    t0 = time.perf_counter()
    first = named = None
    refused = 0
    while time.perf_counter() - t0 < limit:
        a = await real_request(port, FIRST_NUMBER)
        now = time.perf_counter() - t0
        if a.refused:
            refused += 1
        elif first is None:
            first = now
        if _NAMED in a.commands:
            named = now
            break
        await asyncio.sleep(0.01)
    return first, named, refused


async def main(args: argparse.Namespace) -> dict[str, Any]:
    t = time.perf_counter()
    sim = await start_sim(args.parties)
    print(f"simulator seeded with {args.parties} parties in {time.perf_counter() - t:.1f} s", file=sys.stderr)
    out: dict[str, Any] = {"parties": args.parties}
    with tempfile.TemporaryDirectory(prefix="pbxb-latency-") as tmp:
        work = Path(tmp)
        cfg = write_config(
            work / "c.yaml",
            itflow_url=sim.url,
            api_key=sim.key,
            state_dir=work / "state",
            extra={
                "itflow": {"timeout": 120},
                "phonebook": {"output_dir": str(work / "book"), "run_at_start": True},
            },
        )
        port = int(yaml.safe_load(cfg.read_text())["fastagi"]["port"])
        d = Daemon(cfg, log_path=work / "daemon.log").start()
        probe = Probe(port, args.rate)
        try:
            first, named, refused = await _until_named(port, 300)
            out["cold_start"] = {
                "first_answer_s": first,
                "first_named_s": named,
                "refused_before": refused,
                "target": "answers within 1 s (no match until the first sync is in)",
            }
            await _published(d, 1)
            await asyncio.sleep(1)
            probe.start()
            phases = [
                await _measure(probe, Phase("idle", "p99 6.4 ms today"), d.pid, lambda: asyncio.sleep(3)),
            ]
            out["idle_rss_mb"] = round(_status(d.pid, "VmRSS"), 1)

            async def sync() -> None:
                async with httpx.AsyncClient(base_url=d.base, timeout=600) as http:
                    (await http.post("/directory/sync")).raise_for_status()
                await asyncio.sleep(1)

            phases.append(
                await _measure(probe, Phase("sync, unchanged directory", "max <= 10 ms"), d.pid, sync)
            )

            async def changed() -> None:
                await sim.rename()
                await sync()
                await _published(d, 2)
                await asyncio.sleep(1)

            phases.append(
                await _measure(
                    probe, Phase("sync + phonebook republish (1 rename)", "max <= 10 ms"), d.pid, changed
                )
            )
            await probe.stop()
            out["idle_rss_after_mb"] = round(_status(d.pid, "VmRSS"), 1)
            out["hwm_rss_mb"] = round(_status(d.pid, "VmHWM"), 1)
            out["phases"] = [p.figures() for p in phases]
            d.signal(__import__("signal").SIGTERM)
            await d.wait_exit()
            d2 = Daemon(cfg, log_path=work / "daemon2.log").start()
            try:
                first, named, refused = await _until_named(port, 300)
                out["warm_start"] = {
                    "first_answer_s": first,
                    "first_named_s": named,
                    "refused_before": refused,
                    "target": "names the caller within 1 s",
                }
            finally:
                d2.kill()
        finally:
            await probe.stop()
            if args.show_log:
                print(d.log()[-4000:], file=sys.stderr)
            d.kill()
            await sim.stop()
    return out


def report(r: dict[str, Any]) -> None:
    print(f"latency probe, {r['parties']} parties, real daemon (bench/bench_latency.py)")
    c, w = r["cold_start"], r["warm_start"]
    print(
        f"cold start: first FastAGI answer after {c['first_answer_s']} s, caller named after "
        f"{c['first_named_s']} s, {c['refused_before']} refused   [target: {c['target']}]"
    )
    print(
        f"warm start: first answer after {w['first_answer_s']} s, caller named after {w['first_named_s']} s, "
        f"{w['refused_before']} refused   [target: {w['target']}]"
    )
    print(
        f"{'phase':<40} {'n':>5} {'refused':>7} {'named':>6} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} "
        f"{'peak RSS':>8} {'CPU s':>6} {'wall s':>6}  target"
    )
    for p in r["phases"]:
        print(
            f"{p['phase']:<40} {p['requests']:>5} {p['refused']:>7} {p['named']:>6} {p['p50_ms']:>7} "
            f"{p['p99_ms']:>7} {p['max_ms']:>7} {p['peak_rss_mb']:>8} {p['cpu_s']:>6} {p['wall_s']:>6}  "
            f"{p['target']}"
        )
    print(
        f"daemon RSS idle {r['idle_rss_mb']} MB before the syncs, {r['idle_rss_after_mb']} MB after; "
        f"high-water {r['hwm_rss_mb']} MB   [target: idle <= 150 MB, peak <= 200 MB]"
    )


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--parties", type=int, default=100_000)
    p.add_argument("--rate", type=float, default=100.0, help="FastAGI requests per second")
    p.add_argument("--json", action="store_true")
    p.add_argument("--show-log", action="store_true")
    a = p.parse_args()
    result = asyncio.run(main(a))
    print(json.dumps(result, indent=2)) if a.json else report(result)
