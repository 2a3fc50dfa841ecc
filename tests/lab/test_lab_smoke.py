"""The whole loop on a real Asterisk: sipp call -> FastAGI route sets CALLERID(name) -> the callee's INVITE
carries that name -> an AMI session sees the call. Runs on the plain and the FreePBX-shaped dialplan."""

from __future__ import annotations

import pytest

from tests.support.lab import Lab
from tests.support.lab_fastagi import Send, TinyFastAgi

NAME = "Smoke Test Corp - Ann"


async def set_name(env: dict[str, str], send: Send) -> None:
    if env.get("agi_network_script") == "cid":
        assert (await send(f'SET VARIABLE CALLERID(name) "{NAME}"')).startswith("200 result=1")


async def do_nothing(env: dict[str, str], send: Send) -> None:
    await send('VERBOSE "smoke control: name left alone" 1')


@pytest.mark.parametrize("route", [set_name, do_nothing], ids=["route-sets-name", "route-leaves-name"])
async def test_fastagi_name_reaches_callee_and_ami_sees_call(lab: Lab, route) -> None:
    caller = lab.new_caller_number()
    async with lab.ami_session() as ami, TinyFastAgi(route, lab.fastagi_port) as agi:
        result = await lab.call(lab.route("ext201"), caller_num=caller, caller_name="Original Name",
                                callees={"201": "answer"}, hold_ms=1500)
        assert result.ok, result.describe()
        linkedid = ami.linkedid_of(caller)
        assert linkedid, "AMI saw no Newchannel for the caller"
        events = await ami.wait_call_end(linkedid)

    assert [r.get("agi_callerid") for r in agi.requests if r.get("agi_network_script") == "cid"] == [caller]
    names_on_ami = [e.get("CallerIDName") for e in events if e.name == "NewCallerid"]
    dial_ends = [e.get("DialStatus") for e in events if e.name == "DialEnd"]
    assert "ANSWER" in dial_ends
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
    context = {"plain": "from-sipp", "freepbx": "from-pstn"}[lab.dialplan]
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
