"""Conformance: ITFlow 26.09/26.10 (era V1e, profile ``v1-2610``), one test per row of the table in
docs/itflow-api.md §7; the v26.08 profile (``v1-head``) is checked alongside where the row is a change.

Seed facts used: clients 1 ACME, 2 Globex, 6 Old Co (archived); contact 3 Bob Globex (mobile
7245550198); location 3 and vendor 3 archived; the ``client`` key is allow-listed to client 1.
"""

from __future__ import annotations

import pytest

from tests.support.sim_fixtures import v1_request


def rows(resp) -> list[dict]:
    body = resp.json()
    return body.get("data", []) if body["success"] == "True" else []


def col(resp, name: str) -> list[str]:
    return [r[name] for r in rows(resp)]


# ---- 1. reads take an optional client_id filter again ---------------------------------------------


async def test_1_client_id_filters_reads_on_2610_and_is_ignored_on_2608(itflow_sim):
    new, old = await itflow_sim("v1-2610"), await itflow_sim("v1-head")
    by_id = await v1_request(new, "clients", "read", params={"client_id": "2"})
    assert col(by_id, "client_name") == ["Globex"]
    assert len(rows(await v1_request(old, "clients", "read", params={"client_id": "2"}))) > 1  # first page
    assert set(
        col(await v1_request(new, "invoices", "read", params={"client_id": "1"}), "invoice_client_id")
    ) == {"1"}
    assert set(
        col(await v1_request(new, "tickets", "read", params={"client_id": "2"}), "ticket_client_id")
    ) == {"2"}
    # from the JSON body too (body first), and isset: client_id=0 means rows without a client
    body = await v1_request(new, "vendors", "read", body={"client_id": 1}, params={"client_id": "0"})
    assert col(body, "vendor_name") == ["Fiber Co"]
    assert col(await v1_request(new, "vendors", "read", params={"client_id": "0"}), "vendor_name") == [
        "Bell & Whistle"
    ]  # the archived global vendor is hidden (§7 row 6)


async def test_1_filter_only_narrows_the_keys_own_scope(itflow_sim):
    sim = await itflow_sim("v1-2610")
    key = sim.keys["client"]  # allow-listed to client 1
    assert rows(await v1_request(sim, "clients", "read", key=key, params={"client_id": "2"})) == []
    assert col(
        await v1_request(sim, "clients", "read", key=key, params={"client_id": "1"}), "client_name"
    ) == ["ACME Corp"]


async def test_1_filter_applies_to_reads_only(itflow_sim):
    sim = await itflow_sim("v1-2610")
    # a write's client_id is the write's target, as before (tickets/create for client 2 works)
    r = await v1_request(
        sim, "tickets", "create", body={"ticket_subject": "x", "client_id": 2, "ticket_priority": "Low"}
    )
    assert r.json()["success"] == "True"
    assert sim.tickets[-1]["ticket_client_id"] == "2"


# ---- 2. the docs/itflow-api.md Q1 mobile leak stays and ignores the filter too --------------------


async def test_2_mobile_match_ignores_scope_and_filter(itflow_sim):
    sim = await itflow_sim("v1-2610")
    leak = await v1_request(
        sim,
        "contacts",
        "read",
        key=sim.keys["client"],
        params={"contact_phone_or_mobile": "7245550198", "client_id": "1"},
    )
    assert col(leak, "contact_name") == ["Bob Globex"]
    phone = await v1_request(
        sim, "contacts", "read", params={"contact_phone_or_mobile": "7245550120", "client_id": "1"}
    )
    assert rows(phone) == []  # the phone arm is filtered
    phone = await v1_request(
        sim, "contacts", "read", params={"contact_phone_or_mobile": "7245550120", "client_id": "2"}
    )
    assert col(phone, "contact_name") == ["Bob Globex"]


# ---- 3. tickets/close and clients/delete ----------------------------------------------------------


async def test_3_tickets_close_resolves_then_closes_and_repeats_as_no_op(itflow_sim):
    sim = await itflow_sim("v1-2610")
    r = await v1_request(sim, "tickets", "close", body={"ticket_id": 2, "client_id": 2})
    assert r.json() == {"success": "True", "count": 1}
    t = sim.db.find("tickets", "ticket_id", 2)
    assert t["ticket_status"] == "5" and t["ticket_resolved_at"] and t["ticket_closed_at"]
    again = await v1_request(sim, "tickets", "close", body={"ticket_id": 2, "client_id": 2})
    assert again.json()["success"] == "False"
    assert sim.db.find("tickets", "ticket_id", 2)["ticket_status"] == "5"
    old = await itflow_sim("v1-head")
    r = await v1_request(old, "tickets", "close", body={"ticket_id": 2, "client_id": 2})
    assert r.status_code == 404


async def test_3_clients_delete_needs_an_archived_client_and_full_level(itflow_sim):
    sim = await itflow_sim("v1-2610")
    live = await v1_request(sim, "clients", "delete", body={"client_id": 4})
    assert live.json()["message"].startswith("Auth success but delete query failed")
    assert sim.db.find("clients", "client_id", 4) is not None
    gone = await v1_request(sim, "clients", "delete", body={"client_id": 6})  # Old Co, archived
    assert gone.json() == {"success": "True", "count": 1}
    assert sim.db.find("clients", "client_id", 6) is None
    tech = await v1_request(sim, "clients", "delete", key=sim.keys["client"], body={"client_id": 1})
    assert tech.status_code == 403  # Technician has client W (2), delete needs 3


# ---- 4. contacts/delete refuses a contact that is not archived ------------------------------------


async def test_4_contacts_delete_needs_archived(itflow_sim):
    sim = await itflow_sim("v1-2610")
    r = await v1_request(sim, "contacts", "delete", body={"contact_id": 2, "client_id": 1})
    assert r.json()["message"].startswith("Auth success but delete query failed")
    assert sim.db.find("contacts", "contact_id", 2) is not None
    r = await v1_request(sim, "contacts", "delete", body={"contact_id": 6, "client_id": 1})  # archived
    assert r.json() == {"success": "True", "count": 1}
    old = await itflow_sim("v1-head")
    r = await v1_request(old, "contacts", "delete", body={"contact_id": 2, "client_id": 1})
    assert r.json()["success"] == "True"  # v26.08 deletes a live contact


# ---- 5. an assignee makes the ticket Open -------------------------------------------------------


@pytest.mark.parametrize(("profile", "status"), [("v1-2610", "2"), ("v1-head", "1")])
async def test_5_assigned_ticket_status(itflow_sim, profile, status):
    sim = await itflow_sim(profile)
    r = await v1_request(
        sim,
        "tickets",
        "create",
        body={
            "ticket_subject": "Missed call",
            "client_id": 1,
            "ticket_assigned_to": 1,
            "ticket_priority": "Low",
        },
    )
    assert r.json()["success"] == "True"
    assert sim.tickets[-1]["ticket_status"] == status
    r = await v1_request(sim, "tickets", "create", body={"ticket_subject": "Missed call", "client_id": 1})
    assert sim.tickets[-1]["ticket_status"] == "1"  # unassigned: New in every era


async def test_5_reply_type_default_is_internal(itflow_sim):
    sim = await itflow_sim("v1-2610")
    r = await v1_request(sim, "ticket_replies", "create", body={"ticket_id": 1, "ticket_reply": "hi"})
    assert r.json()["success"] == "True"
    assert sim.db["ticket_replies"][-1]["ticket_reply_type"] == "Internal"


# ---- 6. archived locations, documents, vendors, domains, networks, software are hidden -------------


@pytest.mark.parametrize(
    ("module", "prefix"),
    [
        ("locations", "location"),
        ("vendors", "vendor"),
        ("documents", "document"),
        ("domains", "domain"),
        ("networks", "network"),
        ("software", "software"),
    ],
)
async def test_6_archived_rows_hidden_even_by_id(itflow_sim, module, prefix):
    new, old = await itflow_sim("v1-2610"), await itflow_sim("v1-head")
    for sim in (new, old):
        table = sim.db[module]
        table[0][f"{prefix}_archived_at"] = "2026-09-30 10:00:00"
    first = new.db[module][0][f"{prefix}_id"]
    assert rows(await v1_request(new, module, "read", params={f"{prefix}_id": first})) == []
    assert first not in col(await v1_request(new, module, "read"), f"{prefix}_id")
    r = await v1_request(old, module, "read", params={f"{prefix}_id": first})
    assert col(r, f"{prefix}_id") == [first]


async def test_6_contacts_clients_invoices_tickets_still_return_archived(itflow_sim):
    sim = await itflow_sim("v1-2610")
    r = await v1_request(sim, "contacts", "read", params={"contact_id": "6"})
    assert col(r, "contact_archived_at")[0]
    assert "6" in col(await v1_request(sim, "clients", "read"), "client_id")
    r = await v1_request(sim, "invoices", "read", params={"invoice_id": "7"})
    assert col(r, "invoice_archived_at")[0]
    sim.db.find("tickets", "ticket_id", 1)["ticket_archived_at"] = "2026-10-01 00:00:00"
    assert col(await v1_request(sim, "tickets", "read", params={"ticket_id": "1"}), "ticket_id") == ["1"]


# ---- 7. the new write endpoints ----------------------------------------------------------------------


async def test_7_endpoint_count_and_404_on_2608(itflow_sim):
    from itflow_sim import PROFILES

    eps = PROFILES["v1-2610"].endpoints - {"custom/readme"}
    assert len(eps) == 63
    old = await itflow_sim("v1-head")
    for ep in ("locations/update", "vendors/create", "domains/archive", "software/unarchive"):
        module, function = ep.split("/")
        assert (await v1_request(old, module, function, body={})).status_code == 404


async def test_7_locations_archive_then_delete_and_update_cannot_set_phone(itflow_sim):
    sim = await itflow_sim("v1-2610")
    r = await v1_request(
        sim,
        "locations",
        "update",
        body={
            "location_id": 1,
            "client_id": 1,
            "location_name": "ACME Head Office",
            "location_phone": "9999999999",
        },
    )
    assert r.json() == {"success": "True", "count": 1}
    loc = sim.db.find("locations", "location_id", 1)
    assert loc["location_name"] == "ACME Head Office" and loc["location_phone"] == "4125550100"
    r = await v1_request(sim, "locations", "delete", body={"location_id": 1, "client_id": 1})
    assert r.json()["success"] == "False"  # not archived yet
    assert (await v1_request(sim, "locations", "archive", body={"location_id": 1, "client_id": 1})).json()[
        "success"
    ] == "True"
    assert rows(await v1_request(sim, "locations", "read", params={"location_id": "1"})) == []
    assert (await v1_request(sim, "locations", "unarchive", body={"location_id": 1, "client_id": 1})).json()[
        "success"
    ] == "True"
    r = await v1_request(sim, "locations", "read", params={"location_id": "1"})
    assert col(r, "location_id") == ["1"]
    await v1_request(sim, "locations", "archive", body={"location_id": 1, "client_id": 1})
    r = await v1_request(sim, "locations", "delete", body={"location_id": 1, "client_id": 1})
    assert r.json() == {"success": "True", "count": 1}
    assert sim.db.find("locations", "location_id", 1) is None


async def test_7_vendors_create_update_digits_only_and_blank_country_code(itflow_sim):
    sim = await itflow_sim("v1-2610")
    r = await v1_request(
        sim,
        "vendors",
        "create",
        body={
            "vendor_name": "New Telco",
            "client_id": 0,
            "vendor_phone": "(800) 555-0177",
            "vendor_extension": "x12",
        },
    )
    new_id = r.json()["data"][0]["insert_id"]
    v = sim.db.find("vendors", "vendor_id", new_id)
    stored = (v["vendor_phone"], v["vendor_extension"], v["vendor_phone_country_code"])
    assert stored == ("8005550177", "12", "")
    r = await v1_request(
        sim,
        "vendors",
        "update",
        body={"vendor_id": new_id, "client_id": 0, "vendor_phone_country_code": "+1"},
    )
    assert r.json()["success"] == "True"
    assert sim.db.find("vendors", "vendor_id", new_id)["vendor_phone_country_code"] == "1"
    assert (await v1_request(sim, "vendors", "archive", body={"vendor_id": new_id, "client_id": 0})).json()[
        "success"
    ] == "True"
    assert rows(await v1_request(sim, "vendors", "read", params={"vendor_id": str(new_id)})) == []


@pytest.mark.parametrize(
    ("module", "prefix", "fields"),
    [
        ("domains", "domain", {"domain_name": "new.example"}),
        ("networks", "network", {"network_name": "Guest", "network": "10.9.0.0/24"}),
    ],
)
async def test_7_domains_networks_create_update_archive_unarchive(itflow_sim, module, prefix, fields):
    sim = await itflow_sim("v1-2610")
    r = await v1_request(sim, module, "create", body={**fields, "client_id": 1})
    new_id = r.json()["data"][0]["insert_id"]
    r = await v1_request(
        sim,
        module,
        "update",
        body={f"{prefix}_id": new_id, "client_id": 1, f"{prefix}_description": "changed"},
    )
    assert r.json() == {"success": "True", "count": 1}
    for fn, visible in (("archive", False), ("unarchive", True)):
        assert (await v1_request(sim, module, fn, body={f"{prefix}_id": new_id, "client_id": 1})).json()[
            "success"
        ] == "True"
        r = await v1_request(sim, module, "read", params={f"{prefix}_id": str(new_id)})
        assert bool(rows(r)) is visible


@pytest.mark.parametrize(("module", "prefix"), [("documents", "document"), ("software", "software")])
async def test_7_documents_software_archive_unarchive(itflow_sim, module, prefix):
    sim = await itflow_sim("v1-2610")
    body = {f"{prefix}_id": 1, "client_id": 1}
    assert (await v1_request(sim, module, "archive", body=body)).json()["success"] == "True"
    assert rows(await v1_request(sim, module, "read", params={f"{prefix}_id": "1"})) == []
    assert (await v1_request(sim, module, "unarchive", body=body)).json()["success"] == "True"
    assert col(await v1_request(sim, module, "read", params={f"{prefix}_id": "1"}), f"{prefix}_id") == ["1"]


async def test_7_archive_skips_the_target_client_check_like_q6(itflow_sim):
    sim = await itflow_sim("v1-2610")
    key = sim.keys["client"]  # allow-listed to client 1 only
    r = await v1_request(sim, "locations", "archive", key=key, body={"location_id": 2, "client_id": 2})
    assert r.json()["success"] == "True"  # another client's location, archived anyway
    r = await v1_request(
        sim, "locations", "update", key=key, body={"location_id": 2, "client_id": 2, "location_name": "x"}
    )
    assert r.status_code == 403  # update is target-checked
    r = await v1_request(sim, "vendors", "create", key=key, body={"vendor_name": "x", "client_id": 0})
    assert r.status_code == 403  # a restricted user cannot write client 0 records


# ---- 8. clients/update without client_is_lead works again --------------------------------------


@pytest.mark.parametrize(("profile", "status"), [("v1-2610", 200), ("v1-head", 500)])
async def test_8_clients_update_without_lead(itflow_sim, profile, status):
    sim = await itflow_sim(profile)
    r = await v1_request(sim, "clients", "update", body={"client_id": 3, "client_notes": "hello"})
    assert r.status_code == status
    if status == 200:
        assert r.json() == {"success": "True", "count": 1}


# ---- 9. schema: pauses_sla seeded 0,0,1,1,1; internal client setting -----------------------------


async def test_9_status_pauses_sla_and_internal_client_setting(itflow_sim):
    sim = await itflow_sim("v1-2610")
    pauses = [
        (await v1_request(sim, "tickets", "read", params={"ticket_id": str(t)})).json()["data"][0][
            "ticket_status_pauses_sla"
        ]
        for t in (1, 2)
    ]
    assert pauses == ["0", "0"]  # New and Open
    assert [s["ticket_status_pauses_sla"] for s in sim.db["ticket_statuses"]] == ["0", "0", "1", "1", "1"]
    assert "config_internal_client_id" in sim.db.settings


# ---- 10. still absent: payments, phonebook, phone search for locations/vendors -----------------------


async def test_10_still_absent(itflow_sim):
    sim = await itflow_sim("v1-2610")
    assert (await v1_request(sim, "payments", "read")).status_code == 404
    async with __import__("httpx").AsyncClient(base_url=sim.url) as http:
        assert (await http.get("/api.php", params={"phonebook": 1})).status_code == 404
    # no phone filter on locations: the parameter is ignored, the list comes back
    r = await v1_request(sim, "locations", "read", params={"location_phone": "4125550100"})
    assert len(rows(r)) > 1


# ---- detection without writing (the last paragraph of docs/itflow-api.md §7) ----------------------


@pytest.mark.parametrize(("profile", "exact"), [("v1-2610", True), ("v1-head", False)])
async def test_detect_by_behaviour_a_by_id_read(itflow_sim, profile, exact):
    sim = await itflow_sim(profile)
    r = await v1_request(sim, "clients", "read", params={"client_id": "2"})
    assert (col(r, "client_id") == ["2"]) is exact
