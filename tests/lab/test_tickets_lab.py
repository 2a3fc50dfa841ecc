"""Tickets from real calls: the lab's Asterisk (plain and the real FreePBX 17 dialplan) -> AmiListener ->
tickets intake
-> outbox -> OutboxWorker -> the ITFlow simulator. Every row of the issue's outcome table gives exactly the
expected tickets; also with the recommended event filter (the lab's ``pbxbridge-filtered`` AMI user, which
the freepbx17 lab overlay adds to manager_custom.conf); Asterisk killed mid-call invents nothing and
the next call is tracked. Each test: its own caller number, a fresh simulator, a fresh state file.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from itflow_sim import Simulator
from pbx_bridge.ami.listener import AmiListener
from pbx_bridge.ami.outcome import CallRecord, Outcome
from pbx_bridge.ami.settings import AmiSettings
from pbx_bridge.itflow.backend import Itflow
from pbx_bridge.numbers import NumberPlan, NumbersSettings
from pbx_bridge.store import Store
from pbx_bridge.tickets.intake import TicketIntake
from pbx_bridge.tickets.outbox import Outbox
from pbx_bridge.tickets.settings import TicketsSettings
from pbx_bridge.tickets.worker import OutboxWorker
from tests.support.lab import QUEUE_MEMBER, Lab
from tests.support.lab.fastagi import Send, TinyFastAgi

FILTERED_USER = ("pbxbridge-filtered", "pbxbridge-lab-secret")


async def _quiet_agi(env: dict[str, str], send: Send) -> None:
    await send('VERBOSE "tickets lab test" 1')


async def _until(cond, limit: float = 90.0) -> None:  # a hang guard, never a timing assertion
    async with asyncio.timeout(limit):
        for _ in range(int(limit * 20)):
            if cond():
                return
            await asyncio.sleep(0.05)


@dataclass
class Stack:
    sim: Simulator
    outbox: Outbox
    listener: AmiListener
    worker: OutboxWorker
    records: list[CallRecord] = field(default_factory=list)
    seed: frozenset[str] = frozenset()

    async def outcome_of(self, number: str) -> CallRecord:
        await _until(lambda: any(r.caller_num == number for r in self.records))
        return next(r for r in self.records if r.caller_num == number)

    async def tickets_for(self, rec: CallRecord) -> list[dict[str, str]]:
        """Wait until the call's outbox rows (if any) are delivered; return ITFlow's tickets for it."""

        def settled() -> bool:
            rows = [
                r
                for r in self.outbox.rows(("pending", "dead", "delivered", "replaced"))
                if r.linkedid == rec.linkedid
            ]
            return all(r.state in ("delivered", "replaced", "dead") for r in rows)

        await _until(settled)
        return [
            t
            for t in self.sim.db.tickets
            if t["ticket_id"] not in self.seed and f"call={rec.linkedid};" in t["ticket_details"]
        ]


@asynccontextmanager
async def ticket_stack(
    lab: Lab, itflow_sim, tmp_path: Path, *, user: tuple[str, str] | None = None, grace: float = 1.0
) -> AsyncIterator[Stack]:
    sim = await itflow_sim("v1-head")
    store = Store(tmp_path / "state.sqlite3")
    outbox = Outbox(store, clock=time.time)
    itflow = Itflow(sim.url, sim.keys["all"], api="v1", timeout=5)
    assert itflow.v1 is not None
    settings = TicketsSettings(retry_first=0.2)
    worker = OutboxWorker(outbox, itflow.v1, itflow.capabilities, settings, clock=time.time)
    plan = NumberPlan(NumbersSettings())
    intake = TicketIntake(
        settings, outbox, is_internal=plan.is_internal, plan=plan, spool_root=lab.spool.parent
    )
    records: list[CallRecord] = []

    async def on_record(rec: CallRecord) -> None:
        try:
            await intake.handle(rec)
        finally:
            records.append(rec)  # only once its outbox row (if any) is committed

    username, secret = user or (lab.ami.username, lab.ami.secret)
    listener = AmiListener(
        AmiSettings(
            host=lab.ami.host,
            port=lab.ami.port,
            username=username,
            secret=secret,
            grace=grace,
            ping_interval=2,
            ping_timeout=2,
            reconnect_max=1,
        ),
        on_record,
    )
    stack = Stack(sim, outbox, listener, worker, records, frozenset(t["ticket_id"] for t in sim.db.tickets))
    await worker.start()
    await listener.start()
    try:
        await _until(lambda: listener.connection.connected, 30)
        async with TinyFastAgi(_quiet_agi, lab.fastagi_port):
            yield stack
    finally:
        loop = asyncio.get_running_loop()
        await listener.stop(loop.time() + 5)
        await worker.stop(loop.time() + 5)
        await itflow.aclose()
        store.close()


# (route, call keywords, expected outcome, expected ticket kinds)
ROWS = {
    "answered": ("ext201", dict(callees={"201": "answer"}, hold_ms=1500), Outcome.ANSWERED, []),
    "answered-ring-group": (
        "ringgroup",
        dict(callees={"201": "answer", "202": "ring"}, hold_ms=1500),
        Outcome.ANSWERED,
        [],
    ),
    "answered-queue-member": (
        "queue",
        dict(callees={"member": "answer"}, hold_ms=5000),
        Outcome.ANSWERED,
        [],
    ),
    "missed-caller-hung-up": (
        "ext202",
        dict(caller="cancel", callees={"202": "ring"}, hold_ms=2000),
        Outcome.MISSED,
        ["missed"],
    ),
    "missed-ring-group": (
        "ringgroup",
        dict(caller="cancel", callees={"201": "ring", "202": "ring"}, hold_ms=2000),
        Outcome.MISSED,
        ["missed"],
    ),
    "busy-then-voicemail-no-message": (
        "ext201",
        dict(callees={"201": "busy"}, hold_ms=2000),
        Outcome.VOICEMAIL_NO_MESSAGE,
        ["missed"],
    ),
    "no-answer-voicemail-no-message": (
        "ext202",
        dict(callees={"202": "ring"}, hold_ms=2000),
        Outcome.VOICEMAIL_NO_MESSAGE,
        ["missed"],
    ),
    "voicemail-left": (
        "ext202",
        dict(caller="voicemail", callees={"202": "ring"}, hold_ms=1000),
        Outcome.VOICEMAIL,
        ["voicemail"],
    ),
    # 201 answers and blind-transfers (REFER) to 202, which does not answer: the caller leaves a message
    "voicemail-after-answer-and-transfer": (
        "ext201",
        dict(caller="voicemail", callees={"201": "refer", "202": "ring"}, refer_to="202", hold_ms=10000),
        Outcome.VOICEMAIL,
        ["voicemail"],
    ),
    "abandoned-in-queue": (
        "queue",
        dict(callees={"member": "ring"}, hold_ms=3000),
        Outcome.ABANDONED,
        ["missed"],
    ),
    "ivr-application": ("ivr", dict(caller="wait", hold_ms=3000), Outcome.APPLICATION, []),
}


# rows only the plain dialplan has a route for (the FreePBX 17 snapshot has no extension without a phone)
PLAIN_ROWS = {
    "unavailable-then-voicemail-no-message": (
        "ext205",
        dict(hold_ms=2000),
        Outcome.VOICEMAIL_NO_MESSAGE,
        ["missed"],
    ),
}
# FreePBX rings an extension 15 s (plain: 5 s) before voicemail answers, longer than the voicemail caller's
# fixed pause for the greeting: after the transfer this caller hangs up during 202's greeting instead. A
# person (201) answered it: an answered call, no ticket.
FREEPBX_VARIANTS = {
    "voicemail-after-answer-and-transfer": (
        "ext201",
        dict(callees={"201": "refer", "202": "ring"}, refer_to="202", hold_ms=19000),
        Outcome.ANSWERED,
        [],
    ),
}


def for_dialplan(lab: Lab, kw: dict) -> dict:
    """``callees={"member": ...}``: the queue member that answers in this dialplan (FreePBX's queue 400
    rings 201 and 202 together: the other one rings)."""
    callees = dict(kw.get("callees", {}))
    if "member" in callees:
        mode = callees.pop("member")
        callees[QUEUE_MEMBER[lab.dialplan]] = mode
        if lab.dialplan == "freepbx17":
            callees["202"] = "ring"
    return {**kw, "callees": callees}


async def run_row(lab: Lab, itflow_sim, tmp_path: Path, row: tuple) -> None:
    route, kw, outcome, kinds = row
    kw = for_dialplan(lab, kw)
    number = lab.new_caller_number()
    async with ticket_stack(lab, itflow_sim, tmp_path) as stack:
        result = await lab.call(lab.route(route), caller_num=number, caller_name="Lab Caller", **kw)
        assert result.ok, result.describe()
        rec = await stack.outcome_of(number)
        assert rec.outcome is outcome, (rec, result.describe())
        tickets = await stack.tickets_for(rec)
    assert (
        sorted("voicemail" if t["ticket_subject"].startswith("Voicemail") else "missed" for t in tickets)
        == kinds
    )
    for t in tickets:
        assert t["ticket_client_id"] == "0"  # an unknown caller: no client
        assert t["ticket_subject"].endswith(f"from +1 555-{number[4:7]}-{number[7:]}")


@pytest.mark.parametrize("row", sorted(ROWS))
async def test_outcome_table_row(lab: Lab, itflow_sim, tmp_path: Path, row: str) -> None:
    row_def = FREEPBX_VARIANTS.get(row, ROWS[row]) if lab.dialplan == "freepbx17" else ROWS[row]
    await run_row(lab, itflow_sim, tmp_path, row_def)


@pytest.mark.parametrize("row", sorted(PLAIN_ROWS))
async def test_outcome_table_row_plain_only(lab_plain: Lab, itflow_sim, tmp_path: Path, row: str) -> None:
    await run_row(lab_plain, itflow_sim, tmp_path, PLAIN_ROWS[row])


async def test_internal_call_never_tickets(lab_plain: Lab, itflow_sim, tmp_path: Path) -> None:
    lab = lab_plain  # the freepbx17 lab has no authenticating caller phone (yet)
    async with ticket_stack(lab, itflow_sim, tmp_path) as stack:
        result = await lab.call(
            "202",
            caller_num="201",
            caller_name="Alice Agent",
            internal=True,
            caller="cancel",
            callees={"202": "ring"},
            hold_ms=2000,
        )
        assert result.ok, result.describe()
        rec = await stack.outcome_of("201")
        assert rec.outcome is Outcome.INTERNAL
        assert await stack.tickets_for(rec) == []


@pytest.mark.freepbx
async def test_recommended_event_filter_gives_the_same_tickets(
    lab_freepbx: Lab, itflow_sim, tmp_path: Path
) -> None:
    lab = lab_freepbx
    async with ticket_stack(lab, itflow_sim, tmp_path, user=FILTERED_USER) as stack:
        expected = {}
        for route, kw, outcome, kinds in (
            ROWS["answered-queue-member"],
            ROWS["missed-ring-group"],
            ROWS["voicemail-left"],
            ROWS["abandoned-in-queue"],
            ROWS["busy-then-voicemail-no-message"],
        ):
            number = lab.new_caller_number()
            result = await lab.call(lab.route(route), caller_num=number, **for_dialplan(lab, kw))
            assert result.ok, result.describe()
            expected[number] = (outcome, kinds)
        for number, (outcome, kinds) in expected.items():
            rec = await stack.outcome_of(number)
            assert rec.outcome is outcome, rec
            tickets = await stack.tickets_for(rec)
            assert len(tickets) == len(kinds)
        assert stack.listener.tracker.stats.events < 2000  # a fraction of the raw stream


async def test_asterisk_killed_mid_call_reconnects_and_invents_nothing(
    lab: Lab, itflow_sim, tmp_path: Path
) -> None:
    lost = lab.new_caller_number()
    async with ticket_stack(lab, itflow_sim, tmp_path) as stack:
        handle = await lab.start_call(
            lab.route("ext202"),
            caller_num=lost,
            caller="cancel",
            hold_ms=30000,
            callees={"202": "ring"},
            timeout=40,
        )
        await _until(lambda: stack.listener.tracker.active >= 1)
        await asyncio.sleep(1.0)  # let it ring
        lab.controller.signal(signal.SIGKILL)
        await handle.abort()
        await _until(lambda: not stack.listener.connection.connected, 30)
        await asyncio.to_thread(lab.controller.ensure, lab.dialplan)  # the PBX comes back (a new one)
        await _until(lambda: stack.listener.connection.connected, 60)
        rec = await stack.outcome_of(lost)
        assert rec.outcome is Outcome.LOST
        assert await stack.tickets_for(rec) == []
        nxt = lab.new_caller_number()
        result = await lab.call(
            lab.route("ext202"), caller_num=nxt, caller="cancel", callees={"202": "ring"}, hold_ms=2000
        )
        assert result.ok, result.describe()
        rec = await stack.outcome_of(nxt)
        assert rec.outcome is Outcome.MISSED
        assert len(await stack.tickets_for(rec)) == 1


async def test_asterisk_restarted_mid_call_gives_no_ticket(lab: Lab, itflow_sim, tmp_path: Path) -> None:
    # SIGTERM: Asterisk hangs the ringing call up cleanly, then shuts down: no outcome is invented.
    number = lab.new_caller_number()
    default_grace = AmiSettings.model_fields["grace"].default  # the rule's "within the grace period"
    async with ticket_stack(lab, itflow_sim, tmp_path, grace=default_grace) as stack:
        handle = await lab.start_call(
            lab.route("ext202"),
            caller_num=number,
            caller="cancel",
            hold_ms=30000,
            callees={"202": "ring"},
            timeout=40,
        )
        await _until(lambda: stack.listener.tracker.active >= 1)
        await asyncio.sleep(1.0)
        lab.controller.signal(signal.SIGTERM)
        await handle.abort()
        await _until(lambda: not stack.listener.connection.connected, 30)
        rec = await stack.outcome_of(number)
        assert rec.outcome is Outcome.LOST
        assert await stack.tickets_for(rec) == []
        await asyncio.to_thread(lab.controller.ensure, lab.dialplan)
        await _until(lambda: stack.listener.connection.connected, 60)


async def test_second_missed_call_from_the_same_caller_is_a_reply(
    lab: Lab, itflow_sim, tmp_path: Path
) -> None:
    number = lab.new_caller_number()
    async with ticket_stack(lab, itflow_sim, tmp_path) as stack:
        firsts = []
        for _ in range(2):
            result = await lab.call(
                lab.route("ext202"), caller_num=number, caller="cancel", callees={"202": "ring"}, hold_ms=1500
            )
            assert result.ok, result.describe()
            await _until(lambda: len([r for r in stack.records if r.caller_num == number]) == len(firsts) + 1)
            rec = [r for r in stack.records if r.caller_num == number][-1]
            firsts.append(rec)
            await stack.tickets_for(rec)
        tickets = await stack.tickets_for(firsts[0])
        replies = [
            r for r in stack.sim.db["ticket_replies"] if f"call={firsts[1].linkedid};" in r["ticket_reply"]
        ]
    assert len(tickets) == 1 and len(replies) == 1
    assert replies[0]["ticket_reply_ticket_id"] == tickets[0]["ticket_id"]
