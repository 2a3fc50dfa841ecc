"""``pbx-bridge check`` as a subprocess against the ITFlow simulator over real HTTP on loopback."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from tests.support.daemon import PBX_BRIDGE, closed_port, write_config
from tests.support.sim_fixtures import ALL_PROFILES


async def _check(config: Path, *args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        str(PBX_BRIDGE),
        "--config",
        str(config),
        "check",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        stdin=asyncio.subprocess.DEVNULL,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def _levels(stdout: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in stdout.splitlines():
        level, _, rest = line.partition(" ")
        out.setdefault(level, []).append(rest.strip())
    return out


@pytest.mark.parametrize("profile", ALL_PROFILES)
async def test_check_passes_against_every_era(itflow_sim, tmp_path: Path, profile: str) -> None:
    sim = await itflow_sim(profile)
    cfg = write_config(
        tmp_path / "c.yaml", itflow_url=sim.url, api_key=sim.keys["all"], state_dir=tmp_path / "state"
    )
    rc, out, err = await _check(cfg)
    assert rc == 0, out + err
    levels = _levels(out)
    assert "fail" not in levels, out
    assert any(line.startswith("itflow: ") and "key accepted" in line for line in levels["ok"]), out
    assert any(line.startswith("itflow era: ") for line in levels["ok"]), out
    if profile == "legacy-2022":
        # 2022's ITFlow has no v1 tickets/create: a feature the era cannot provide is a warning, and
        # the fix is an upgrade, not a role.
        ticket_warns = [line for line in levels.get("warn", []) if "tickets" in line]
        assert ticket_warns, out
        assert all("upgrade ITFlow" in line for line in ticket_warns), out
    # Every line is one of the four levels.
    assert set(levels) <= {"ok", "warn", "info", "fail"}, out


async def test_check_warns_for_a_readonly_key(itflow_sim, tmp_path: Path) -> None:
    sim = await itflow_sim("v1-head")
    cfg = write_config(
        tmp_path / "c.yaml", itflow_url=sim.url, api_key=sim.keys["readonly"], state_dir=tmp_path / "state"
    )
    rc, out, _ = await _check(cfg)
    assert rc == 0, out
    warns = _levels(out).get("warn", [])
    assert any("tickets" in w for w in warns), out
    assert all("(fix: " in w for w in warns), out


async def test_wrong_key_fails_with_exit_1(itflow_sim, tmp_path: Path) -> None:
    sim = await itflow_sim("v1-head")
    cfg = write_config(
        tmp_path / "c.yaml",
        itflow_url=sim.url,
        api_key="WrongKey0000000000000000000000000",
        state_dir=tmp_path / "state",
    )
    rc, out, _ = await _check(cfg)
    assert rc == 1, out
    fails = _levels(out)["fail"]
    assert any(f.startswith("itflow key:") and "refused" in f for f in fails), out
    assert "WrongKey" not in out


async def test_itflow_down_fails(itflow_sim, tmp_path: Path) -> None:
    sim = await itflow_sim("v1-v25")
    sim.down = True
    cfg = write_config(
        tmp_path / "c.yaml", itflow_url=sim.url, api_key=sim.keys["all"], state_dir=tmp_path / "state"
    )
    rc, out, _ = await _check(cfg)
    assert rc == 1, out
    assert any(f.startswith("itflow") for f in _levels(out)["fail"]), out


async def test_ami_on_a_closed_port_fails(itflow_sim, tmp_path: Path) -> None:
    sim = await itflow_sim("v1-head")
    port = closed_port()
    cfg = write_config(
        tmp_path / "c.yaml",
        itflow_url=sim.url,
        api_key=sim.keys["all"],
        state_dir=tmp_path / "state",
        extra={
            "ami": {
                "host": "127.0.0.1",
                "port": port,
                "username": "pbx-bridge",
                "secret": "AmiSecretNeverPrinted",
            }
        },
    )
    rc, out, err = await _check(cfg)
    assert rc == 1, out
    fails = _levels(out)["fail"]
    assert any(f.startswith(f"ami: 127.0.0.1:{port}: cannot connect") and "(fix: " in f for f in fails), out
    assert "AmiSecretNeverPrinted" not in out + err


async def test_json_output(itflow_sim, tmp_path: Path) -> None:
    sim = await itflow_sim("legacy-2022")
    cfg = write_config(
        tmp_path / "c.yaml", itflow_url=sim.url, api_key=sim.keys["all"], state_dir=tmp_path / "state"
    )
    rc, out, _ = await _check(cfg, "--json")
    assert rc == 0
    items = json.loads(out)
    assert isinstance(items, list) and items
    for item in items:
        assert set(item) == {"level", "name", "detail", "hint"}
        assert item["level"] in ("ok", "warn", "info", "fail")
    by_name = {i["name"]: i for i in items}
    assert by_name["config"]["level"] == "ok"
    assert by_name["ami"]["level"] == "info"  # not configured
    assert any(i["level"] == "warn" and i["hint"] for i in items)


async def test_config_readable_by_others_is_a_warning(itflow_sim, tmp_path: Path) -> None:
    sim = await itflow_sim("v1-head")
    cfg = write_config(
        tmp_path / "c.yaml", itflow_url=sim.url, api_key=sim.keys["all"], state_dir=tmp_path / "state"
    )
    cfg.chmod(0o644)
    rc, out, _ = await _check(cfg)
    assert rc == 0
    assert any(w.startswith("config:") and "readable by others" in w for w in _levels(out)["warn"]), out


@pytest.mark.parametrize("damage", ["corrupt", "emptied"])
async def test_check_fails_on_a_damaged_state_file(itflow_sim, tmp_path: Path, damage: str) -> None:
    # A daemon on a damaged file runs on a temporary in-memory store: `check` must say so too.
    sim = await itflow_sim("v1-head")
    state = tmp_path / "state"
    cfg = write_config(tmp_path / "c.yaml", itflow_url=sim.url, api_key=sim.keys["all"], state_dir=state)
    rc, out, _ = await _check(cfg)
    assert rc == 0 and any(line.startswith("state database: ") for line in _levels(out)["ok"]), out
    db = state / "pbx-bridge.sqlite3"
    state.mkdir(exist_ok=True)
    if damage == "corrupt":
        db.write_bytes(b"this is not an SQLite database\n" * 200)
    else:  # a record of an earlier database beside an empty one
        db.write_bytes(b"")
        db.with_name(db.name + ".guard.json").write_text(json.dumps({"identity": "abc", "max_id": 5}))
    rc, out, _ = await _check(cfg)
    fails = [line for line in _levels(out).get("fail", []) if line.startswith("state database: ")]
    assert rc != 0 and fails and str(db) in fails[0], out
