"""The journal end to end on a real simulator: answered call -> outbox -> ITFlow, exactly once.

Seed: ACME Corp (client 1), Alice (contact 1, 4125550101) with ticket 1 open; users 1 (Sim Admin,
key "all") and 2 (Rita Restricted, key "client", client 1 only)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from .support import ALICE, JournalRig, answered

Rig = Callable[..., Awaitable[JournalRig]]
BOTH = pytest.mark.parametrize("profile", ["v1-head", "v1-2610"])  # v26.08 (index) and 26.10 (filter)


def rita(tmp_path: Path, key: str) -> list[dict[str, object]]:
    f = tmp_path / "rita.key"
    f.write_text(key + "\n")
    f.chmod(0o600)
    return [{"name": "Rita", "extensions": ["201"], "itflow_user_id": 2, "api_key_file": str(f)}]


@BOTH
async def test_answered_call_adds_one_internal_reply_with_time_worked_by_the_technician(
    journal_rig: Rig, itflow_sim: object, tmp_path: Path, profile: str
) -> None:
    probe = await journal_rig(profile)  # to learn the simulator's keys for the technician's file
    people = rita(tmp_path, probe.sim.keys["client"])
    rig = await journal_rig(profile, technicians=people, journal={"rounding": {"mode": "up", "minutes": 15}})
    assert await rig.intake.handle(answered("1800000400.1"))
    assert not await rig.intake.handle(answered("1800000400.1"))  # the same call again: nothing more
    assert await rig.rounds(1, step=1) == 1
    await rig.rounds(2)
    (reply,) = rig.replies
    assert reply["ticket_reply_ticket_id"] == "1"  # Alice's open ticket
    assert reply["ticket_reply_type"] == "Internal"
    assert reply["ticket_reply_time_worked"] == "0:15:00"  # 2 min 1 s, rounded up to 15 min
    assert reply["ticket_reply_by"] == "2"  # Rita's own key: ITFlow credits her
    text = reply["ticket_reply"]
    assert "Answered by:</b> Rita (201)" in text and "Talk time:</b> 2 min 01 s" in text
    assert "/calls/" not in text  # no calls-page link unless it is enabled
    assert rig.tickets == []


@BOTH
async def test_rounding_off_by_default_bills_nothing(journal_rig: Rig, profile: str) -> None:
    rig = await journal_rig(profile)
    await rig.intake.handle(answered("1800000401.1"))
    await rig.rounds(1, step=1)
    (reply,) = rig.replies
    assert reply["ticket_reply_time_worked"] in ("00:00:00", "0:00:00")
    assert reply["ticket_reply_by"] == "1"  # no technician key: the daemon's key


@BOTH
async def test_no_open_ticket_and_new_ticket_policy_opens_one_ticket_assigned_to_the_technician(
    journal_rig: Rig, tmp_path: Path, profile: str
) -> None:
    probe = await journal_rig(profile)
    people = rita(tmp_path, probe.sim.keys["client"])
    rig = await journal_rig(
        profile,
        technicians=people,
        journal={"action": "note-or-ticket", "rounding": {"mode": "exact"}},
    )
    for t in rig.sim.db.tickets:  # Alice's ticket is closed: nothing open at ACME
        if t["ticket_client_id"] == "1":
            t["ticket_status"] = "5"
    assert await rig.intake.handle(answered("1800000402.1"))
    await rig.rounds(3, step=1)
    (ticket,) = rig.tickets
    assert ticket["ticket_client_id"] == "1" and ticket["ticket_contact_id"] == "1"
    assert ticket["ticket_assigned_to"] == "2"
    assert ticket["ticket_subject"].startswith("Inbound call from ACME Corp - Alice")
    (reply,) = rig.replies  # the time worked, on the new ticket (tickets/create takes none)
    assert reply["ticket_reply_ticket_id"] == ticket["ticket_id"]
    assert reply["ticket_reply_time_worked"] == "0:02:01"
    assert {r.state for r in rig.outbox.rows(("delivered", "pending", "dead", "skipped"))} == {"delivered"}


async def test_note_policy_with_no_open_ticket_sends_nothing(journal_rig: Rig) -> None:
    rig = await journal_rig("v1-2610")
    for t in rig.sim.db.tickets:
        t["ticket_status"] = "4"
    await rig.intake.handle(answered("1800000403.1"))
    await rig.rounds(2)
    assert rig.replies == [] and rig.tickets == []
    (row,) = rig.outbox.rows(("skipped",))
    assert "no open ticket of client 1" in row.last_error


async def test_v2608_finds_the_open_ticket_from_the_index_not_by_paging_every_ticket(
    journal_rig: Rig,
) -> None:
    rig = await journal_rig("v1-head")
    assert rig.worker.open_tickets.ready  # built by the directory sync
    await rig.intake.handle(answered("1800000404.1"))
    await rig.rounds(1, step=1)
    assert rig.worker.open_tickets.reads == 1  # the candidate read by id, nothing else
    (reply,) = rig.replies
    assert reply["ticket_reply_ticket_id"] == "1"


async def test_v2608_skips_a_ticket_closed_since_the_last_sync(journal_rig: Rig) -> None:
    rig = await journal_rig("v1-head", journal={"action": "note-or-ticket"})
    for t in rig.sim.db.tickets:
        if t["ticket_id"] == "1":
            t["ticket_status"] = "5"  # closed after the index was built
    await rig.intake.handle(answered("1800000405.1"))
    await rig.rounds(2, step=1)
    assert [r for r in rig.replies if r["ticket_reply_ticket_id"] == "1"] == []
    assert len(rig.tickets) == 1  # a new ticket instead


async def test_contacts_own_ticket_beats_a_newer_one_of_the_client(journal_rig: Rig) -> None:
    rig = await journal_rig("v1-2610")
    rig.sim.db.insert(
        "tickets",
        {
            "ticket_subject": "Someone else at ACME",
            "ticket_status": 2,
            "ticket_client_id": 1,
            "ticket_contact_id": 2,
            "ticket_created_at": "2026-11-01 09:00:00",
            "ticket_updated_at": "2026-11-27 09:00:00",
        },
    )
    await rig.intake.handle(answered("1800000406.1"))
    await rig.rounds(1, step=1)
    assert [r["ticket_reply_ticket_id"] for r in rig.replies] == ["1"]
    await rig.intake.handle(answered("1800000407.1", number="4125550102"))  # Arnold: no ticket of his
    await rig.rounds(1, step=1)
    newer = max(int(t["ticket_id"]) for t in rig.sim.db.tickets)
    assert rig.replies[-1]["ticket_reply_ticket_id"] == str(newer)  # the client's most recently updated


async def test_a_reply_whose_answer_was_lost_is_found_by_its_marker_not_sent_twice(
    journal_rig: Rig,
) -> None:
    rig = await journal_rig("v1-2610")
    await rig.intake.handle(answered("1800000408.1"))
    (row,) = rig.outbox.rows(("pending",))
    # The reply reached ITFlow but its answer never came back (a cut connection, a crash).
    assert rig.itflow.v1 is not None
    await rig.itflow.v1.ticket_replies_create(
        ticket_id=1, ticket_reply=row.payload["details"], ticket_reply_type="Internal", client_id=1
    )
    rig.outbox.update(row.id, in_flight=True, via="reply", ticket_id=1, sent_at=rig.clock.now)
    await rig.rounds(2)
    assert len(rig.replies) == 1
    (done,) = rig.outbox.rows(("delivered",))
    assert done.reply_id == int(rig.replies[0]["ticket_reply_id"])


async def test_unknown_callers_are_skipped_by_default(journal_rig: Rig) -> None:
    rig = await journal_rig("v1-2610")
    assert not await rig.intake.handle(answered("1800000409.1", number="15559990000"))
    assert rig.outbox.rows(("pending",)) == []


async def test_outbound_call_is_noted_for_the_number_dialled(journal_rig: Rig) -> None:
    rig = await journal_rig("v1-2610")
    rec = answered("1800000410.1", number="201", direction="outbound", dialled=ALICE)
    assert await rig.intake.handle(rec)
    await rig.rounds(1, step=1)
    (reply,) = rig.replies
    assert reply["ticket_reply_ticket_id"] == "1"
    assert "Outbound call" in reply["ticket_reply"] and "Called by:</b> 201" in reply["ticket_reply"]


async def test_calls_page_link_only_when_enabled(journal_rig: Rig) -> None:
    rig = await journal_rig(
        "v1-2610",
        journal={"link_calls_page": True},
        extra="http:\n  public_url: https://pbx.example.net:8443\n",
    )
    await rig.intake.handle(answered("1800000411.1"))
    await rig.rounds(1, step=1)
    (reply,) = rig.replies
    assert 'href="https://pbx.example.net:8443/calls/1800000411.1"' in reply["ticket_reply"]


async def test_a_refused_technician_key_falls_back_to_the_daemons_key(
    journal_rig: Rig, tmp_path: Path
) -> None:
    rig = await journal_rig("v1-2610", technicians=rita(tmp_path, "not-a-key-" + "x" * 22))
    await rig.intake.handle(answered("1800000412.1"))
    await rig.rounds(1, step=1)
    (reply,) = rig.replies
    assert reply["ticket_reply_by"] == "1"
    assert not rig.worker.held
