"""``pbx-bridge api`` and ``pbx-bridge sim`` as subprocesses, against the simulator on loopback."""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
from pathlib import Path

import pytest

from pbx_bridge.itflow.v1 import V1Client

EXE = Path(sys.executable).with_name("pbx-bridge")


def _config(tmp_path: Path, sim, key: str = "all", api: str = "auto") -> Path:
    cfg = tmp_path / "config.yaml"
    cfg.write_text(
        f"itflow:\n  url: {sim.url}\n  api_key: '{sim.keys.get(key, key)}'\n  api: {api}\n"
        f"state_dir: {tmp_path / 'state'}\n",
        encoding="utf-8",
    )
    cfg.chmod(0o600)
    return cfg


async def run(*args: str, hang_guard: float = 60.0) -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PBX_BRIDGE_")}
    proc = await asyncio.create_subprocess_exec(
        str(EXE), *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env
    )
    out, err = await asyncio.wait_for(proc.communicate(), hang_guard)  # not a budget
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def cli(cfg: Path, *args: str) -> tuple[int, str, str]:
    return await run("--config", str(cfg), *args)


def _many_contacts(sim, n: int = 60) -> None:
    cid = sim.db.add_client("CLI Paging Inc")
    for i in range(n):
        sim.db.add_contact(cid, f"Cli Person {i:03d}", phone=f"41255561{i:02d}", email=f"c{i}@cli.test")


@pytest.mark.parametrize("profile", ["v1-v25", "v1-head"])
async def test_api_contacts_read_first_page_and_all_pages(itflow_sim, tmp_path: Path, profile: str) -> None:
    sim = await itflow_sim(profile)
    _many_contacts(sim)
    cfg = _config(tmp_path, sim)
    code, out, err = await cli(cfg, "--log-level", "debug", "api", "contacts", "read", "--json")
    assert code == 0, err
    first = json.loads(out)
    assert len(out.strip().splitlines()) == 1  # --json: one compact document
    assert len(first) == 50 and first[0]["contact_name"] == "Alice Anderson"  # ITFlow's default page
    code, out, err2 = await cli(
        cfg, "--log-level", "debug", "api", "contacts", "read", "--all-pages", "--page-size", "17", "--json"
    )
    assert code == 0, err2
    every = json.loads(out)
    assert len(every) == len(sim.db["contacts"]) and every[:50] == first
    for text in (err, err2, out):
        assert sim.keys["all"] not in text


async def test_api_filters_writes_and_pretty_output(itflow_sim, tmp_path: Path) -> None:
    sim = await itflow_sim("v1-head")
    cfg = _config(tmp_path, sim)
    code, out, _ = await cli(cfg, "api", "contacts", "read", "contact_phone_or_mobile=4125550199")
    assert code == 0 and [r["contact_name"] for r in json.loads(out)] == ["Alice Anderson"]
    assert "\n  " in out  # indented without --json
    code, out, err = await cli(
        cfg, "api", "tickets", "create", "ticket_subject=From the CLI", "client_id=1", "--json"
    )
    assert code == 0, err
    created = json.loads(out)
    assert created["success"] is True and created["insert_id"] == int(sim.db.tickets[-1]["ticket_id"])
    code, _, err = await cli(cfg, "api", "tickets", "create", "--all-pages")
    assert code == 2 and "reads" in err
    code, _, err = await cli(cfg, "api", "contacts", "read", "nonsense")
    assert code != 0 and "key=value" in err


async def test_api_endpoint_the_era_lacks_is_a_clear_error(itflow_sim, tmp_path: Path) -> None:
    sim = await itflow_sim("legacy-2022")
    cfg = _config(tmp_path, sim)
    code, out, err = await cli(cfg, "--log-level", "debug", "api", "contacts", "read", "--json")
    assert code == 1 and out == ""
    assert "contacts/read" in err and "no such endpoint" in err and "2022-02-12" in err
    assert "Traceback" not in err and sim.keys["all"] not in err


async def test_api_errors_name_the_cause_without_the_key(itflow_sim, tmp_path: Path) -> None:
    sim = await itflow_sim("v1-head")
    cfg = _config(tmp_path, sim, key="wrong-key-abcdefabcdefabcdefabcdef")
    code, _, err = await cli(cfg, "--log-level", "debug", "api", "clients", "read")
    assert code == 1 and "rejected" in err and "abcdefabcdef" not in err
    cfg = _config(tmp_path, sim, key="readonly")
    code, _, err = await cli(cfg, "api", "tickets", "create", "ticket_subject=x", "client_id=1")
    assert code == 1 and "denied" in err and sim.keys["readonly"] not in err
    sim.down = True
    cfg = _config(tmp_path, sim)
    code, _, err = await cli(cfg, "api", "clients", "read")
    assert code == 1 and ("cannot connect" in err or "closed before ITFlow answered" in err), err


async def test_api_legacy_functions(itflow_sim, tmp_path: Path) -> None:
    sim = await itflow_sim("legacy-2022")
    cfg = _config(tmp_path, sim, api="legacy")
    code, out, err = await cli(
        cfg, "--log-level", "debug", "api", "legacy", "cid", "number=4125550101", "--json"
    )
    assert code == 0, err
    assert json.loads(out) == {"name": "Alice Anderson"}
    assert sim.keys["all"] not in err + out
    code, out, _ = await cli(cfg, "api", "legacy", "phonebook", "--json")
    assert code == 0 and {"name": "Bell & Whistle", "number": "8005550123", "group": "1"} in json.loads(out)
    code, out, _ = await cli(cfg, "api", "legacy", "account_balance", "client_id=2", "--json")
    assert code == 0 and json.loads(out) == {"client_id": 2, "balance": "150"}


async def test_sim_verb_serves_until_stopped(tmp_path: Path) -> None:
    pipe = asyncio.subprocess.PIPE
    proc = await asyncio.create_subprocess_exec(
        str(EXE), "sim", "--profile", "v1-v25", "--port", "0", stdout=pipe, stderr=pipe
    )
    try:
        assert proc.stdout is not None
        lines: list[str] = []
        for _ in range(20):
            line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
            lines.append(line)
            if line.strip().startswith("key client2"):
                break
        text = "".join(lines)
        url = re.search(r"listening on (http://\S+)", text)
        key = re.search(r"key all: (\S+)", text)
        assert url and key, text
        async with V1Client(url.group(1), key.group(1)) as api:
            assert (await api.payments_read()).rows  # v26.3 has payments
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), 30)


async def test_help() -> None:
    for verb in ("api", "sim"):
        code, out, _ = await run(verb, "--help")
        assert code == 0 and "usage: pbx-bridge " + verb in out


async def test_sim_verb_with_a_seed_file(tmp_path: Path) -> None:
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps({"clients": [{"client_id": 1, "client_name": "Seeded Only Ltd"}]}))
    pipe = asyncio.subprocess.PIPE
    proc = await asyncio.create_subprocess_exec(
        str(EXE), "sim", "--profile", "v1-head", "--port", "0", "--seed", str(seed), stdout=pipe, stderr=pipe
    )
    try:
        assert proc.stdout is not None
        header = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
        key_line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
        url = re.search(r"listening on (http://\S+)", header)
        key = re.search(r"key all: (\S+)", key_line)
        assert url and key, header + key_line
        async with V1Client(url.group(1), key.group(1)) as api:
            assert [r["client_name"] for r in (await api.clients_read()).rows] == ["Seeded Only Ltd"]
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), 30)


async def test_sim_verb_quirk_switch_reaches_the_wire() -> None:
    """``--quirk leading_newline=true``: the legacy answers of 2019-08..2022-02 start with a newline."""
    import httpx

    pipe = asyncio.subprocess.PIPE
    proc = await asyncio.create_subprocess_exec(
        str(EXE),
        "sim",
        "--profile",
        "legacy-2022",
        "--port",
        "0",
        "--quirk",
        "leading_newline=true",
        stdout=pipe,
        stderr=pipe,
    )
    try:
        assert proc.stdout is not None
        header = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
        url = re.search(r"listening on (http://\S+)", header)
        assert url, header
        async with httpx.AsyncClient() as http:
            r = await http.get(url.group(1) + "/api.php", params={"api_key": "wrong", "cid": "1"})
        assert r.text.startswith("\n")
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), 30)
    code, _, err = await run("sim", "--quirk", "nonsense=1")
    assert code != 0 and "leading_newline" in err


async def test_api_help_lists_every_endpoint_with_its_release() -> None:
    code, out, _ = await run("api", "--help")
    assert code == 0
    assert "v1 endpoints (64;" in out
    assert "vendors: read (2024-09-11+), create (v26.10+)" in " ".join(out.split())
    flat = " ".join(out.split())
    assert "tickets: read (2022-02-12+), create (2023-09-09+), resolve (v25.10+), close (v26.09+)" in flat


@pytest.mark.parametrize(
    ("profile", "endpoint", "hint"),
    [
        ("v1-head", ("vendors", "create"), "(vendors/create exists from ITFlow v26.10 on)"),
        ("v1-head", ("tickets", "close"), "(tickets/close exists from ITFlow v26.09 on)"),
        ("v1-2610", ("payments", "read"), "(payments/read exists from ITFlow 2023-02-11 to v26.3)"),
    ],
)
async def test_api_names_the_release_an_endpoint_needs(itflow_sim, tmp_path, profile, endpoint, hint) -> None:
    sim = await itflow_sim(profile)
    code, _, err = await cli(_config(tmp_path, sim), "api", *endpoint, "vendor_name=x")
    assert code == 1
    assert hint in err


async def test_api_calls_a_2610_endpoint(itflow_sim, tmp_path) -> None:
    sim = await itflow_sim("v1-2610")
    code, out, _ = await cli(
        _config(tmp_path, sim),
        "api",
        "vendors",
        "create",
        "vendor_name=Telco",
        "vendor_phone=(800) 555-0111",
        "--json",
    )
    assert code == 0, out
    new_id = json.loads(out)["insert_id"]
    assert sim.db.find("vendors", "vendor_id", new_id)["vendor_phone"] == "8005550111"
