"""``check``'s voicemail-spool line: a missing spool gets a hint that fits (no group can help there)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.support.daemon import PBX_BRIDGE, closed_port, write_config


async def _check(config: Path) -> str:
    proc = await asyncio.create_subprocess_exec(
        str(PBX_BRIDGE),
        "check",
        "--config",
        str(config),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 120)
    return out.decode()


async def test_a_missing_spool_does_not_suggest_the_asterisk_group(itflow_sim, tmp_path: Path) -> None:
    sim = await itflow_sim("v1-head")
    spool = tmp_path / "no-such-spool"
    cfg = write_config(
        tmp_path / "c.yaml",
        itflow_url=sim.url,
        api_key=sim.keys["all"],
        state_dir=tmp_path / "state",
        extra={
            "ami": {"port": closed_port(), "username": "u", "secret": "s3cret"},
            "voicemail": {"spool_root": str(spool)},
        },
    )
    out = await _check(cfg)
    line = next(x for x in out.splitlines() if "voicemail spool" in x)
    assert line.startswith("warn") and "does not exist" in line, out
    assert "asterisk group" not in line and "voicemail.spool_root" in line, line
    spool.mkdir()
    spool.chmod(0o700)
    line = next(x for x in (await _check(cfg)).splitlines() if "voicemail spool" in x)
    assert line.startswith("ok"), line  # root reads it; the group hint is for the unreadable case
