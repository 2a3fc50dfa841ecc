"""``pbx-bridge phonebook ...`` as a user runs it (a real process against the simulator)."""

from __future__ import annotations

import asyncio
import json
import sys

from lxml import etree

from pbx_bridge.cli import main
from pbx_bridge.phonebook.settings import ALL_FORMATS


async def run_cli(*args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "pbx_bridge.cli",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=120)
    return proc.returncode, out.decode(), err.decode()


def test_formats_lists_one_per_line_name_first(capsys):
    assert main(["phonebook", "formats"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split("\t")[0] for line in lines] == list(ALL_FORMATS)
    assert main(["phonebook", "formats", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    polycom = next(d for d in data if d["id"] == "polycom")
    assert polycom["file_name"] == "000000000000-directory.xml"


async def test_sync_then_unchanged_then_down(phonebook_env):
    env = await phonebook_env("v1-head")
    code, out, err = await run_cli("-c", str(env.config_path), "phonebook", "sync", "--json")
    assert code == 0, err
    first = json.loads(out)
    assert first["status"] == "published" and first["entries"] >= 10 and first["written"]
    assert (env.out / "phonebook.xml").exists()

    code, out, _ = await run_cli("-c", str(env.config_path), "phonebook", "sync", "--json")
    assert code == 0 and json.loads(out)["written"] == []

    env.sim.down = True
    before = (env.out / "yealink-phonebook.xml").read_bytes()
    code, out, err = await run_cli("-c", str(env.config_path), "phonebook", "sync")
    # the stored directory is republished (nothing changed, nothing written) and the failure is told
    assert "pull failed" in err
    assert (env.out / "yealink-phonebook.xml").read_bytes() == before


async def test_sync_refuses_a_shrunk_directory_unless_forced(phonebook_env):
    env = await phonebook_env("v1-head")
    assert (await run_cli("-c", str(env.config_path), "phonebook", "sync"))[0] == 0
    for table in ("contacts", "locations", "vendors"):
        env.sim.db.tables[table] = env.sim.db.tables[table][:1]
    code, _out, err = await run_cli("-c", str(env.config_path), "phonebook", "sync")
    assert code == 1 and "NOT published" in err and "--force" in err
    code, out, err = await run_cli("-c", str(env.config_path), "phonebook", "sync", "--force", "--json")
    assert code == 0, err
    assert json.loads(out)["status"] == "published"


async def test_export_one_format_to_stdout_and_file(phonebook_env, tmp_path):
    env = await phonebook_env("v1-head")
    config = str(env.config_path)
    code, out, err = await run_cli("-c", config, "phonebook", "export", "--format", "grandstream")
    assert code == 0, err
    root = etree.fromstring(out.encode())
    assert root.tag == "AddressBook" and root.findall("Contact")
    target = tmp_path / "book.vcf"
    code, _, err = await run_cli(
        "-c", str(env.config_path), "phonebook", "export", "-f", "vcard", "-o", str(target), "--stored"
    )
    assert code == 0, err
    assert target.read_bytes().startswith(b"BEGIN:VCARD")
    code, _, err = await run_cli("-c", str(env.config_path), "phonebook", "export", "-f", "nokia")
    assert code == 2 and "invalid choice" in err


async def test_export_of_a_paged_format_writes_every_page(phonebook_env, tmp_path):
    env = await phonebook_env("v1-head")
    for i in range(40):
        env.sim.db.add_contact(1, f"Paged {i:02d}", phone=f"41255540{i:02d}")
    target = tmp_path / "cisco.xml"
    code, _, err = await run_cli(
        "-c", str(env.config_path), "phonebook", "export", "-f", "cisco", "-o", str(target)
    )
    assert code == 0, err
    pages = sorted(p.name for p in tmp_path.glob("cisco*.xml"))
    assert pages == ["cisco-2.xml", "cisco.xml"]
    for p in tmp_path.glob("cisco*.xml"):
        assert len(etree.fromstring(p.read_bytes()).findall("DirectoryEntry")) <= 32
