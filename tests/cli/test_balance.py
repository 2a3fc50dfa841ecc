"""``pbx-bridge balance`` and ``prompts build`` as a user runs them (subprocess, real simulator)."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest

from itflow_sim import Simulator


async def _cli(*argv: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "pbx_bridge.cli",
        *argv,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=120)
    return proc.returncode or 0, out.decode(), err.decode()


def _config(tmp: Path, sim: Simulator, extra: str = "") -> str:
    path = tmp / "config.yaml"
    path.write_text(
        f"itflow: {{url: '{sim.url}', api_key: '{sim.keys['all']}', timeout: 5}}\n"
        f"state_dir: '{tmp / 'state'}'\n{extra}"
    )
    path.chmod(0o600)
    return str(path)


@pytest.mark.parametrize(
    ("profile", "client", "amount", "exact"),
    [
        ("v1-v25", "1", "230.50", True),
        ("legacy-2022", "1", "290.50", True),
        ("v1-head", "1", "290.00", False),
    ],
)
async def test_balance_by_client_id_json(itflow_sim, tmp_path, profile, client, amount, exact) -> None:
    sim = await itflow_sim(profile)
    code, out, err = await _cli("-c", _config(tmp_path, sim), "balance", "--client-id", client, "--json")
    assert code == 0, err
    data = json.loads(out)
    assert (data["amount"], data["exact"], data["client_id"]) == (amount, exact, 1)


async def test_balance_text_and_by_caller(itflow_sim, tmp_path) -> None:
    sim = await itflow_sim("v1-v25")
    cfg = _config(tmp_path, sim)
    code, out, _ = await _cli("-c", cfg, "balance", "--caller", "+1 (412) 555-0101")
    assert code == 0
    assert out.splitlines()[0] == "client 1 (ACME Corp): 230.50 USD  [exact]"
    assert "4 of 7 invoices counted, 3 payments" in out
    code, _, err = await _cli("-c", cfg, "balance", "--caller", "8005550123")  # a vendor
    assert code == 1 and "not tied to one client" in err


async def test_balance_unknown_client_is_an_error(itflow_sim, tmp_path) -> None:
    sim = await itflow_sim("v1-v25")
    code, _, err = await _cli("-c", _config(tmp_path, sim), "balance", "--client-id", "999")
    assert code == 1 and "no client with id 999" in err


async def test_prompts_build_writes_asterisk_wavs(tmp_path) -> None:
    code, out, err = await _cli("prompts", "build", "--sounds-dir", str(tmp_path), "--json")
    assert code == 0, err
    built = {Path(b["path"]).name: b["action"] for b in json.loads(out)}
    assert built["pbxb-cents.wav"] == "written" and built["pbxb-your-balance-is.wav"] == "written"
    proc = await asyncio.create_subprocess_exec(
        "soxi", str(tmp_path / "en/custom/pbxb-cents.wav"), stdout=asyncio.subprocess.PIPE
    )
    info = (await proc.communicate())[0].decode()
    assert "Sample Rate    : 8000" in info and "Channels       : 1" in info and "16-bit" in info
    code, out, _ = await _cli("prompts", "build", "--sounds-dir", str(tmp_path), "--json")
    assert {b["action"] for b in json.loads(out)} == {"kept"}  # never overwritten without --force
