"""Call flows on the real lab Asterisk, plain and the real FreePBX 17 dialplan: what AMI shows for each (the
events and fields a call tracker relies on). Each test uses its own caller number and keys everything on
Linkedid."""

from __future__ import annotations

import asyncio
import re
import signal
from pathlib import Path

from tests.support.lab import QUEUE_MEMBER, AmiMessage, AmiSession, CallResult, Lab
from tests.support.lab.fastagi import Send, TinyFastAgi


def named(events: list[AmiMessage], name: str, **fields: str) -> list[AmiMessage]:
    return [e for e in events if e.name == name and all(e.get(k) == v for k, v in fields.items())]


def chans(events: list[AmiMessage], prefix: str) -> set[str]:
    return {e["Channel"] for e in events if e.name == "Newchannel" and e["Channel"].startswith(prefix)}


async def quiet_agi(env: dict[str, str], send: Send) -> None:
    """Stands in for pbx-bridge's routes: answers every FastAGI request without changing the call."""
    await send('VERBOSE "lab flow test" 1')


async def run_call(lab: Lab, exten: str, number: str, **kw: object) -> tuple[CallResult, list[AmiMessage]]:
    async with lab.ami_session() as ami, TinyFastAgi(quiet_agi, lab.fastagi_port):
        result = await lab.call(exten, caller_num=number, **kw)  # type: ignore[arg-type]
        linkedid = ami.linkedid_of(number)
        assert linkedid, f"no Newchannel for {number} on AMI ({result.describe()})"
        events = await ami.wait_call_end(linkedid)
    return result, events


def assert_one_call(events: list[AmiMessage]) -> str:
    """Every channel of the call carries the first channel's Uniqueid as Linkedid, and hung up."""
    news = named(events, "Newchannel")
    linkedid = news[0]["Uniqueid"]
    assert {e["Linkedid"] for e in news} == {linkedid}
    assert {e["Uniqueid"] for e in news} == {e["Uniqueid"] for e in named(events, "Hangup")}
    return linkedid


# ------------------------------------------------------------------------ trunk in vs extension out


async def test_inbound_trunk_call_answered(lab: Lab) -> None:
    caller = lab.new_caller_number()
    result, events = await run_call(
        lab, lab.route("ext201"), caller, caller_name="Trunk Caller", callees={"201": "answer"}, hold_ms=1500
    )
    assert result.ok, result.describe()
    assert_one_call(events)
    first = named(events, "Newchannel")[0]
    # inbound = the trunk endpoint's channel in the trunk context, Exten = the dialled DID/extension
    trunk = {"plain": "PJSIP/from-sipp-", "freepbx17": "PJSIP/sipptrunk-"}[lab.dialplan]
    assert first["Channel"].startswith(trunk)
    assert first["Context"] == {"plain": "from-sipp", "freepbx17": "from-pstn"}[lab.dialplan]
    assert first["Exten"] == lab.route("ext201")
    assert first["CallerIDNum"] == caller
    (answered,) = named(events, "DialEnd", DialStatus="ANSWER")
    assert answered["DestChannel"].startswith("PJSIP/201-")
    assert named(events, "BridgeEnter")
    cdrs = named(events, "Cdr")
    assert any(c["Disposition"] == "ANSWERED" and c["LastApplication"] == "Dial" for c in cdrs)


async def test_internal_extension_calls_out(lab: Lab) -> None:
    # freepbx17: 201's phone authenticates with its generated credentials; FreePBX's outbound route "pstn"
    # (outrt-1 -> macro-dialout-trunk) dials the number as dialled on the trunk, with the user's caller ID
    number = "4125550" + lab.new_caller_number()[-3:]
    result, events = await run_call(
        lab, number, "201", caller_name="Alice Agent", internal=True, callees={"pstn": "answer"}, hold_ms=1500
    )
    assert result.ok, result.describe()
    assert_one_call(events)
    first = named(events, "Newchannel")[0]
    # outbound = a phone's channel (identified by source 127.0.0.2 or From user 201) in from-internal
    assert first["Channel"].startswith("PJSIP/201-")
    assert first["Context"] == "from-internal"
    assert first["Exten"] == number
    trunk = {"plain": "PJSIP/pstn-", "freepbx17": "PJSIP/sipptrunk-"}[lab.dialplan]
    (begin,) = [e for e in named(events, "DialBegin") if e["DestChannel"].startswith(trunk)]
    assert begin["Channel"] == first["Channel"] and begin["DialString"].startswith(number)
    (answered,) = named(events, "DialEnd", DialStatus="ANSWER")
    assert answered["DestChannel"].startswith(trunk)
    invite = result.callees["pstn"].received("INVITE")[0]
    assert invite.startswith(f"INVITE sip:{number}@")
    # the caller ID the provider sees: plain passes the phone's; FreePBX sets the extension's (AMPUSER)
    shown = {"plain": "Alice Agent", "freepbx17": "Alice"}[lab.dialplan]
    assert result.invite_from_name("pstn") == shown
    assert re.search(r"^From:.*<sip:201@", invite, re.M | re.I), invite


# ------------------------------------------------------------------------------------- ring group


async def test_ring_group_missed(lab: Lab) -> None:
    caller = lab.new_caller_number()
    result, events = await run_call(
        lab,
        lab.route("ringgroup"),
        caller,
        caller="cancel",
        hold_ms=2500,
        callees={"201": "ring", "202": "ring"},
    )
    assert result.ok, result.describe()
    assert_one_call(events)
    begins = named(events, "DialBegin")
    assert {e["DestChannel"][:10] for e in begins} == {"PJSIP/201-", "PJSIP/202-"}
    # both members dialled from the caller's channel, both cancelled, nobody bridged
    assert {e["Channel"] for e in begins} == {named(events, "Newchannel")[0]["Channel"]}
    assert {e["DialStatus"] for e in named(events, "DialEnd")} == {"CANCEL"}
    assert not named(events, "BridgeEnter")
    assert not named(events, "Newexten", Application="VoiceMail")


async def test_ring_group_answered(lab: Lab) -> None:
    caller = lab.new_caller_number()
    result, events = await run_call(
        lab, lab.route("ringgroup"), caller, hold_ms=1500, callees={"201": "answer", "202": "ring"}
    )
    assert result.ok, result.describe()
    assert_one_call(events)
    status = {e["DestChannel"][:10]: e["DialStatus"] for e in named(events, "DialEnd")}
    assert status == {"PJSIP/201-": "ANSWER", "PJSIP/202-": "CANCEL"}
    bridged = {e["Channel"][:10] for e in named(events, "BridgeEnter")}
    assert "PJSIP/201-" in bridged and "PJSIP/202-" not in bridged


# ---------------------------------------------------------------------------------- Local channels


async def test_call_through_local_channels(lab_plain: Lab) -> None:
    # FreePBX's Local channels (queue members Local/20x@from-queue/n): test_queue_answered_by_first_member
    lab = lab_plain
    caller = lab.new_caller_number()
    member = "201"
    result, events = await run_call(lab, lab.route("local"), caller, hold_ms=4000, callees={member: "answer"})
    assert result.ok, result.describe()
    assert_one_call(events)  # the Local halves and the phone all carry the caller's Linkedid
    local = chans(events, "Local/")
    assert {c[-2:] for c in local} == {";1", ";2"}
    assert named(events, "LocalBridge")
    # the phone is dialled by the Local ;2 half, not by the caller's channel
    (answered,) = [
        e
        for e in named(events, "DialEnd", DialStatus="ANSWER")
        if e["DestChannel"].startswith(f"PJSIP/{member}-")
    ]
    assert answered["Channel"].startswith("Local/") and answered["Channel"].endswith(";2")


# ------------------------------------------------------------------------------- blind transfer


async def test_blind_transfer_by_refer_to_voicemail(lab: Lab) -> None:
    caller = lab.new_caller_number()
    # 202 rings 5 s (plain) / 15 s (FreePBX's default ring time) before voicemail answers
    hold = {"plain": 9500, "freepbx17": 20000}[lab.dialplan]
    result, events = await run_call(
        lab,
        lab.route("ext201"),
        caller,
        hold_ms=hold,
        callees={"201": "refer", "202": "ring"},
        refer_to="202",
    )
    assert result.ok, result.describe()
    assert result.callees["201"].returncode == 0, "201 did not complete its REFER dialog"
    assert_one_call(events)
    (xfer,) = named(events, "BlindTransfer")  # found by its TransfereeLinkedid
    assert xfer["Result"] == "Success"
    assert xfer["Extension"] == "202"
    assert xfer["TransfererChannel"].startswith("PJSIP/201-")
    assert xfer["TransfereeChannel"] == named(events, "Newchannel")[0]["Channel"]
    assert xfer["Context"] == {"plain": "from-internal", "freepbx17": "from-internal-xfer"}[lab.dialplan]
    # after the transfer the caller rings 202, nobody answers, voicemail 202 picks up -- same Linkedid
    assert [
        e["DialStatus"] for e in named(events, "DialEnd") if e["DestChannel"].startswith("PJSIP/202-")
    ] == ["NOANSWER"]
    vm = named(events, "Newexten", Application="VoiceMail")
    assert vm and vm[0]["AppData"].startswith("202@default")


# -------------------------------------------------------------------------------------------- queues


async def test_queue_answered_by_first_member(lab: Lab) -> None:
    caller = lab.new_caller_number()
    # the queue answers the caller first (Answer()), so hold_ms counts from there
    member = QUEUE_MEMBER[lab.dialplan]
    others = {"202": "ring"} if lab.dialplan == "freepbx17" else {}  # FreePBX's queue 400 rings 201 + 202
    result, events = await run_call(
        lab, lab.route("queue"), caller, hold_ms=4000, callees={member: "answer", **others}
    )
    assert result.ok, result.describe()
    assert_one_call(events)
    queue = {"plain": "support", "freepbx17": "400"}[lab.dialplan]
    name = {"plain": "Carol Queue", "freepbx17": "Alice"}[lab.dialplan]
    assert named(events, "QueueCallerJoin", Queue=queue)
    (connect,) = named(events, "AgentConnect")
    assert connect["Queue"] == queue and connect["MemberName"] == name
    assert connect["Interface"] == {"plain": "PJSIP/203", "freepbx17": "Local/201@from-queue/n"}[lab.dialplan]
    assert named(events, "AgentComplete", MemberName=name)
    assert not named(events, "QueueCallerAbandon")


async def test_queue_answered_by_later_member(lab_plain: Lab) -> None:
    lab = lab_plain  # a linear queue: the FreePBX 17 snapshot has only a ringall one
    caller = lab.new_caller_number()
    result, events = await run_call(
        lab, lab.route("queue_linear"), caller, hold_ms=8000, callees={"203": "ring", "204": "answer"}
    )
    assert result.ok, result.describe()
    assert_one_call(events)
    called = [e["MemberName"] for e in named(events, "AgentCalled")]
    assert called[:2] == ["Carol Queue", "Dave Later"]
    assert named(events, "AgentRingNoAnswer", MemberName="Carol Queue")
    (connect,) = named(events, "AgentConnect")
    assert connect["MemberName"] == "Dave Later"
    phone = [
        e for e in named(events, "DialEnd", DialStatus="ANSWER") if e["DestChannel"].startswith("PJSIP/")
    ]
    assert [e["DestChannel"][:10] for e in phone] == ["PJSIP/204-"]


# ------------------------------------------------------------------------------ unavailable phone


async def test_unavailable_extension(lab_plain: Lab) -> None:
    # FreePBX: an unregistered ring-group member gets no DialBegin (test_freepbx17_flows.py)
    lab = lab_plain
    caller = lab.new_caller_number()
    result, events = await run_call(lab, lab.route("ext205"), caller, hold_ms=2000)
    assert result.ok, result.describe()
    assert_one_call(events)
    # nothing to ring: no phone channel, no DialBegin; DIALSTATUS says CHANUNAVAIL; voicemail 205 answers
    assert not chans(events, "PJSIP/205-")
    assert not named(events, "DialBegin")
    assert named(events, "VarSet", Variable="DIALSTATUS", Value="CHANUNAVAIL")
    vm = named(events, "Newexten", Application="VoiceMail")
    assert vm and vm[0]["AppData"].startswith("205@default")


# ------------------------------------------------------------------ Asterisk goes away mid-ring


async def ringing_call(lab: Lab, ami: AmiSession, caller: str):
    handle = await lab.start_call(
        lab.route("ext202"),
        caller_num=caller,
        caller="cancel",
        hold_ms=30000,
        callees={"202": "ring"},
        timeout=40,
    )
    await ami.wait_for(
        lambda e: (
            e.name == "DialState" and e.get("DialStatus") == "RINGING" and e.get("CallerIDNum") == caller
        )
    )
    return handle


async def test_asterisk_sigterm_while_ringing(lab: Lab) -> None:
    caller = lab.new_caller_number()
    async with lab.ami_session() as ami, TinyFastAgi(quiet_agi, lab.fastagi_port):
        handle = await ringing_call(lab, ami, caller)
        lab.controller.signal(signal.SIGTERM)
        await asyncio.wait_for(ami.closed.wait(), 30)
        await handle.abort()
    linkedid = ami.linkedid_of(caller)
    events = ami.call_events(linkedid or "")
    # a clean shutdown hangs the ringing call up (DialEnd, Hangup of every channel, Cdr) before AMI closes;
    # the "Shutdown" event usually follows, but Asterisk may close the session before sending it
    hung_up = {e["Uniqueid"] for e in named(events, "Hangup")}
    assert {e["Uniqueid"] for e in named(events, "Newchannel")} <= hung_up
    assert [e["DialStatus"] for e in named(events, "DialEnd")] == ["NOANSWER"]
    assert named(events, "Cdr")
    shutdown = [i for i, e in enumerate(ami.events) if e.name == "Shutdown"]
    last_hangup = max(i for i, e in enumerate(ami.events) if e.name == "Hangup" and e in events)
    assert all(i > last_hangup for i in shutdown)


async def test_asterisk_sigkill_while_ringing(lab: Lab) -> None:
    caller = lab.new_caller_number()
    async with lab.ami_session() as ami, TinyFastAgi(quiet_agi, lab.fastagi_port):
        handle = await ringing_call(lab, ami, caller)
        lab.controller.signal(signal.SIGKILL)
        await asyncio.wait_for(ami.closed.wait(), 30)
        await handle.abort()
    events = ami.call_events(ami.linkedid_of(caller) or "")
    # a crash: the socket just closes -- no Shutdown, no Hangup, no DialEnd, no Cdr for the ringing call
    assert named(events, "Newchannel")
    assert not named(ami.events, "Shutdown")
    assert not [e for e in events if e.name in ("Hangup", "DialEnd", "Cdr")]


# ---------------------------------------------------------------------------------------------- IVR


async def speak_balance(env: dict[str, str], send: Send) -> None:
    if env.get("agi_network_script") == "balance":
        await send('SET VARIABLE PBXB_BALANCE "42"')
        await send('SAY NUMBER 42 ""')


async def test_ivr_dtmf_sent_when_the_ivr_listens(lab: Lab) -> None:
    caller = lab.new_caller_number()
    async with lab.ami_session() as ami, TinyFastAgi(speak_balance, lab.fastagi_port) as agi:
        call = await lab.start_call(
            lab.route("ivr"), caller_num=caller, caller="dtmf", digits="3", hold_ms=20000
        )
        listening = await ami.wait_event("Newexten", Application="WaitExten", CallerIDNum=caller)
        await call.press(ami, listening["Channel"])
        result = await call.wait()
        assert result.ok, result.describe()
        events = await ami.wait_call_end(ami.linkedid_of(caller) or "")
    assert named(events, "DTMFEnd", Digit="3", Direction="Received")
    assert "balance" in [r["agi_network_script"] for r in agi.requests]
    assert named(events, "VarSet", Variable="PBXB_BALANCE", Value="42")
    # Asterisk hung up (the caller answered its BYE): the caller channel's Hangup is a normal clearing
    assert named(events, "Hangup")[0]["Cause"] == "16"


# ------------------------------------------------------------------------------- concurrent calls


async def test_concurrent_calls_keep_their_own_linkedid(lab_plain: Lab) -> None:
    callers = [lab_plain.new_caller_number() for _ in range(4)]
    async with lab_plain.ami_session() as ami, TinyFastAgi(quiet_agi, lab_plain.fastagi_port):
        handles = [await lab_plain.start_call("205", caller_num=n, hold_ms=1500) for n in callers]
        results = [await h.wait() for h in handles]
        ends = [await ami.wait_call_end(ami.linkedid_of(n) or "") for n in callers]
    assert all(r.ok for r in results), [r.describe() for r in results]
    linkedids = [assert_one_call(evs) for evs in ends]
    assert len(set(linkedids)) == 4
    # the calls overlapped: every caller channel existed before the first one hung up
    first_hangup = next(i for i, e in enumerate(ami.events) if e.name == "Hangup")
    started = {e["Linkedid"] for e in ami.events[:first_hangup] if e.name == "Newchannel"}
    assert set(linkedids) <= started


# ------------------------------------------------------------------------------------- voicemail


async def test_voicemail_left_reaches_the_spool(lab_plain: Lab) -> None:
    caller = lab_plain.new_caller_number()
    before = len(lab_plain.voicemails("202"))
    result, events = await run_call(
        lab_plain,
        lab_plain.route("ext202"),
        caller,
        caller_name="Vm Caller",
        caller="voicemail",
        hold_ms=1500,
        callees={"202": "ring"},
    )
    assert result.ok, result.describe()
    linkedid = assert_one_call(events)
    (mwi,) = named(events, "MessageWaiting")
    assert mwi["Mailbox"] == "202@default" and mwi["Linkedid"] == linkedid
    (msgfile,) = named(events, "VarSet", Variable="VM_MESSAGEFILE")
    messages = lab_plain.voicemails("202")
    assert len(messages) == before + 1
    new = messages[-1]
    assert new["path"].removesuffix(".txt").endswith(msgfile["Value"])  # host path of the same message
    assert new["callerid"] == f'"Vm Caller" <{caller}>'
    assert int(new["duration"]) >= 1
    assert Path(new["path"]).with_suffix(".wav").is_file()
