"""The call tracker on the AMI traces of real calls through a full FreePBX 17 (read at test time from
``$PBX_BRIDGE_FREEPBX17/traces``; FreePBX's output is not copied into this repository): the right outcome
per call, and the ticket policy's default decision: one ticket per missed call or voicemail, none for
answered ones. Real FreePBX 17 traces carry no ``Timestamp`` header (FreePBX's manager.conf does not set
``timestampevents``), so ring times are not asserted here; the lab tests run the same flows live."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pbx_bridge.ami.framing import parse_stream
from pbx_bridge.ami.outcome import CallRecord, Outcome
from pbx_bridge.ami.tracker import CallTracker
from pbx_bridge.numbers import NumberPlan, NumbersSettings
from pbx_bridge.tickets.policy import TicketPolicy
from pbx_bridge.tickets.settings import TicketsSettings
from tests.support.lab import freepbx17 as lab_freepbx17

from .traces import FakeClock

# trace -> (outcome, caller number, DID, queue, mailbox, voicemail message, ticket kind or None)
EXPECTED = {
    "a_rg_answered": (Outcome.ANSWERED, "4125550101", "5551000", "", "", "", None),
    "b_rg_missed": (Outcome.MISSED, "4125550102", "5551000", "", "", "", "missed"),
    "c_rg_voicemail": (Outcome.VOICEMAIL, "4125550103", "5551000", "", "201@default", "msg0001", "voicemail"),
    "d_queue_answered": (Outcome.ANSWERED, "4125550104", "5550400", "400", "", "", None),
    "e_queue_abandon": (Outcome.ABANDONED, "4125550105", "5550400", "400", "", "", "missed"),
    # Custom Destination FastAGI cid (nothing listening: AGISTATUS=FAILURE, the call goes on), ring group
    "f_cid_customdest": (Outcome.ANSWERED, "4125550106", "5550100", "", "", "", None),
    # the balance Custom Destination with FastAGI down: never answered, 603 Decline: an application call
    "g_balance_customdest": (Outcome.APPLICATION, "4125550107", "5550300", "", "", "", None),
    # an AMI Originate into from-pstn, both members unregistered: straight to voicemail 201, no message
    "rg_noanswer_voicemail": (
        Outcome.VOICEMAIL_NO_MESSAGE,
        "+15550001111",
        "5551234",
        "",
        "201@default",
        "",
        "missed",
    ),
}


def trace_path(name: str) -> Path:
    base = lab_freepbx17.folder()
    path = base / "traces" / f"{name}.ami.txt" if base else None
    if path is None or not path.is_file():
        why = f"{lab_freepbx17.ENV} is not set" if base is None else f"{path} is missing"
        if os.environ.get("CI"):
            pytest.fail(f"the real FreePBX 17 traces are needed in CI: {why}", pytrace=False)
        pytest.skip(f"no real FreePBX 17 traces: {why} (point it at the FreePBX 17 snapshot folder)")
    return path


def replay(path: Path) -> list[CallRecord]:
    clock = FakeClock()
    tracker = CallTracker(clock=clock, grace=3.0)
    out: list[CallRecord] = []
    for event in parse_stream(path.read_bytes()):
        clock.now += 0.001  # no Timestamp headers: a strictly moving clock keeps the event order
        out.extend(tracker.feed(event))
    clock.now += 10
    out.extend(tracker.tick())
    return out


def main_call(records: list[CallRecord], number: str) -> CallRecord:
    """The trace's call: the one whose first context is the trunk's (b also holds the tail of an earlier,
    aborted call of the same caller that starts mid-dialplan in macro-vm)."""
    calls = [r for r in records if r.caller_num == number and r.context == "from-pstn"]
    assert len(calls) == 1, [(r.outcome, r.context) for r in records]
    return calls[0]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_real_freepbx17_trace_outcome_and_ticket(name: str) -> None:
    outcome, number, did, queue, mailbox, msg, kind = EXPECTED[name]
    records = replay(trace_path(name))
    rec = main_call(records, number)
    assert (rec.outcome, rec.did, rec.queue, rec.mailbox, rec.voicemail_msg) == (
        outcome,
        did,
        queue,
        mailbox,
        msg,
    )
    if outcome is Outcome.ANSWERED:
        assert rec.answered_by.startswith("PJSIP/20")  # the phone, not a Local/ queue leg
    plan = NumberPlan(NumbersSettings())
    policy = TicketPolicy(TicketsSettings(), is_internal=plan.is_internal)
    decisions = [policy.decide(r, caller_known=False) for r in records]
    tickets = [d.kind for d in decisions if d.ticket]
    assert tickets == ([kind] if kind else []), [
        (r.outcome, d.reason) for r, d in zip(records, decisions, strict=True)
    ]


def test_every_real_trace_is_covered() -> None:
    base = lab_freepbx17.folder()
    if base is None or not (base / "traces").is_dir():
        trace_path("a_rg_answered")  # skips or fails with the reason
    names = {p.name.removesuffix(".ami.txt") for p in lab_freepbx17.traces()}
    assert names == set(EXPECTED)
