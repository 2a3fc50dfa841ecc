"""Call flows on the real lab Asterisk, plain and FreePBX-shaped: what AMI shows for each (the events and
fields a call tracker relies on). Each test uses its own caller number and keys everything on Linkedid."""

from __future__ import annotations

from tests.support.lab import AmiMessage, Lab
from tests.support.lab_fastagi import Send, TinyFastAgi


def named(events: list[AmiMessage], name: str, **fields: str) -> list[AmiMessage]:
    return [e for e in events if e.name == name and all(e.get(k) == v for k, v in fields.items())]


async def speak_balance(env: dict[str, str], send: Send) -> None:
    if env.get("agi_network_script") == "balance":
        await send('SET VARIABLE PBXB_BALANCE "42"')
        await send('SAY NUMBER 42 ""')


async def test_ivr_dtmf_sent_when_the_ivr_listens(lab: Lab) -> None:
    caller = lab.new_caller_number()
    async with lab.ami_session() as ami, TinyFastAgi(speak_balance, lab.fastagi_port) as agi:
        call = await lab.start_call(lab.route("ivr"), caller_num=caller, caller="dtmf", digits="3",
                                    hold_ms=20000)
        listening = await ami.wait_event("Newexten", Application="WaitExten", CallerIDNum=caller)
        await call.press(ami, listening["Channel"])
        result = await call.wait()
        assert result.ok, result.describe()
        events = await ami.wait_call_end(ami.linkedid_of(caller) or "")
    assert named(events, "DTMFEnd", Digit="3", Direction="Received")
    assert "balance" in [r["agi_network_script"] for r in agi.requests]
    assert named(events, "VarSet", Variable="PBXB_BALANCE", Value="42")
