"""Caller name through FastAGI in the real Asterisk lab, both dialplans: the callee's INVITE shows it.

Stack: ITFlow simulator -> directory sync -> CallerId -> FastAGI ``cid`` on ``lab.fastagi_port``; a sipp
caller dials extension 201 (plain ``AGI(agi://.../cid,${EXTEN})``; real FreePBX 17: an inbound route to
the Custom Destination ``pbxbridge-cid`` then extension 201), a sipp phone answers, and its INVITE's From
display name is the proof.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.callerid.stack import cid_stack

pytestmark = pytest.mark.lab

PROFILES = ["v1-head", "v1-v25", "legacy-2022"]


def from_display_name(invite: str) -> str | None:
    """The From header's display name exactly as sent (quoted-string escapes undone), None if absent."""
    hdr = re.search(r"^(?:From|f)\s*:\s*(.*)$", invite, re.M | re.I)
    if hdr is None:
        return None
    value = hdr.group(1)
    quoted = re.match(r'\s*"((?:[^"\\]|\\.)*)"', value)
    if quoted:
        return re.sub(r"\\(.)", r"\1", quoted.group(1))
    token = re.match(r"\s*([^<]*?)\s*<", value)
    return token.group(1) if token else ""


async def ring_201(lab: Any, number: str, name: str = "Orig Name") -> tuple[str | None, list[Any]]:
    """One answered call to extension 201; returns (display name in 201's INVITE, AGIExecEnd events)."""
    async with lab.ami_session() as ami:
        result = await lab.call(
            lab.route("ext201"),
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
    agi_ends = [e for e in events if e.name == "AGIExecEnd"]
    return from_display_name(invites[0]), agi_ends


def assert_no_agi_errors(agi_ends: list[Any]) -> None:
    failed = [
        (e.get("Command"), e.get("ResultCode"), e.get("Result"))
        for e in agi_ends
        if e.get("ResultCode") != "200"
    ]
    assert not failed, f"AGI commands failed: {failed}"


async def make_stack(lab: Any, sim: Any, tmp_path: Path) -> Any:
    return cid_stack(sim, tmp_path / "state", fastagi_port=lab.fastagi_port)


@pytest.mark.parametrize("profile", PROFILES)
async def test_known_number_named_unknown_unchanged(
    lab: Any, itflow_sim: Any, tmp_path: Path, profile: str
) -> None:
    sim = await itflow_sim(profile)
    known, unknown = lab.new_caller_number(), lab.new_caller_number()
    client = sim.db.add_client("Lab Known Co")
    sim.db.add_contact(client, "Kim Known", phone=known[1:], phone_country_code="1")
    async with await make_stack(lab, sim, tmp_path) as stack:
        expected = (await stack.callerid.lookup(known)).display
        assert expected and "Kim Known" in expected
        shown, agi_ends = await ring_201(lab, known)
        assert shown == expected
        assert_no_agi_errors(agi_ends)
        shown, agi_ends = await ring_201(lab, unknown, name="Unknown Caller Name")
        assert shown == "Unknown Caller Name"
        assert_no_agi_errors(agi_ends)
        assert stack.server.stats["errors"] == 0 and stack.server.stats["no_route"] == 0


async def test_simulator_stopped_known_number_still_named(lab: Any, itflow_sim: Any, tmp_path: Path) -> None:
    sim = await itflow_sim("v1-head")
    known, unknown = lab.new_caller_number(), lab.new_caller_number()
    client = sim.db.add_client("Offline Co")
    sim.db.add_contact(client, "Olga Offline", mobile=known)
    async with await make_stack(lab, sim, tmp_path) as stack:
        expected = (await stack.callerid.lookup(known)).display
        await sim.stop()
        shown, agi_ends = await ring_201(lab, known)
        assert shown == expected and "Olga Offline" in shown
        assert_no_agi_errors(agi_ends)
        shown, _ = await ring_201(lab, unknown, name="Still Me")
        assert shown == "Still Me"


# Each at most 40 UTF-8 bytes with the client prefix: FreePBX's macro-user-callerid cuts the name with
# ${CALLERID(name):0:40}, which counts bytes (see docs/callerid.md). The FreePBX-safe rule (on by
# default, docs/callerid.md) turns " into ', a backslash into /, and drops brackets; the rest arrives exactly.
HOSTILE = {
    "quotes-backslash": ('O"Brien \\ Co', "O'Brien / Co"),
    "dollar-braces": ("${EXTEN} {x} $[1+1]", "$EXTEN x $ 1+1"),
    "non-ascii": ("Zoë Łukasz 佐藤", "Zoë Łukasz 佐藤"),
    "emoji": ("Ada 👩‍💻🎉", "Ada 👩‍💻🎉"),
    "newline": ("Line\nBreak\r\nEnd", "Line Break End"),  # a line break reads as a space
}


@pytest.mark.parametrize("case", list(HOSTILE))
async def test_hostile_names_arrive_readable(lab: Any, itflow_sim: Any, tmp_path: Path, case: str) -> None:
    raw, clean = HOSTILE[case]
    sim = await itflow_sim("v1-head")
    number = lab.new_caller_number()
    client = sim.db.add_client("Hx")
    sim.db.add_contact(client, raw, phone=number)
    async with await make_stack(lab, sim, tmp_path) as stack:
        assert (await stack.callerid.lookup(number)).display.startswith("Hx - ")
        shown, agi_ends = await ring_201(lab, number)
        assert shown == f"Hx - {clean}"
        assert len(shown.encode()) <= 40
        assert agi_ends, "no AGI command was seen on AMI"
        assert_no_agi_errors(agi_ends)
        assert stack.server.stats["errors"] == 0


async def test_query_string_route_is_served(lab_plain: Any, itflow_sim: Any, tmp_path: Path) -> None:
    """``AGI(agi://.../cid?live=no)`` reaches the cid route instead of a silent no-op."""
    lab = lab_plain
    sim = await itflow_sim("v1-head")
    number = lab.new_caller_number()
    sim.db.add_contact(sim.db.add_client("Query Co"), "Quinn", phone=number)
    async with await make_stack(lab, sim, tmp_path) as stack:
        lab.cli(
            f"dialplan add extension 281,1,AGI(agi://127.0.0.1:{lab.fastagi_port}/cid?live=no) "
            "into from-sipp replace"
        )
        lab.cli("dialplan add extension 281,2,Goto(ring-ext,201,1) into from-sipp replace")
        try:
            async with lab.ami_session():
                result = await lab.call(
                    "281",
                    caller_num=number,
                    caller_name="Orig",
                    caller="bye",
                    hold_ms=300,
                    callees={"201": "answer"},
                    timeout=30,
                )
        finally:
            lab.cli("dialplan remove extension 281@from-sipp")
        assert result.ok, result.describe()
        shown = from_display_name(result.callees["201"].received("INVITE")[0])
        assert shown == "Query Co - Quinn"
        assert stack.server.stats["no_route"] == 0
