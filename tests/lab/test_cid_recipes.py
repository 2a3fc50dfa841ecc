"""docs/callerid.md's FreePBX recipes on the real FreePBX 17 dialplan, plus the classic AGI script inside
the chroot (as the unprivileged ``pbxagi`` user) on both dialplans.

The ```asterisk blocks the admin pastes into extensions_custom.conf are loaded into the running Asterisk
with ``dialplan add extension`` (only the ports are adapted to the lab); what FreePBX generates (Custom
Destinations, inbound routes, the CallerID Lookup Source: tests/lab/test_freepbx17.py) is FreePBX's own.
A sipp caller calls, and the callee's INVITE shows the result.
"""

from __future__ import annotations

import contextlib
import re
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.callerid.stack import CidStack, cid_stack
from tests.lab.test_cid_fastagi import assert_no_agi_errors, from_display_name

pytestmark = pytest.mark.lab

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "callerid.md"
SCRIPT = REPO / "agi" / "itflow-cid"
DOC_HTTP_PORT, DOC_FASTAGI_PORT = 8734, 4574


def doc_blocks() -> dict[str, str]:
    """Every ```asterisk block of the doc, keyed by its first context name."""
    blocks = re.findall(r"```asterisk\n(.*?)```", DOC.read_text(), re.S)
    out = {}
    for block in blocks:
        m = re.search(r"^\[([^\]]+)\]", block, re.M)
        assert m, f"block without a context: {block!r}"
        out[m.group(1)] = block
    return out


def cli_commands(block: str) -> Iterator[str]:
    """``[ctx]`` / ``exten => X,P,App(..)`` / `` same => n,App(..)`` -> ``dialplan add extension`` lines."""
    context, exten, prio = "", "", 0
    for raw in block.splitlines():
        line = raw.split(";", 1)[0].strip()
        if not line:
            continue
        if m := re.fullmatch(r"\[([^\]]+)\]", line):
            context = m.group(1)
            continue
        if m := re.fullmatch(r"exten\s*=>\s*([^,]+),(\d+),(.*)", line):
            exten, prio, app = m.group(1), int(m.group(2)), m.group(3)
        elif m := re.fullmatch(r"same\s*=>\s*n,(.*)", line):
            prio, app = prio + 1, m.group(1)
        else:
            raise AssertionError(f"snippet line not understood: {line!r}")
        yield f'dialplan add extension "{exten},{prio},{app}" into {context} replace'


def load(lab: Any, block: str, http_port: int) -> None:
    block = block.replace(f"127.0.0.1:{DOC_HTTP_PORT}", f"127.0.0.1:{http_port}")
    block = block.replace(f"127.0.0.1:{DOC_FASTAGI_PORT}", f"127.0.0.1:{lab.fastagi_port}")
    for cmd in cli_commands(block):
        out = lab.cli(cmd)
        assert re.search(r"^Extension .*(added|replace by)", out, re.M), (cmd, out)


@contextlib.contextmanager
def restored_dialplan(lab: Any) -> Iterator[None]:
    """Whatever a test adds at runtime is gone afterwards (the files are re-read)."""
    try:
        yield
    finally:
        lab.cli("dialplan reload")


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@contextlib.asynccontextmanager
async def stack_on(lab: Any, sim: Any, tmp_path: Path) -> AsyncIterator[CidStack]:
    """The stack, with HTTP on the documented port when it is free (else a free one, patched in)."""
    http_port = DOC_HTTP_PORT if _port_free(DOC_HTTP_PORT) else 0
    async with cid_stack(
        sim, tmp_path / "state", fastagi_port=lab.fastagi_port, http_port=http_port
    ) as stack:
        yield stack


def add(lab: Any, context: str, line: str) -> None:
    lab.cli(f'dialplan add extension "{line}" into {context} replace')


def port_of(stack: CidStack) -> int:
    return int(stack.http_base.rsplit(":", 1)[1])


async def call(lab: Any, exten: str, number: str, name: str = "Orig Name") -> tuple[str | None, list[Any]]:
    async with lab.ami_session() as ami:
        result = await lab.call(
            exten,
            caller_num=number,
            caller_name=name,
            caller="bye",
            hold_ms=300,
            callees={"201": "answer"},
            timeout=30,
        )
        linkedid = ami.linkedid_of(number)
        events = await ami.wait_call_end(linkedid, timeout=30) if linkedid else []
    assert result.ok, result.describe()
    invites = result.callees["201"].received("INVITE")
    assert invites, "extension 201 was never called"
    return from_display_name(invites[0]), events


def varsets(events: list[Any], name: str) -> list[str]:
    return [e.get("Value", "") for e in events if e.name == "VarSet" and e.get("Variable") == name]


def add_known(sim: Any, number: str, client: str, contact: str) -> None:
    sim.db.add_contact(sim.db.add_client(client), contact, phone=number)


async def test_recipe_b_fastagi_custom_destination(lab_freepbx: Any, itflow_sim: Any, tmp_path: Path) -> None:
    lab = lab_freepbx
    sim = await itflow_sim("v1-head")
    known, unknown = lab.new_caller_number(), lab.new_caller_number()
    add_known(sim, known, "Dest Co", "Dee $ {x}")
    async with stack_on(lab, sim, tmp_path) as stack:
        with restored_dialplan(lab):
            # the doc's target context (extensions_custom.conf); the Custom Destination pointing at it and
            # the inbound route are FreePBX's generated ones (DID 5551004 -> dest-3 -> extension 201)
            load(lab, doc_blocks()["pbxbridge-cid"], port_of(stack))
            shown, events = await call(lab, lab.route("ext201"), known)
            assert shown == "Dest Co - Dee $ x"  # FreePBX-safe: no braces (docs/callerid.md)
            assert varsets(events, "ITFLOW_MATCH") == ["contact"]
            assert varsets(events, "ITFLOW_CLIENT_NAME") == ["Dest Co"]
            assert_no_agi_errors([e for e in events if e.name == "AGIExecEnd"])
            shown, events = await call(lab, lab.route("ext201"), unknown, name="Keep Me")
            assert shown == "Keep Me" and varsets(events, "ITFLOW_MATCH") == ["none"]
        assert stack.server.stats["errors"] == 0


def classic_dialplan(lab: Any, http_port: int) -> str:
    """Load recipe C and a way to reach it; returns what the caller dials."""
    load(lab, doc_blocks()["pbxbridge-cid-classic"], http_port)
    if http_port != DOC_HTTP_PORT:  # the documented default URL is taken on this host: pass it explicitly
        add(lab, "pbxbridge-cid-classic", f"s,1,AGI(itflow-cid,url=http://127.0.0.1:{http_port}/cid.agi)")
    if lab.dialplan == "plain":
        add(lab, "from-sipp", "283,1,Gosub(pbxbridge-cid-classic,s,1())")
        add(lab, "from-sipp", "283,2,Goto(ring-ext,201,1)")
        return "283"
    add(lab, "customdests", "dest-9,1,Gosub(pbxbridge-cid-classic,s,1())")
    add(lab, "customdests", "dest-9,2,Goto(from-did-direct,201,1)")
    add(lab, "ext-did-custom", "5559202,1,Set(__FROM_DID=${EXTEN})")
    add(lab, "ext-did-custom", "5559202,2,Goto(customdests,dest-9,1)")
    return "5559202"


async def test_recipe_c_classic_script_in_the_chroot(lab: Any, itflow_sim: Any, tmp_path: Path) -> None:
    sim = await itflow_sim("v1-head")
    known, unknown, later = lab.new_caller_number(), lab.new_caller_number(), lab.new_caller_number()
    add_known(sim, known, "Chroot Co", "Cleo 'C' \\ 佐藤")
    add_known(sim, later, "Chroot Co", "Late Larry")
    assert lab.install_agi(SCRIPT) == "itflow-cid"
    with restored_dialplan(lab):
        async with stack_on(lab, sim, tmp_path) as stack:
            exten = classic_dialplan(lab, port_of(stack))
            shown, events = await call(lab, exten, known)
            assert shown == "Chroot Co - Cleo 'C' / 佐藤"  # FreePBX-safe: no backslash (docs/callerid.md)
            assert varsets(events, "ITFLOW_MATCH") == ["contact"]
            assert_no_agi_errors([e for e in events if e.name == "AGIExecEnd"])
            shown, events = await call(lab, exten, unknown, name="Keep Me")
            assert shown == "Keep Me" and varsets(events, "ITFLOW_MATCH") == ["none"]
        # The daemon is gone now: the script fails open, the call goes on with its own name.
        shown, events = await call(lab, exten, later, name="Own Name")
        assert shown == "Own Name"
        assert varsets(events, "ITFLOW_MATCH") == []
        assert any(e.get("Variable") == "AGISTATUS" and e.get("Value") == "SUCCESS" for e in events)
