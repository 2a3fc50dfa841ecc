"""The whole loop on a real Asterisk: sipp call -> pbx-bridge's FastAGI server (``FastAgiServer``) runs a
route that sets CALLERID(name) -> the callee's INVITE carries that name -> an AMI session sees the call.
Runs on the plain and the real FreePBX 17 dialplan. The control case (a route that leaves the name alone)
shows the assertion can fail: the phone then shows the caller's own name."""

from __future__ import annotations

import asyncio

import pytest

from pbx_bridge.agi.server import FastAgiServer
from pbx_bridge.agi.session import AgiSession
from tests.support.lab import Lab

NAME = "Smoke Test Corp - Ann"


async def set_name(session: AgiSession) -> None:
    await session.set_variable("CALLERID(name)", NAME)


async def leave_name(session: AgiSession) -> None:
    await session.verbose("smoke control: name left alone")


@pytest.mark.parametrize("route", [set_name, leave_name], ids=["route-sets-name", "route-leaves-name"])
async def test_fastagi_name_reaches_callee_and_ami_sees_call(lab: Lab, route) -> None:
    caller = lab.new_caller_number()
    server = FastAgiServer("127.0.0.1", lab.fastagi_port, {"cid": route})
    await server.start()
    try:
        async with lab.ami_session() as ami:
            result = await lab.call(
                lab.route("ext201"),
                caller_num=caller,
                caller_name="Original Name",
                callees={"201": "answer"},
                hold_ms=1500,
            )
            assert result.ok, result.describe()
            linkedid = ami.linkedid_of(caller)
            assert linkedid, "AMI saw no Newchannel for the caller"
            events = await ami.wait_call_end(linkedid)
    finally:
        await server.stop(asyncio.get_running_loop().time() + 2)

    assert server.stats["sessions"] >= 1 and server.stats["errors"] == 0
    names_on_ami = [e.get("CallerIDName") for e in events if e.name == "NewCallerid"]
    assert "ANSWER" in [e.get("DialStatus") for e in events if e.name == "DialEnd"]
    assert [e["Command"] for e in events if e.name == "AGIExecStart"]  # the route ran inside this call
    if route is set_name:
        assert result.invite_from_name("201") == NAME
        assert NAME in names_on_ami
    else:  # the control: without the route setting it, the phone shows the caller's own name
        assert result.invite_from_name("201") == "Original Name"
        assert NAME not in names_on_ami


CLASSIC = """#!/usr/bin/env python3
import os, sys
for line in sys.stdin:
    if line.strip() == "":
        break
for name, value in (("LAB_UID", os.getuid()), ("LAB_PY", sys.executable + " " + sys.version.split()[0])):
    sys.stdout.write(f'SET VARIABLE {name} "{value}"\\n')
    sys.stdout.flush()
    sys.stdin.readline()
"""


async def test_classic_agi_runs_unprivileged_with_the_chroot_python(lab: Lab, tmp_path) -> None:
    script = tmp_path / "lab-whoami"
    script.write_text(CLASSIC)
    name = lab.install_agi(script)
    context = {"plain": "from-sipp", "freepbx17": "from-pstn"}[lab.dialplan]
    for priority, app in enumerate(("Answer()", f"AGI({name})", "Hangup()"), start=1):
        lab.cli(f"dialplan add extension 297,{priority},{app} into {context} replace")
    caller = lab.new_caller_number()
    async with lab.ami_session() as ami:
        result = await lab.call("297", caller_num=caller, caller="wait", hold_ms=10000)
        events = await ami.wait_call_end(ami.linkedid_of(caller) or "")
    assert result.ok, result.describe()
    values = {e["Variable"]: e["Value"] for e in events if e.name == "VarSet"}
    agi_uid = (lab.root / "etc/passwd").read_text().split("pbxagi:x:")[1].split(":")[0]
    assert values["LAB_UID"] == agi_uid != "0"
    assert values["LAB_PY"].startswith("/usr/bin/python3")  # the chroot's interpreter, not our venv
    assert values["AGISTATUS"] == "SUCCESS"
