"""The real FreePBX 17 generated dialplan in the lab (``lab_freepbx``): FreePBX's own ring group (through
``dialparties.agi``, PHP), voicemail, Custom Destinations and CallerID Lookup Source, driven by sipp phones
that registered with the generated credentials, the trunk's calls entering ``from-pstn``.

The caller-name doors on FreePBX's real lines: a known caller's name at the phone, an unknown caller's sane
name, the daemon stopped (FreePBX blanks the name), the ``/cid`` path FreePBX turns into ``//cid``, and
hostile ITFlow names through FreePBX's queue line that once ran injected applications."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.callerid.stack import cid_stack
from tests.lab.test_cid_fastagi import from_display_name
from tests.lab.test_cid_recipes import cli_commands
from tests.lab.test_lab_flows import named, quiet_agi, run_call
from tests.support.lab import AmiMessage, Lab
from tests.support.lab import freepbx17 as lab_freepbx17
from tests.support.lab.fastagi import TinyFastAgi

pytestmark = pytest.mark.freepbx
REPO = Path(__file__).resolve().parents[2]


def dialled(events: list[AmiMessage]) -> set[str]:
    return {
        e["DestChannel"].rsplit("-", 1)[0]
        for e in named(events, "DialBegin")
        if e["DestChannel"].startswith("PJSIP/")
    }


# ------------------------------------------------------------------------------------- the install


def test_astdb_is_restored_to_freepbx_before_each_test(lab_freepbx: Lab) -> None:
    lab = lab_freepbx
    assert lab.controller.restore_astdb() == []  # the fixture already did it
    snapshot = lab_freepbx17.snapshot_astdb()
    assert astdb(lab)["/RINGGROUP/600/changecid"] == snapshot["/RINGGROUP/600/changecid"]
    lab.cli("database put t inj PWNED")
    lab.cli("database put AMPUSER/201 cidname Mallory")
    assert sorted(lab.controller.restore_astdb()) == ["/AMPUSER/201/cidname", "/t/inj"]
    db = astdb(lab)
    assert "/t/inj" not in db and db["/AMPUSER/201/cidname"] == snapshot["/AMPUSER/201/cidname"]
    # the phones' registrations are runtime state, not FreePBX's: they stay
    assert [k for k in db if k.startswith("/registrar/contact/201")]


# ------------------------------------------------------------------------------------- ring group 600


async def test_ring_group_rings_every_member_through_dialparties(lab_freepbx: Lab) -> None:
    # Without PHP, dialparties.agi fails and FreePBX's ring group goes straight to voicemail, ringing nobody
    lab = lab_freepbx
    caller = lab.new_caller_number()
    result, events = await run_call(
        lab, lab.route("ringgroup"), caller, hold_ms=1500, callees={"201": "ring", "202": "answer"}
    )
    assert result.ok, result.describe()
    agi = [e for e in named(events, "Newexten", Application="AGI") if "dialparties.agi" in e["AppData"]]
    assert agi and agi[0]["Context"] == "macro-dial"
    assert dialled(events) == {"PJSIP/201", "PJSIP/202"}
    status = {e["DestChannel"].rsplit("-", 1)[0]: e["DialStatus"] for e in named(events, "DialEnd")}
    assert status == {"PJSIP/201": "CANCEL", "PJSIP/202": "ANSWER"}
    assert not named(events, "Newexten", Application="VoiceMail")


async def test_ring_group_no_answer_goes_to_voicemail_201_with_a_message(lab_freepbx: Lab) -> None:
    lab = lab_freepbx
    caller = lab.new_caller_number()
    before = len(lab.voicemails("201"))
    result, events = await run_call(
        lab,
        lab.route("ringgroup"),
        caller,
        caller="voicemail",
        hold_ms=1500,
        callees={"201": "ring", "202": "ring"},
        timeout=90,
    )
    assert result.ok, result.describe()
    assert dialled(events) == {"PJSIP/201", "PJSIP/202"}
    assert {e["DialStatus"] for e in named(events, "DialEnd")} == {"NOANSWER"}
    # FreePBX: no answer -> ext-local,vmu201,1 -> macro-vm -> VoiceMail(201@default,u)
    (vm,) = named(events, "Newexten", Application="VoiceMail")
    assert vm["Context"] == "macro-vm" and vm["AppData"].startswith("201@default")
    assert len(lab.voicemails("201")) == before + 1
    assert named(events, "VarSet", Variable="VMSTATUS", Value="SUCCESS")


async def test_custom_destination_fastagi_then_ring_group(lab_freepbx: Lab) -> None:
    lab = lab_freepbx
    caller = lab.new_caller_number()
    async with lab.ami_session() as ami, TinyFastAgi(quiet_agi, lab.fastagi_port) as agi:
        result = await lab.call(
            lab.route("cid_customdest"),
            caller_num=caller,
            hold_ms=1500,
            callees={"201": "answer", "202": "ring"},
        )
        events = await ami.wait_call_end(ami.linkedid_of(caller) or "")
    assert result.ok, result.describe()
    assert [r["agi_network_script"] for r in agi.requests] == ["cid"]
    # FreePBX's Custom Destination shape: Noop, Gosub(target), Noop, Goto(return destination)
    apps = [e["Application"].lower() for e in named(events, "Newexten", Context="customdests")]
    assert apps == ["noop", "gosub", "noop", "goto"]
    assert "PJSIP/201" in dialled(events)


# ---------------------------------------------------------------------------- CallerID Lookup Source


async def lookup_call(lab: Lab, number: str, name: str = "Orig Name") -> tuple[str | None, list[AmiMessage]]:
    """A trunk call to any DID: FreePBX's catch-all inbound route runs the CallerID Lookup Source, then
    ring group 600; 201 answers. Returns the From display name 201's INVITE showed."""
    async with lab.ami_session() as ami:
        result = await lab.call(
            lab.route("ringgroup"),
            caller_num=number,
            caller_name=name,
            hold_ms=300,
            callees={"201": "answer", "202": "ring"},
            timeout=40,
        )
        events = await ami.wait_call_end(ami.linkedid_of(number) or "", timeout=40)
    assert result.ok, result.describe()
    invites = result.callees["201"].received("INVITE")
    assert invites, "extension 201 was never called"
    return from_display_name(invites[0]), events


def add_known(sim: Any, number: str, client: str, contact: str) -> None:
    sim.db.add_contact(sim.db.add_client(client), contact, phone=number)


def astdb(lab: Lab) -> dict[str, str]:
    return lab_freepbx17.parse_database_show(lab.cli("database show"))


async def test_lookup_source_as_documented_names_the_caller(
    lab_freepbx: Lab, itflow_sim: Any, tmp_path: Path
) -> None:
    lab = lab_freepbx
    sim = await itflow_sim("v1-head")
    known, unknown, later = (lab.new_caller_number() for _ in range(3))
    add_known(sim, known, "Curl Co", "Zoë Curl")
    add_known(sim, later, "Curl Co", "Late Larry")
    async with cid_stack(sim, tmp_path / "state", fastagi_port=lab.fastagi_port, http_port=lab.ports.http):
        shown, _ = await lookup_call(lab, known)
        assert shown == "Curl Co - Zoë Curl"
        shown, _ = await lookup_call(lab, unknown, name="Some One")
        assert shown in (unknown, ""), shown  # never an error text, never FreePBX's "Some%20One"
    # the daemon is stopped: FreePBX has already rewritten the name, CURL() gets nothing: the name is blank
    shown, _ = await lookup_call(lab, later, name="Own Name")
    assert shown in ("", later), shown
    # Cache results off (as documented): nothing stored in AstDB (the snapshot's own cidname/ keys are
    # what FreePBX cached, cache on, during the real calls)
    assert not {f"/cidname/{n}" for n in (known, unknown, later)} & astdb(lab).keys()


async def test_lookup_source_with_leading_slash_path_also_works(
    lab_freepbx: Lab, itflow_sim: Any, tmp_path: Path
) -> None:
    """Path ``/cid`` (older docs, FreePBX's help text): FreePBX generates ``http://host:port//cid?...``."""
    lab = lab_freepbx
    base = lab_freepbx17.folder()
    assert base is not None
    generated = (base / "snapshot/etc/asterisk/extensions_additional.conf").read_text()
    line = next(ln for ln in generated.splitlines() if "CURL(http://127.0.0.1:8734//cid" in ln)
    app = line.split(",", 2)[2].replace(":8734/", f":{lab.ports.http}/")
    sim = await itflow_sim("v1-head")
    known = lab.new_caller_number()
    add_known(sim, known, "Slash Co", "Sam Slash")
    try:
        lab.cli(f'dialplan add extension "cidlookup_1,4,{app}" into cidlookup replace')
        async with cid_stack(
            sim, tmp_path / "state", fastagi_port=lab.fastagi_port, http_port=lab.ports.http
        ):
            shown, _ = await lookup_call(lab, known)
    finally:
        lab.cli("dialplan reload")
    assert shown == "Slash Co - Sam Slash"


# ------------------------------------------------------------------------------- hostile ITFlow names

HOSTILE = {
    "inject": "x):Set(DB(t/inj)=PWNED",
    "comma": "a,b",
    "parens": "(x)",
    "quotes": '"q"',
    "variable": "${EXTEN}",
}


SCRIPT = REPO / "agi" / "itflow-cid"
# door -> (where FreePBX's own lines take the call afterwards, which names are sent through it)
DOORS = {
    # CallerID Lookup Source (HTTP, cidlookup) in front of queue 400 / the catch-all route's ring group 600
    "http-queue": sorted(HOSTILE),
    "http-ringgroup": ["comma", "inject"],
    # FastAGI Custom Destination (the snapshot's dest-2: FastAGI cid, then ring group 600)
    "fastagi-ringgroup": sorted(HOSTILE),
    # classic AGI script (recipe C) in front of queue 400
    "classic-queue": ["comma", "inject"],
}
CASES = [(door, case) for door, cases in DOORS.items() for case in cases]


def route_through(lab: Lab, door: str) -> str:
    """What the caller dials for ``door``; runtime dialplan lines stand in for the inbound route FreePBX
    would generate (Set FROM_DID, the door, then FreePBX's generated destination). Removed by a reload."""
    add = 'dialplan add extension "{}" into ext-did-custom replace'
    if door == "http-ringgroup":
        return lab.route("ringgroup")
    if door == "fastagi-ringgroup":
        return lab.route("cid_customdest")
    step = (
        "Gosub(cidlookup,cidlookup_1,1())"
        if door == "http-queue"
        else f"AGI(itflow-cid,url=http://127.0.0.1:{lab.ports.http}/cid.agi)"
    )
    for prio, app in enumerate(("Set(__FROM_DID=${EXTEN})", step, "Goto(ext-queues,400,1)"), start=1):
        lab.cli(add.format(f"5559400,{prio},{app}"))
    return "5559400"


@pytest.mark.parametrize(("door", "case"), CASES, ids=[f"{d}-{c}" for d, c in CASES])
async def test_hostile_name_through_freepbx_lines_runs_nothing(
    lab_freepbx: Lab, itflow_sim: Any, tmp_path: Path, door: str, case: str
) -> None:
    """FreePBX core's queue context runs ``ExecIf(...?Set(__SAVEDCIDNAME=${CALLERID(name)}))``, its ring
    group passes the name through macro-dial and dialparties. Through each door: nothing reaches AstDB,
    no application runs that the dialplan does not have, and the answering phone shows a readable name."""
    lab = lab_freepbx
    sim = await itflow_sim("v1-head")
    number = lab.new_caller_number()
    add_known(sim, number, "Evil Co", HOSTILE[case])
    if door == "classic-queue":
        lab.install_agi(SCRIPT)
    async with cid_stack(sim, tmp_path / "state", fastagi_port=lab.fastagi_port, http_port=lab.ports.http):
        try:
            exten = route_through(lab, door)
            async with lab.ami_session() as ami:
                result = await lab.call(
                    exten,
                    caller_num=number,
                    caller_name="Orig",
                    hold_ms=1500,
                    callees={"201": "answer", "202": "ring"},
                    timeout=40,
                )
                events = await ami.wait_call_end(ami.linkedid_of(number) or "", timeout=40)
        finally:
            lab.cli("dialplan reload")
    assert result.ok, result.describe()
    assert not [k for k in astdb(lab) if k.startswith("/t/")]
    # an injected application would show as its own dialplan step (Newexten Set with AppData "DB(t/...")
    injected = [e for e in named(events, "Newexten") if e["AppData"].startswith("DB(t/")]
    assert not injected
    assert not [e for e in named(events, "VarSet") if e.get("Value") == "PWNED"]
    shown = from_display_name(result.callees["201"].received("INVITE")[0]) or ""
    assert shown.startswith("Evil Co - ") and len(shown) > len("Evil Co - "), shown


# ------------------------------------------------------------- balance straight from an inbound route


def doc_balance_block() -> str:
    text = (REPO / "docs/freepbx.md").read_text()
    start = text.index("[custom-pbxbridge-balance]")
    block = text[start : text.index("```", start)]
    return "\n".join(ln.strip() for ln in block.splitlines())


@pytest.mark.parametrize("recipe", ["docs", "snapshot"])
async def test_balance_custom_destination_straight_from_inbound_route(lab_freepbx: Lab, recipe: str) -> None:
    """DID 5550300 -> Custom Destination balance, no IVR in front, FastAGI down. The documented recipe
    answers first, so the caller is answered and hung up normally; the snapshot's (older docs, no Answer())
    leaves the caller unanswered and Asterisk declines the call (603): the control that the test can fail."""
    lab = lab_freepbx
    caller = lab.new_caller_number()
    try:
        if recipe == "docs":
            block = doc_balance_block().replace("127.0.0.1:4574/", f"127.0.0.1:{lab.fastagi_port}/")
            for cmd in cli_commands(block):
                lab.cli(cmd)
        async with lab.ami_session() as ami:
            result = await lab.call(
                lab.route("balance_direct"), caller_num=caller, caller="wait", hold_ms=10000, timeout=30
            )
            events = await ami.wait_call_end(ami.linkedid_of(caller) or "", timeout=30)
    finally:
        lab.cli("dialplan reload")
    agi = named(events, "VarSet", Variable="AGISTATUS")
    assert [e["Value"] for e in agi] == ["FAILURE"]  # nothing listens on the FastAGI port
    answers = [
        e
        for e in named(events, "Newexten", Context="custom-pbxbridge-balance")
        if e["Application"] == "Answer"
    ]
    if recipe == "docs":
        assert answers and result.ok, result.describe()
    else:
        assert not answers and not result.ok
        assert result.caller.received("SIP/2.0 603"), result.caller.log[-2000:]


# ------------------------------------------------------------------- outbound route "pstn" (overlay 7/8)


async def test_originate_rings_the_extension_then_dials_out(lab_freepbx: Lab) -> None:
    """Click-to-dial: AMI ``Originate`` of ``PJSIP/201`` into ``from-internal``/<number>. 201 rings and
    answers first; then FreePBX's own outbound route (outrt-1, 1NXXNXXXXXX: sent as dialled) calls the
    number on the trunk, and the PSTN phone gets it with 201's caller ID."""
    lab = lab_freepbx
    number = "1412555" + lab.new_caller_number()[-4:]
    async with lab.ami_session() as ami:
        phones = await lab.start_phones({"201": "answer", "pstn": "answer"}, timeout=40)
        try:
            resp = await ami.action(
                {
                    "Action": "Originate",
                    "Channel": "PJSIP/201",
                    "Async": "true",
                    "Context": "from-internal",
                    "Exten": number,
                    "Priority": "1",
                    "CallerID": "201",
                    "Timeout": "20000",
                }
            )
            assert resp.get("Response") == "Success", dict(resp)
            out = await ami.wait_for(
                lambda e: (
                    e.name == "DialEnd"
                    and e.get("DialStatus") == "ANSWER"
                    and e.get("DestChannel", "").startswith("PJSIP/sipptrunk-")
                ),
                timeout=30,
            )
            await ami.action({"Action": "Hangup", "Channel": out["Channel"]})
            events = await ami.wait_call_end(out["Linkedid"], timeout=20)
        finally:
            result = await phones.wait()
    first = named(events, "Newchannel")[0]
    assert first["Channel"].startswith("PJSIP/201-") and first["Channel"] == out["Channel"]
    # Originate dials 201 (no calling channel), 201 answers, and only then is the number dialled
    dials = [
        (e.name, e["DestChannel"].rsplit("-", 1)[0], e.get("DialStatus", ""))
        for e in events
        if e.name in ("DialBegin", "DialEnd")
    ]
    assert dials == [
        ("DialBegin", "PJSIP/201", ""),
        ("DialEnd", "PJSIP/201", "ANSWER"),
        ("DialBegin", "PJSIP/sipptrunk", ""),
        ("DialEnd", "PJSIP/sipptrunk", "ANSWER"),
    ]
    # the route (included into from-internal, so AMI names that context) hands the number to the trunk macro
    assert named(
        events,
        "Newexten",
        Context="from-internal",
        Application="Gosub",
        AppData=f"macro-dialout-trunk,s,1(1,{number},,off)",
    )
    contexts = {e["Context"] for e in named(events, "Newexten", Channel=first["Channel"])}
    assert {"macro-dialout-trunk", "trunk-dial-with-exten"} <= contexts
    assert result.callees["201"].received("INVITE")
    invite = result.callees["pstn"].received("INVITE")[0]
    assert invite.startswith(f"INVITE sip:{number}@")
    assert result.invite_from_name("pstn") == "Alice"  # AMPUSER 201's name, FreePBX's own CID
