"""``pbx-bridge lookup`` and ``pbx-bridge directory ...`` run as real processes against the simulator.

The simulator serves from this test's event loop, so the CLI runs through asyncio's subprocess API.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest

from .conftest import settings_text

HANG_GUARD = 60.0


async def run_cli(config: Path, *args: str) -> tuple[int, str, str]:
    env = {**os.environ, "PBX_BRIDGE_CONFIG": str(config)}
    env.pop("PBX_BRIDGE_ITFLOW_API_KEY", None)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "pbx_bridge.cli", *args, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    async with asyncio.timeout(HANG_GUARD):
        out, err = await proc.communicate()
    return proc.returncode or 0, out.decode(), err.decode()


async def write_config(tmp_path: Path, sim, extra: str = "") -> Path:
    cfg = tmp_path / "config.yaml"
    cfg.write_text(settings_text(sim.url, sim.keys["all"], tmp_path / "state", extra))
    cfg.chmod(0o600)
    return cfg


@pytest.mark.parametrize("profile", ["v1-head", "legacy-2022"])
async def test_lookup_syncs_first_then_answers_from_the_stored_directory(itflow_sim, tmp_path,
                                                                         profile) -> None:
    sim = await itflow_sim(profile)
    c = sim.db.add_client("Cli Co")
    sim.db.add_contact(c, "Cleo Cli", phone="4125554101", mobile="4125554102", email="c@cli.example",
                       primary=True)
    cfg = await write_config(tmp_path, sim)
    code, out, err = await run_cli(cfg, "lookup", "+1 (412) 555-4102", "--json")
    assert code == 0, err
    assert "syncing" in err
    answer = json.loads(out)
    assert (answer["match"], answer["display"], answer["number"], answer["source"]) == (
        "contact", "Cli Co - Cleo Cli", "+14125554102", "index")
    # Second run: the stored directory answers, no sync, even with ITFlow down.
    sim.down = True
    code, out, err = await run_cli(cfg, "lookup", "4125554101")
    assert code == 0 and "syncing" not in err
    assert out.startswith("+14125554101  contact  Cli Co - Cleo Cli  (from index")
    if profile == "v1-head":
        assert f"client {c}, contact " in out
    code, out, err = await run_cli(cfg, "directory", "sync")
    assert code == 1 and "ITFlow" in err


async def test_lookup_of_unknown_internal_and_anonymous(itflow_sim, tmp_path) -> None:
    sim = await itflow_sim("v1-head")
    cfg = await write_config(tmp_path, sim)
    code, out, _ = await run_cli(cfg, "lookup", "4125554199")
    assert code == 0 and out.startswith("+14125554199  none")
    code, out, _ = await run_cli(cfg, "lookup", "201")
    assert code == 0 and "internal extension" in out
    code, out, _ = await run_cli(cfg, "lookup", "anonymous", "--json")
    assert code == 0 and json.loads(out)["match"] == "none" and json.loads(out)["reason"] == "anonymous"


async def test_lookup_live_asks_itflow_even_for_a_known_number(itflow_sim, tmp_path) -> None:
    sim = await itflow_sim("v1-v25")
    c = sim.db.add_client("Live Cli Co")
    sim.db.add_contact(c, "Lars Live", phone="4125554201", email="l@lc.example")
    cfg = await write_config(tmp_path, sim)
    code, out, err = await run_cli(cfg, "lookup", "4125554201", "--live", "--json")
    assert code == 0, err
    assert (json.loads(out)["source"], json.loads(out)["display"]) == ("live", "Live Cli Co - Lars Live")


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
