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
