"""The whole feature set against every simulator profile, in one suite; what may differ between them is
read from the compatibility table in docs/compatibility.md (so the table and the behaviour cannot drift).

Per profile: detection and ``check`` (era, client_id filter, the backend per feature), caller ID from the
directory and live, an archived location and vendor (archived the way that release can: the 26.10
endpoints, or the agent UI's ``*_archived_at`` on older ones) at the next sync, live and in the phonebook
(which must publish, not trip the shrink guard), the balance and which invoices it read, tickets with
their priority and assigned status, and a repeat caller's reply. All over real HTTP on loopback, with the
daemon's own pieces (DirectorySync, CallerId, Publisher, BalanceProvider, outbox worker) and SQLite on disk.
"""

from __future__ import annotations

import json
import random
import re
from decimal import Decimal
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from itflow_sim import PROFILES
from pbx_bridge.balance.provider import BalanceProvider
from pbx_bridge.callerid.service import CallerId
from pbx_bridge.directory.service import DirectorySync
from pbx_bridge.itflow.backend import Itflow
from pbx_bridge.itflow.detect import check_items
from pbx_bridge.metrics import Metrics
from pbx_bridge.numbers import NumberPlan
from pbx_bridge.phonebook.publisher import Publisher
from pbx_bridge.settings import parse_settings
from pbx_bridge.store import Store
from pbx_bridge.tickets.intake import TicketIntake
from pbx_bridge.tickets.outbox import Outbox
from pbx_bridge.tickets.worker import OutboxWorker

from .ami.traces import FakeClock
from .tickets.support import record

TABLE = Path(__file__).resolve().parents[1] / "docs" / "compatibility.md"


def compatibility_rows() -> list[dict[str, str]]:
    text = TABLE.read_text(encoding="utf-8")
    block = text.split("<!-- compatibility-table -->", 1)[1].split("<!-- /compatibility-table -->", 1)[0]
    lines = [ln.strip() for ln in block.strip().splitlines() if ln.strip().startswith("|")]
    head = [c.strip() for c in lines[0].strip("|").split("|")]
    return [dict(zip(head, (c.strip() for c in ln.strip("|").split("|")), strict=True)) for ln in lines[2:]]


BY_PROFILE = {row["profile"]: row for row in compatibility_rows() if row["profile"]}

# Seed facts: Alice Anderson (primary contact of ACME, client 1) 4125550101; the ACME HQ location
# 4125550100 and the Fiber Co vendor 8885550142 are archived during the test, and so is Zoe Late, a contact
# added after the first sync (so found live, and cached, before she is archived).
ALICE, LOCATION, VENDOR, LATE = "4125550101", "4125550100", "8885550142", "4125550188"


def test_the_table_names_every_profile() -> None:
    assert set(BY_PROFILE) == set(PROFILES)


async def _archive(sim, itflow: Itflow, late_id: int) -> None:
    """Archived the way the release allows: its archive endpoints, or the agent UI's timestamp."""
    v1, stamp = itflow.v1, "2026-10-01 10:00:00"
    if sim.profile.has("locations", "archive"):  # 26.10
        assert v1 is not None
        assert await v1.locations_archive(location_id=1, client_id=1) == 1
        assert await v1.vendors_archive(vendor_id=2, client_id=1) == 1
    else:
        sim.db.find("locations", "location_id", 1)["location_archived_at"] = stamp
        sim.db.find("vendors", "vendor_id", 2)["vendor_archived_at"] = stamp
    if sim.profile.has("contacts", "archive"):  # v25.11+
        assert v1 is not None
        assert await v1.contacts_archive(contact_id=late_id, client_id=1) == 1
    else:
        sim.db.find("contacts", "contact_id", late_id)["contact_archived_at"] = stamp


def _invoice_reads(sim) -> list[dict[str, list[str]]]:
    return [parse_qs(urlsplit(r.path_qs).query) for r in sim.requests if "/invoices/read.php" in r.path_qs]


@pytest.mark.parametrize("profile", sorted(BY_PROFILE))
async def test_feature_set(itflow_sim, tmp_path: Path, profile: str) -> None:
    row = BY_PROFILE[profile]
    sim = await itflow_sim(profile)
    settings = parse_settings(
        f"itflow:\n  url: {sim.url}\n  api_key: {sim.keys['all']}\n  timeout: 5\n"
        f"state_dir: {tmp_path / 'state'}\ntickets:\n  assigned_to: 1\n",
        env={},
    )
    store = Store.in_state_dir(settings.state_dir)
    itflow = Itflow.from_settings(settings.itflow)
    plan, metrics = NumberPlan(settings.numbers), Metrics()
    directory = DirectorySync(settings.directory, itflow, store, plan, metrics)
    callerid = CallerId(directory, itflow, plan, settings.callerid, settings.directory, metrics)
    try:
        # ---- detection and check
        caps = await itflow.capabilities()
        if row["era"] == "legacy":
            assert caps.era.startswith("legacy api.php"), caps.era
        else:
            assert caps.era.startswith(row["era"]), caps.era
        assert (caps.directory, caps.cid_live) == (row["directory"], row["live"])
        assert caps.tickets == (None if row["tickets"] == "none" else row["tickets"])
        if row["client filter"] != "-":
            assert caps.client_id_honoured is (row["client filter"] == "honoured")
        items = await check_items(itflow, refresh=False)
        assert not [i for i in items if i.status == "fail"], items
        assert any(i.feature == "generation" and caps.era in i.detail for i in items)

        # ---- caller ID and phonebook before the archive
        await directory.sync()
        for number, name in ((ALICE, "Alice Anderson"), (LOCATION, "ACME HQ"), (VENDOR, "Fiber Co")):
            hit = await callerid.lookup(number, budget=10.0)
            assert name in hit.display, (number, hit)
        publisher = Publisher(settings.phonebook)
        snap = directory.snapshot
        assert snap is not None
        first = publisher.publish(snap.parties, plan, source=snap.source)
        assert first.status == "published"
        late_id = sim.db.add_contact(1, "Zoe Late", phone=LATE, email="zoe@acme.example")
        assert "Zoe Late" in (await callerid.lookup(LATE, budget=10.0)).display  # live, then cached

        # ---- archive; the next sync, a live lookup and the cache must agree with the table
        await _archive(sim, itflow, late_id)
        await directory.sync()
        for number, name in ((LOCATION, "ACME HQ"), (VENDOR, "Fiber Co"), (LATE, "Zoe Late")):
            hit = await callerid.lookup(number, budget=10.0)
            await callerid.drain()
            shown = name in hit.display
            assert shown is (row["archived"] == "shown"), (number, hit)
            assert shown is (name in (await callerid.lookup(number, budget=10.0)).display)
        snap = directory.snapshot
        assert snap is not None
        second = publisher.publish(snap.parties, plan, source=snap.source)
        assert second.status in ("published", "unchanged")  # a normal archive is not a broken pull
        in_book = any("Fiber Co" in e.name for e in _entries(publisher, snap, plan))
        assert in_book is (row["archived"] == "shown")

        # ---- balance of ACME (client 1)
        before = len(sim.requests)
        bal = await BalanceProvider(itflow, settings.balance).balance(1)
        assert bal.exact is (row["balance"] == "exact")
        assert bal.amount == _expected_balance(sim, profile, row)
        reads = [
            parse_qs(urlsplit(r.path_qs).query)
            for r in list(sim.requests)[before:]
            if "/invoices/read.php" in r.path_qs
        ]
        if row["invoices"] == "client":
            assert reads and all(q.get("client_id") == ["1"] for q in reads)
        elif row["invoices"] == "all":
            assert reads and not any("client_id" in q for q in reads)
        else:
            assert reads == []

        # ---- tickets and a repeat caller
        await _tickets(sim, itflow, settings, tmp_path, row)
    finally:
        await callerid.aclose()
        await itflow.aclose()
        store.close()


def _entries(publisher: Publisher, snap, plan):
    from pbx_bridge.phonebook.entries import build_book

    return build_book(snap.parties, plan, publisher.settings).entries


def _expected_balance(sim, profile: str, row: dict[str, str]) -> Decimal:
    if row["balance"] == "approximate":  # open invoices of the client, archived ones included
        return sum(
            (
                Decimal(i["invoice_amount"])
                for i in sim.db["invoices"]
                if i["invoice_client_id"] == "1"
                and (i["invoice_status"] or "").lower() in ("sent", "viewed", "partial")
            ),
            Decimal("0"),
        )
    if row["era"] == "legacy":  # ITFlow's own legacy formula: only Draft and Cancelled excluded
        return sim.db.balance(1, exclude=("draft", "cancelled"))
    return sim.db.balance(1)


async def _tickets(sim, itflow: Itflow, settings, tmp_path: Path, row: dict[str, str]) -> None:
    caps = await itflow.capabilities()
    if row["tickets"] == "none":
        assert caps.tickets is None
        return
    clock = FakeClock()
    outbox = Outbox(Store(tmp_path / "tickets.sqlite3"), clock=clock)
    assert itflow.v1 is not None
    worker = OutboxWorker(
        outbox, itflow.v1, itflow.capabilities, settings.tickets, clock=clock, rng=random.Random(7)
    )
    intake = TicketIntake(settings.tickets, outbox, is_internal=lambda n: False)
    seed_tickets = {t["ticket_id"] for t in sim.tickets}
    seed_replies = {r["ticket_reply_id"] for r in sim.db["ticket_replies"]}
    for linkedid in ("1795850100.1", "1795850200.1"):  # the same caller twice
        await intake.handle(record(linkedid, number="15551239876"))
        clock.now += 3600
        assert await worker.run_once() == 1
    new = [t for t in sim.tickets if t["ticket_id"] not in seed_tickets]
    replies = [r for r in sim.db["ticket_replies"] if r["ticket_reply_id"] not in seed_replies]
    assert all(t["ticket_priority"] == settings.tickets.priority for t in new)
    assert all(t["ticket_status"] == row["assigned status"] for t in new)
    assert all(t["ticket_assigned_to"] == "1" for t in new)
    if row["repeat caller"] == "reply":
        assert (len(new), len(replies)) == (1, 1)
        # sent, not left to the API's default (which is Internal too, so the stored row cannot tell)
        sent = [
            b
            for r in sim.requests
            if "/ticket_replies/create.php" in r.path_qs
            and r.body
            and "ticket_id" in (b := json.loads(r.body))
        ]  # not the keyless and permission probes
        assert [b.get("ticket_reply_type") for b in sent] == ["Internal"]
        assert replies[0]["ticket_reply_type"] == "Internal"
    else:
        assert (len(new), len(replies)) == (2, 0)
        assert re.search(r"follows up on ITFlow ticket id \d+", new[1]["ticket_details"])
    assert outbox.counts() == {"delivered": 2}
