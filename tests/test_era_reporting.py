"""`/readyz` and `check` name the ITFlow era they detected: 26.10 (V1e) apart from v26.08 (V1d)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.support.daemon import PBX_BRIDGE, Daemon, write_config


@pytest.mark.parametrize(("profile", "era"), [("v1-2610", "era V1e v26.10+"), ("v1-head", "era V1d v26.08")])
async def test_readyz_names_the_era(itflow_sim, tmp_path: Path, profile: str, era: str) -> None:
    sim = await itflow_sim(profile)
    cfg = write_config(
        tmp_path / "c.yaml", itflow_url=sim.url, api_key=sim.keys["all"], state_dir=tmp_path / "state"
    )
    d = Daemon(cfg, log_path=tmp_path / "daemon.log").start()
    try:
        await d.wait_http("/readyz", 200)
        itflow = (await d.get("/readyz")).json()["parts"]["itflow"]
        assert itflow["ok"] is True
        assert era in str(itflow), itflow
    finally:
        d.kill()


@pytest.mark.parametrize(
    ("profile", "era", "filter_"),
    [("v1-2610", "V1e v26.10+", "honoured"), ("v1-head", "V1d v26.08", "ignored")],
)
async def test_check_names_the_era(itflow_sim, tmp_path: Path, profile: str, era: str, filter_: str) -> None:
    sim = await itflow_sim(profile)
    cfg = write_config(
        tmp_path / "c.yaml", itflow_url=sim.url, api_key=sim.keys["all"], state_dir=tmp_path / "state"
    )
    proc = await asyncio.create_subprocess_exec(
        str(PBX_BRIDGE),
        "--config",
        str(cfg),
        "check",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        stdin=asyncio.subprocess.DEVNULL,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 120)  # a hang guard, not a budget
    lines = out.decode().splitlines()
    assert any(ln.split() == ["ok", "itflow", "era:", *era.split(), "(RBAC)"] for ln in lines), lines
    assert any(ln.endswith(f"client_id filter on v1 reads: {filter_}") for ln in lines), lines
