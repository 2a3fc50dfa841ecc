"""The call journal, finer outcomes and voicemail audio links on real calls, both dialplans (plain and
the real FreePBX 17): lab Asterisk -> AmiListener -> tickets + journal intake -> the tickets outbox ->
OutboxWorker (open-ticket index, technicians' keys) -> the ITFlow simulator; the voicemail link served
from the lab's own spool. Each test: its own caller number, a fresh simulator, a fresh state file.

Simulator seed: ACME Corp is client 1; user 2 (Rita Restricted, key "client") may write only client 1.
Extension 201 is Rita's, with her own key: ITFlow credits her notes to user 2.
"""

from __future__ import annotations

import asyncio
import time
import wave
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web

from itflow_sim import Simulator
from pbx_bridge.ami.listener import AmiListener
from pbx_bridge.ami.outcome import CallRecord
from pbx_bridge.ami.settings import AmiSettings
from pbx_bridge.callerid.service import CallerId
from pbx_bridge.directory.service import DirectorySync
from pbx_bridge.itflow.backend import Itflow
from pbx_bridge.itflow.v1 import V1Client
from pbx_bridge.journal.intake import JournalIntake
from pbx_bridge.metrics import Metrics
from pbx_bridge.numbers import NumberPlan
from pbx_bridge.settings import parse_settings
from pbx_bridge.store import Store
from pbx_bridge.tickets.intake import TicketIntake
from pbx_bridge.tickets.outbox import Outbox
from pbx_bridge.tickets.voicemail_links import VoicemailAudio, VoicemailLinks, load_key, voicemail_routes
from pbx_bridge.tickets.worker import OutboxWorker
from tests.support.lab import Lab
from tests.support.lab.fastagi import Send, TinyFastAgi
from tests.support.waits import wait_until

SETTLED = ("delivered", "dead", "skipped", "replaced")


async def _quiet_agi(env: dict[str, str], send: Send) -> None:
    await send('VERBOSE "journal lab test" 1')


@dataclass
class Stack:
    sim: Simulator
    outbox: Outbox
    records: list[CallRecord]
    vm_base: str
    links: VoicemailLinks
    seed_tickets: frozenset[str]
    seed_replies: frozenset[str]

    async def record_of(self, number: str) -> CallRecord:
        def seen() -> bool:
            return any(number in (r.caller_num, r.dialled) for r in self.records)

        await wait_until(seen, timeout=90, what=f"the call of {number} finished")
        return next(r for r in self.records if number in (r.caller_num, r.dialled))

    async def settled(self, rec: CallRecord) -> None:
        def done() -> bool:
            rows = [r for r in self.outbox.rows((*SETTLED, "pending")) if r.linkedid == rec.linkedid]
            return all(r.state in SETTLED for r in rows)

        await wait_until(done, timeout=90, what=f"outbox items of {rec.linkedid} settled")

    def replies_for(self, rec: CallRecord) -> list[dict[str, Any]]:
        return [
            r
            for r in self.sim.db["ticket_replies"]
            if r["ticket_reply_id"] not in self.seed_replies and f"call={rec.linkedid};" in r["ticket_reply"]
        ]

    def tickets_for(self, rec: CallRecord) -> list[dict[str, Any]]:
        return [
            t
            for t in self.sim.db.tickets
            if t["ticket_id"] not in self.seed_tickets and f"call={rec.linkedid};" in t["ticket_details"]
        ]


def known_caller(sim: Simulator, number: str, *, open_ticket: bool) -> str:
    """A contact of ACME Corp (client 1) for ``number`` (stored as ITFlow stores it: digits, no country
    code); with ``open_ticket`` an open ticket of theirs. Returns the ticket id ("" without one)."""
    contact = sim.db.insert(
        "contacts",
        {"contact_name": "Lab Contact", "contact_phone": number[-10:], "contact_client_id": 1},
    )
    for t in sim.db.tickets:  # nothing else of ACME's is open: the note has one place to go
        if t["ticket_client_id"] == "1":
            t["ticket_status"] = "5"
    if not open_ticket:
        return ""
    return str(
        sim.db.insert(
            "tickets",
            {
                "ticket_subject": "Lab: an open ticket",
                "ticket_status": 2,
                "ticket_client_id": 1,
                "ticket_contact_id": contact,
                "ticket_created_at": "2026-11-01 09:00:00",
            },
        )
    )


@asynccontextmanager
async def journal_stack(
    lab: Lab,
    itflow_sim: Any,
    tmp_path: Path,
    *,
    journal: str = "",
    callers: dict[str, bool] | None = None,
) -> AsyncIterator[Stack]:
    sim = await itflow_sim("v1-head")  # v26.08: the open-ticket index path
    for number, open_ticket in (callers or {}).items():
        known_caller(sim, number, open_ticket=open_ticket)
    key = tmp_path / "rita.key"
    key.write_text(sim.keys["client"])
    key.chmod(0o600)
    text = (
        f"itflow:\n  url: {sim.url}\n  api_key: {sim.keys['all']}\nstate_dir: {tmp_path / 'state'}\n"
        f"technicians:\n  - {{name: Rita, extensions: ['201'], itflow_user_id: 2, api_key_file: {key}}}\n"
        "journal:\n  enabled: true\n  min_talk_seconds: 0\n  rounding: {mode: up, minutes: 15}\n" + journal
    )
    settings = parse_settings(text, env={})
    (tmp_path / "state").mkdir()
    store = Store(tmp_path / "state.sqlite3")
    outbox = Outbox(store, clock=time.time)
    itflow = Itflow(sim.url, sim.keys["all"], api="v1", timeout=5)
    assert itflow.v1 is not None
    v1 = itflow.v1
    rita = V1Client(sim.url, sim.keys["client"], timeout=5)
    plan = NumberPlan(settings.numbers)
    metrics = Metrics()
    directory = DirectorySync(settings.directory, itflow, store, plan, metrics)
    callerid = CallerId(directory, itflow, plan, settings.callerid, settings.directory, metrics)
    tickets = settings.tickets.model_copy(update={"retry_first": 0.2})
    worker = OutboxWorker(
        outbox, v1, itflow.capabilities, tickets, clock=time.time, writers={"Rita": rita}.get
    )

    async def refresh(_snapshot: object) -> None:
        await worker.open_tickets.refresh(v1)

    directory.subscribe(refresh)
    await directory.sync()
    # The links' base is the server's address, known once it listens.
    links = VoicemailLinks(load_key(tmp_path / "state"), base_url="http://127.0.0.1", days=30)
    app = web.Application()
    app.router.add_routes(voicemail_routes(links, VoicemailAudio(lab.spool.parent)))
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    vm_base = f"http://127.0.0.1:{runner.addresses[0][1]}"
    links.base_url = vm_base
    intake = TicketIntake(
        tickets,
        outbox,
        is_internal=plan.is_internal,
        plan=plan,
        lookup=callerid.lookup,
        spool_root=lab.spool.parent,
        links=links,
    )
    jintake = JournalIntake(
        settings.journal, outbox.aenqueue, technicians=settings.technicians, lookup=callerid.lookup, plan=plan
    )
    records: list[CallRecord] = []

    async def on_record(rec: CallRecord) -> None:
        try:
            await intake.handle(rec)
            await jintake.handle(rec)
        finally:
            records.append(rec)  # only once its outbox items are committed

    listener = AmiListener(
        AmiSettings(
            host=lab.ami.host,
            port=lab.ami.port,
            username=lab.ami.username,
            secret=lab.ami.secret,
            grace=1.0,
            ping_interval=2,
            ping_timeout=2,
            reconnect_max=1,
        ),
        on_record,
        is_internal=plan.is_internal,
    )
    stack = Stack(
        sim,
        outbox,
        records,
        vm_base,
        links,
        frozenset(t["ticket_id"] for t in sim.db.tickets),
        frozenset(r["ticket_reply_id"] for r in sim.db["ticket_replies"]),
    )
    await worker.start()
    await listener.start()
    try:
        await wait_until(lambda: listener.connection.connected, timeout=30, what="AMI login")
        async with TinyFastAgi(_quiet_agi, lab.fastagi_port):
            yield stack
    finally:
        loop = asyncio.get_running_loop()
        await listener.stop(loop.time() + 5)
        await worker.stop(loop.time() + 5)
        await runner.cleanup()
        await callerid.aclose()
        await rita.aclose()
        await itflow.aclose()
        store.close()


async def test_answered_call_with_an_open_ticket_adds_one_internal_reply_by_the_technician(
    lab: Lab, itflow_sim: Any, tmp_path: Path
) -> None:
    number = lab.new_caller_number()
    async with journal_stack(lab, itflow_sim, tmp_path, callers={number: True}) as stack:
        result = await lab.call(
            lab.route("ext201"),
            caller_num=number,
            caller_name="Lab Caller",
            callees={"201": "answer"},
            hold_ms=3000,
        )
        assert result.ok, result.describe()
        rec = await stack.record_of(number)
        await stack.settled(rec)
        (reply,) = stack.replies_for(rec)
        assert stack.tickets_for(rec) == []
    assert rec.outcome.value == "answered" and rec.extension == "201"
    assert reply["ticket_reply_type"] == "Internal"
    assert reply["ticket_reply_time_worked"] == "0:15:00"  # about 3 s talked, rounded up to 15 min
    assert reply["ticket_reply_by"] == "2"  # Rita's own key
    assert "Answered by:</b> Rita (201)" in reply["ticket_reply"]
    ticket = next(t for t in stack.sim.db.tickets if t["ticket_id"] == reply["ticket_reply_ticket_id"])
    assert ticket["ticket_subject"] == "Lab: an open ticket"


async def test_no_open_ticket_and_new_ticket_policy_opens_one_assigned_ticket(
    lab: Lab, itflow_sim: Any, tmp_path: Path
) -> None:
    number = lab.new_caller_number()
    async with journal_stack(
        lab, itflow_sim, tmp_path, journal="  action: note-or-ticket\n", callers={number: False}
    ) as stack:
        result = await lab.call(
            lab.route("ext201"),
            caller_num=number,
            caller_name="Lab Caller",
            callees={"201": "answer"},
            hold_ms=2000,
        )
        assert result.ok, result.describe()
        rec = await stack.record_of(number)
        await stack.settled(rec)
        (ticket,) = stack.tickets_for(rec)
        (reply,) = stack.replies_for(rec)  # the time worked, on the new ticket
    assert ticket["ticket_client_id"] == "1" and ticket["ticket_assigned_to"] == "2"
    assert ticket["ticket_subject"].startswith("Inbound call from ACME Corp - Lab Contact")
    assert reply["ticket_reply_ticket_id"] == ticket["ticket_id"]
    assert reply["ticket_reply_time_worked"] == "0:15:00" and reply["ticket_reply_by"] == "2"


async def test_outbound_call_is_noted_on_the_called_clients_open_ticket(
    lab: Lab, itflow_sim: Any, tmp_path: Path
) -> None:
    number = "4125550" + lab.new_caller_number()[-3:]
    async with journal_stack(lab, itflow_sim, tmp_path, callers={number: True}) as stack:
        result = await lab.call(
            number,
            caller_num="201",
            caller_name="Rita",
            internal=True,
            callees={"pstn": "answer"},
            hold_ms=2000,
        )
        assert result.ok, result.describe()
        rec = await stack.record_of(number)
        await stack.settled(rec)
        (reply,) = stack.replies_for(rec)
    assert (rec.direction, rec.extension, rec.dialled) == ("outbound", "201", number)
    assert "Outbound call" in reply["ticket_reply"] and "Called by:</b> Rita (201)" in reply["ticket_reply"]
    assert reply["ticket_reply_time_worked"] == "0:15:00" and reply["ticket_reply_by"] == "2"


@pytest.mark.parametrize(
    ("mode", "words"), [("busy", "busy (SIP 486"), ("decline", "declined by the callee (SIP 603")]
)
async def test_busy_and_declined_calls_show_those_outcomes(
    lab: Lab, itflow_sim: Any, tmp_path: Path, mode: str, words: str
) -> None:
    number = lab.new_caller_number()
    async with journal_stack(lab, itflow_sim, tmp_path) as stack:
        result = await lab.call(
            lab.route("ext201"),
            caller_num=number,
            caller_name="Lab Caller",
            callees={"201": mode},
            hold_ms=2000,
        )
        assert result.ok, result.describe()
        rec = await stack.record_of(number)
        await stack.settled(rec)
        (ticket,) = stack.tickets_for(rec)
    assert rec.detail == ("declined" if mode == "decline" else "busy"), rec
    assert f"<b>Outcome:</b> {words}" in ticket["ticket_details"]


async def test_voicemail_ticket_link_plays_the_message_then_410_and_403(
    lab: Lab, itflow_sim: Any, tmp_path: Path
) -> None:
    number = lab.new_caller_number()
    async with journal_stack(lab, itflow_sim, tmp_path) as stack:
        result = await lab.call(
            lab.route("ext202"),
            caller_num=number,
            caller_name="Lab Caller",
            caller="voicemail",
            callees={"202": "ring"},
            hold_ms=1500,
        )
        assert result.ok, result.describe()
        rec = await stack.record_of(number)
        await stack.settled(rec)
        (ticket,) = stack.tickets_for(rec)
        details = ticket["ticket_details"]
        start = details.index('href="') + len('href="')
        url = details[start : details.index('"', start)].replace("&amp;", "&")
        assert url.startswith(f"{stack.vm_base}/voicemail/default/202/") and "link valid until" in details
        async with httpx.AsyncClient() as http:
            r = await http.get(url)
            assert r.status_code == 200 and r.headers["content-type"] == "audio/wav"
            with wave.open(BytesIO(r.content)) as w:  # PCM a browser plays, the recorded message's length
                assert w.getsampwidth() == 2 and w.getnframes() > w.getframerate() // 2
            sig = url.rsplit("&s=", 1)[1]
            tampered = url[: -len(sig)] + ("0" if sig[0] != "0" else "1") + sig[1:]
            assert (await http.get(tampered)).status_code == 403
            context, box, name = url.split("/voicemail/", 1)[1].split("?", 1)[0].split("/")
            old = stack.links.link(f"{box}@{context}", name.removesuffix(".wav"), now=1_000_000_000.0)
            assert old is not None and (await http.get(old[0])).status_code == 403  # expired
            # the message is deleted from the mailbox
            path = rec.voicemail_path.split("/voicemail/", 1)[1]
            for f in (lab.spool.parent / path).parent.glob(Path(path).name + ".*"):
                f.unlink()
            assert (await http.get(url)).status_code == 410
