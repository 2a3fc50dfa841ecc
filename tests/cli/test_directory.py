"""``pbx-bridge directory ...`` run as real processes against the simulator.

The simulator serves from this test's event loop, so the CLI runs through asyncio's subprocess API.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

from tests.directory.conftest import settings_text

HANG_GUARD = 60.0


async def run_cli(config: Path, *args: str) -> tuple[int, str, str]:
    env = {**os.environ, "PBX_BRIDGE_CONFIG": str(config)}
    env.pop("PBX_BRIDGE_ITFLOW_API_KEY", None)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "pbx_bridge.cli",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(HANG_GUARD):
        out, err = await proc.communicate()
    return proc.returncode or 0, out.decode(), err.decode()


async def write_config(tmp_path: Path, sim, extra: str = "") -> Path:
    cfg = tmp_path / "config.yaml"
    cfg.write_text(settings_text(sim.url, sim.keys["all"], tmp_path / "state", extra))
    cfg.chmod(0o600)
    return cfg


async def test_directory_sync_stats_and_show(itflow_sim, tmp_path) -> None:
    sim = await itflow_sim("v1-head")
    c = sim.db.add_client("Stats Co")
    sim.db.add_contact(c, "Stan Stats", phone="4125554301", email="s@stats.example")
    sim.db.add_vendor("Bell & Whistle Stats", phone="4125554302")
    cfg = await write_config(tmp_path, sim)
    code, out, err = await run_cli(cfg, "directory", "sync", "--json")
    assert code == 0, err
    stats = json.loads(out)
    assert stats["source"] == "v1" and stats["numbers"] >= 2 and stats["by_kind"]["vendor"] >= 1
    code, out, _ = await run_cli(cfg, "directory", "stats")
    assert code == 0 and "numbers:" in out and "source: v1" in out
    code, out, _ = await run_cli(cfg, "directory", "show", "--kind", "vendor")
    assert code == 0 and "Bell & Whistle Stats" in out and "Stan Stats" not in out
    code, out, _ = await run_cli(cfg, "directory", "show", "--json")
    names = {p["name"] for p in json.loads(out)}
    assert {"Stan Stats", "Bell & Whistle Stats"} <= names


async def test_no_directory_and_itflow_down_is_a_clear_failure(itflow_sim, tmp_path) -> None:
    sim = await itflow_sim("v1-head")
    sim.down = True
    cfg = await write_config(tmp_path, sim)
    code, out, err = await run_cli(cfg, "directory", "stats")
    assert code == 1 and out == "" and "ITFlow" in err and "Traceback" not in err
