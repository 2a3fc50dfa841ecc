"""Outbox + worker against the ITFlow simulator over real HTTP: every ticket exactly once."""

from __future__ import annotations

import asyncio
import re
from dataclasses import replace
from pathlib import Path

import pytest

from pbx_bridge.ami.outcome import Outcome
from pbx_bridge.ami.tracker import default_is_internal
from pbx_bridge.tickets.intake import TicketIntake
from pbx_bridge.tickets.render import call_marker
from pbx_bridge.tickets.settings import TicketsSettings

from ..ami.test_tracker import EXPECTED
from ..ami.traces import replay
from ..support.waits import wait_until
from .support import Rig, RigFactory, make_rig, record

TICKETED = {
    Outcome.MISSED,
    Outcome.BUSY,
    Outcome.UNAVAILABLE,
    Outcome.VOICEMAIL_NO_MESSAGE,
    Outcome.VOICEMAIL,
    Outcome.ABANDONED,
}


def _intake(rig: Rig, settings: TicketsSettings | None = None) -> TicketIntake:
    return TicketIntake(settings or TicketsSettings(), rig.outbox, is_internal=default_is_internal)


def _marker_count(rig: Rig, marker: str) -> int:
    n = sum(marker in t["ticket_details"] for t in rig.tickets)
    return n + sum(marker in r["ticket_reply"] for r in rig.replies)


async def test_simulator_down_for_all_calls_then_up_delivers_each_once(rig_for: RigFactory) -> None:
    rig = await rig_for("v1-head")
    sim = rig.sim
    intake = _intake(rig)
    sim.down = True
    traces = [*sorted(EXPECTED), "freepbx-like/filtered-user-queue-answered-and-voicemail.txt"]
    calls = [rec for name in traces for rec in replay(name)]
    for rec in calls:
        await intake.handle(rec)
    expected = [r for r in calls if r.outcome in TICKETED]
    assert len(expected) == 11
    assert rig.outbox.counts() == {"pending": 11}
    assert await rig.rounds(4) == 0  # ITFlow unreachable: nothing delivered, nothing dead
    assert rig.outbox.counts() == {"pending": 11} and rig.tickets == []
    sim.down = False
    await rig.rounds(3)
    assert rig.outbox.counts() == {"delivered": 11}
    for rec in expected:
        kind = "voicemail" if rec.outcome is Outcome.VOICEMAIL else "missed"
        assert _marker_count(rig, f"pbx-bridge:call={rec.linkedid};kind={kind}") == 1, rec.linkedid
    # repeat callers: the same numbers called several times; later calls are replies on the open ticket
    assert len(rig.tickets) + len(rig.replies) == 11
    assert len(rig.tickets) == len({r.caller_num for r in expected})


async def test_answer_lost_after_commit_gives_exactly_one_ticket(rig_for: RigFactory) -> None:
    rig = await rig_for("v1-head")
    sim = rig.sim
    await rig.itflow.capabilities()
    rig.outbox.enqueue("1795850014.2", "missed", _payload("1795850014.2"), number="+15551230002")
    sim.drop_answer_after_commit = True
    assert await rig.rounds(1) == 0
    assert len(rig.tickets) == 1  # ITFlow committed it; we never heard back
    (row,) = rig.outbox.rows(("pending",))
    assert row.in_flight
    sim.drop_answer_after_commit = False
    assert await rig.rounds(1) == 1
    assert len(rig.tickets) == 1
    (row,) = rig.outbox.rows(("delivered",))
    assert row.ticket_id == int(rig.tickets[0]["ticket_id"])


async def test_repeat_caller_gets_a_reply_on_head(rig_for: RigFactory) -> None:
    rig = await rig_for("v1-head")
    intake = _intake(rig)
    await intake.handle(record("1800000001.1", number="14125550177"))
    await rig.rounds(1, step=10)
    await intake.handle(record("1800000002.1", number="14125550177"))
    await rig.rounds(1, step=10)
    assert len(rig.tickets) == 1 and len(rig.replies) == 1
    reply = rig.replies[0]
    assert reply["ticket_reply_ticket_id"] == rig.tickets[0]["ticket_id"]
    assert "pbx-bridge:call=1800000002.1;kind=missed" in reply["ticket_reply"]


async def test_repeat_caller_with_restricted_key_sends_the_ticket_client(rig_for: RigFactory) -> None:
    rig = await rig_for("v1-head", key="client")
    rig.outbox.enqueue("1800000011.1", "missed", _payload("1800000011.1"), number="+14125550101", client_id=1)
    await rig.rounds(1, step=10)
    rig.outbox.enqueue("1800000012.1", "missed", _payload("1800000012.1"), number="+14125550101", client_id=1)
    await rig.rounds(1, step=10)
    assert len(rig.tickets) == 1 and len(rig.replies) == 1


async def test_repeat_caller_before_v26_08_gets_a_linked_ticket(rig_for: RigFactory) -> None:
    rig = await rig_for("v1-v25")
    intake = _intake(rig)
    await intake.handle(record("1800000003.1", number="14125550178"))
    await rig.rounds(1, step=10)
    await intake.handle(record("1800000004.1", number="14125550178"))
    await rig.rounds(1, step=10)
    first, second = rig.tickets
    assert f"follows up on ITFlow ticket id {first['ticket_id']}" in second["ticket_details"]


async def test_closed_or_old_ticket_is_not_followed_up(rig_for: RigFactory) -> None:
    rig = await rig_for("v1-head")
    intake = _intake(rig)
    await intake.handle(record("1800000005.1", number="14125550179"))
    await rig.rounds(1, step=10)
    rig.tickets[0]["ticket_status"] = "5"  # Closed by a technician
    await intake.handle(record("1800000006.1", number="14125550179"))
    await rig.rounds(1, step=10)
    await intake.handle(record("1800000007.1", number="14125550179"))
    await rig.rounds(1, step=25 * 3600)  # the second ticket is older than the window now
    assert len(rig.tickets) == 3 and rig.replies == []


async def test_replies_404_on_a_stale_capability_fall_back_to_a_linked_ticket(rig_for: RigFactory) -> None:
    rig = await rig_for("v1-v25")
    caps = await rig.itflow.capabilities()
    caps.ticket_replies = True  # e.g. ITFlow was downgraded since detection
    rig.outbox.enqueue("1800000021.1", "missed", _payload("1800000021.1"), number="+14125550180")
    await rig.rounds(1, step=10)
    rig.outbox.enqueue("1800000022.1", "missed", _payload("1800000022.1"), number="+14125550180")
    await rig.rounds(1, step=10)
    assert len(rig.tickets) == 2 and rig.outbox.counts() == {"delivered": 2}
    assert "follows up on ITFlow ticket id" in rig.tickets[1]["ticket_details"]


@pytest.mark.parametrize("key", ["expired", "inactive"])
async def test_rejected_key_holds_the_queue_until_it_works(
    itflow_sim, tmp_path: Path, rigs: list[Rig], key: str
) -> None:
    sim = await itflow_sim("v1-head")
    good = await make_rig(sim, tmp_path, db="good.sqlite3")
    rigs.append(good)
    caps = await good.itflow.capabilities()  # detected while the key still worked
    rig = await make_rig(sim, tmp_path, key=key)
    rigs.append(rig)
    rig.worker._capabilities = good.itflow.capabilities
    for n in range(5):
        rig.outbox.enqueue(f"1800000030.{n}", "missed", _payload(f"1800000030.{n}"), number=f"+1412555030{n}")
    await rig.rounds(10, step=6 * 3600)  # a whole night and more
    assert rig.worker.held and not rig.worker.health().ok
    assert rig.outbox.counts() == {"pending": 5} and rig.tickets == []
    assert all(r.attempts <= 1 for r in rig.outbox.rows(("pending",)))
    rig.worker._client = good.client  # a new key was put in place
    assert caps.tickets == "v1"
    await rig.rounds(1, step=120)
    assert not rig.worker.held and rig.outbox.counts() == {"delivered": 5}
    assert len(rig.tickets) == 5


async def test_no_access_to_client_retries_for_the_fallback_client(rig_for: RigFactory) -> None:
    rig = await rig_for("v1-head", key="client", settings=TicketsSettings(fallback_client_id=1))
    rig.outbox.enqueue("1800000040.1", "missed", _payload("1800000040.1"), number="+14125550400", client_id=0)
    await rig.rounds(2, step=10)
    (t,) = rig.tickets
    assert t["ticket_client_id"] == "1" and rig.outbox.counts() == {"delivered": 1}


async def test_no_access_without_fallback_dead_letters_only_that_ticket(rig_for: RigFactory) -> None:
    rig = await rig_for("v1-head", key="client")
    rig.outbox.enqueue("1800000041.1", "missed", _payload("1800000041.1"), number="+14125550401", client_id=0)
    rig.outbox.enqueue("1800000041.2", "missed", _payload("1800000041.2"), number="+14125550402", client_id=1)
    await rig.rounds(1, step=10)
    assert rig.outbox.counts() == {"dead": 1, "delivered": 1}
    (dead,) = rig.outbox.rows(("dead",))
    assert dead.linkedid == "1800000041.1" and "client 0" in dead.last_error
    assert rig.outbox.retry(dead.id) == 1  # dead letters are kept and can be retried


async def test_write_failed_dead_letters_with_the_reason(rig_for: RigFactory) -> None:
    rig = await rig_for("v1-head")
    p = _payload("1800000050.1")
    p["subject"] = "<b></b>"  # empty once ITFlow strips tags: "False"
    rig.outbox.enqueue("1800000050.1", "missed", p)
    await rig.rounds(1, step=10)
    (dead,) = rig.outbox.rows(("dead",))
    assert "insert query failed" in dead.last_error


async def test_server_error_retries_then_dead_letters_after_the_configured_age(rig_for: RigFactory) -> None:
    rig = await rig_for("v1-head", settings=TicketsSettings(dead_letter_after=86400))
    p = _payload("1800000060.1")
    p["subject"] = "x" * 600  # varchar(500): HTTP 500
    rig.outbox.enqueue("1800000060.1", "missed", p)
    await rig.rounds(3, step=3600)
    (row,) = rig.outbox.rows(("pending",))
    assert row.attempts == 3 and "HTTP 500" in row.last_error
    await rig.rounds(1, step=86400)
    (dead,) = rig.outbox.rows(("dead",))
    assert dead.id == row.id


async def test_voicemail_replaces_the_undelivered_missed_ticket(rig_for: RigFactory) -> None:
    rig = await rig_for("v1-head")
    intake = _intake(rig)
    await intake.handle(record("1800000070.1", number="14125550700"))
    await intake.handle(
        record("1800000070.1", Outcome.VOICEMAIL, number="14125550700", mailbox="202@default")
    )
    await rig.rounds(1, step=10)
    assert rig.outbox.counts() == {"replaced": 1, "delivered": 1}
    (t,) = rig.tickets
    assert t["ticket_subject"].startswith("Voicemail from")


async def test_voicemail_after_a_delivered_missed_ticket_is_a_reply(rig_for: RigFactory) -> None:
    rig = await rig_for("v1-head")
    intake = _intake(rig)
    await intake.handle(record("1800000071.1", number="14125550701"))
    await rig.rounds(1, step=10)
    await intake.handle(record("1800000071.1", Outcome.VOICEMAIL, number="14125550701"))
    await rig.rounds(1, step=10)
    assert len(rig.tickets) == 1 and len(rig.replies) == 1


async def test_same_call_twice_is_one_row(rig_for: RigFactory) -> None:
    rig = await rig_for("v1-head")
    intake = _intake(rig)
    rec = record("1800000080.1", number="14125550800")
    assert await intake.handle(rec) is True
    assert await intake.handle(replace(rec)) is False
    await rig.rounds(2, step=10)
    assert len(rig.tickets) == 1


async def test_legacy_backend_reports_unavailable_and_the_outbox_does_not_grow(rig_for: RigFactory) -> None:
    rig = await rig_for("legacy-2022")
    caps = await rig.itflow.capabilities()
    assert caps.tickets is None
    await rig.worker.probe()  # at start: reports itself unavailable
    assert not rig.worker.health().ok and "unavailable" in rig.worker.health().detail
    intake = TicketIntake(
        TicketsSettings(), rig.outbox, is_internal=default_is_internal, available=lambda: caps.tickets == "v1"
    )
    assert await intake.handle(record("1800000090.1", number="14125550900")) is False
    assert rig.outbox.counts() == {}
    rig.outbox.enqueue("1800000090.2", "missed", _payload("1800000090.2"))  # queued before detection
    await rig.rounds(1, step=10)
    assert not rig.worker.health().ok and "unavailable" in rig.worker.health().detail
    assert rig.outbox.counts() == {"pending": 1}


def _payload(linkedid: str) -> dict[str, str]:
    marker = call_marker(linkedid, "missed")  # the worker's reconcile finds what render writes
    return {
        "subject": f"Missed call from {linkedid}",
        "details": f"<p>{marker}</p>",
        "priority": "Low",
        "marker": marker,
    }


def test_marker_is_machine_readable() -> None:
    assert re.fullmatch(r"pbx-bridge:call=[0-9.]+;kind=missed", _payload("1.2")["marker"])


async def test_worker_component_delivers_when_woken_and_stops(rig_for: RigFactory) -> None:
    rig = await rig_for("v1-head")
    await rig.worker.start()
    try:
        rig.outbox.enqueue("1800000110.1", "missed", _payload("1800000110.1"), number="+14125551100")
        await wait_until(
            lambda: rig.outbox.counts() == {"delivered": 1}, timeout=30, what="the call delivered"
        )
        assert rig.worker.health().ok
    finally:
        await rig.worker.stop(asyncio.get_running_loop().time() + 5)
    assert len(rig.tickets) == 1
