"""The real daemon under a FastAGI flood on loopback: 1,500 slow connections re-opened as fast as the
server closes them plus one connection sending 100,000 junk lines, with the open-file limit at 1,024 (the
unit default the flood once exhausted). Real caller-ID requests placed meanwhile all get the right name,
none is refused, and the log stays a few dozen lines. Latency under the flood: bench/bench_fastagi_flood.py.
"""

from __future__ import annotations

import asyncio
import resource
from pathlib import Path

import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.support.agi_flood import flood_result, real_request, start_flood
from tests.support.daemon import Daemon, write_config

ALICE = "4125550101"  # ACME Corp's primary contact in the simulator's default seed
ALICE_NAME = "ACME Corp - Alice Anderson"
REAL_REQUESTS = 150


def _start_with_fd_limit(cfg: Path, log: Path, limit: int) -> Daemon:
    """Start the daemon with ``limit`` open files (inherited), as under a unit without LimitNOFILE=."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (limit, hard))
    try:
        return Daemon(cfg, log_path=log).start()
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


async def _dropped(d: Daemon) -> dict[str | None, float]:
    return {
        s.labels.get("reason"): s.value
        for f in text_string_to_metric_families((await d.get("/metrics")).text)
        if f.name == "pbx_bridge_agi_connections_dropped"
        for s in f.samples
        if s.name.endswith("_total")
    }


async def _cap_reached(d: Daemon) -> bool:
    """Wait (bounded: 200 polls, about 10 s) until the flood fills the cap and pushes connections out."""
    for _ in range(200):
        if (await _dropped(d)).get("evicted", 0) >= 1:
            return True
        await asyncio.sleep(0.05)
    return False


async def test_flood_1500_slow_and_100000_junk_lines_0_refused_0_wrong_names_small_log(
    itflow_sim, tmp_path: Path
) -> None:
    sim = await itflow_sim("v1-head")
    cfg = write_config(
        tmp_path / "c.yaml",
        itflow_url=sim.url,
        api_key=sim.keys["all"],
        state_dir=tmp_path / "state",
        extra={"phonebook": {"enabled": False}},
    )
    port = int(yaml.safe_load(cfg.read_text())["fastagi"]["port"])
    d = _start_with_fd_limit(cfg, tmp_path / "daemon.log", 1024)
    try:
        await d.wait_http("/readyz", 200)
        before = len(d.log().splitlines())
        flood = start_flood(port, slow=1500, junk_lines=100_000, seconds=10)
        assert await _cap_reached(d), "the flood never filled the connection cap"
        answers = []
        for _ in range(REAL_REQUESTS):
            answers.append(await real_request(port, ALICE))
            await asyncio.sleep(0.02)
        counts = await asyncio.to_thread(flood_result, flood)
        assert d.alive()
        health = (await d.get("/readyz")).json()
        metrics = await _dropped(d)
    finally:
        d.kill()
    assert counts["opened"] >= 1500, counts  # the flood really ran ...
    assert counts["closed_by_server"] >= 500, counts  # ... and the cap pushed it out
    refused = [a for a in answers if a.refused]
    wrong = [a for a in answers if f'SET VARIABLE CALLERID(name) "{ALICE_NAME}"' not in a.commands]
    assert (len(refused), len(wrong)) == (0, 0), (refused[:3], wrong[:3])
    assert health["parts"]["fastagi"]["ok"]
    assert metrics.get("evicted", 0) >= 500 and metrics.get("junk_closed") == 1, metrics  # visible to ops
    log = d.log()
    flood_lines = log.splitlines()[before:]
    assert "Traceback" not in log
    assert len(flood_lines) <= 40, "\n".join(flood_lines[:60])
    assert len(log.encode()) <= 20_000
