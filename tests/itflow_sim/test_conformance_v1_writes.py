"""Conformance: write semantics, tickets/create above all (docs/itflow-api.md §2.4 tables, §4.3,
Q9-Q11, §6.7)."""

from __future__ import annotations

import pytest

from tests.support.sim_fixtures import v1_request

V1_PROFILES = ["v1-head", "v1-v25"]


async def create_ticket(sim, body, key=None):
    kwargs = {} if key is None else {"key": key}
    r = await v1_request(sim, "tickets", "create", body=body, **kwargs)
    data = r.json()
    assert data["success"] == "True", data
    return next(t for t in sim.tickets if t["ticket_id"] == str(data["data"][0]["insert_id"]))


@pytest.mark.parametrize("profile", V1_PROFILES)
async def test_ticket_create_stores_the_documented_defaults(itflow_sim, profile):
    sim = await itflow_sim(profile)
    t = await create_ticket(sim, {"client_id": 1, "ticket_subject": "Missed call from <+14125550101>"})
    assert t["ticket_subject"] == "Missed call from"  # tags stripped, trimmed
    assert t["ticket_details"] == "< blank ><br>"
    assert t["ticket_priority"] == "Low"
    assert (t["ticket_status"], t["ticket_source"], t["ticket_created_by"]) == ("1", "API", "0")
    assert (t["ticket_prefix"], t["ticket_number"]) == ("TCK-", "3")
    assert t["ticket_contact_id"] == "1"  # ACME's primary contact
    assert len(t["ticket_url_key"] or "") == 32
    t2 = await create_ticket(sim, {"client_id": 4, "ticket_subject": "Second"})
    assert t2["ticket_number"] == "4"
    assert t2["ticket_contact_id"] == "0"  # Umbrella has no primary contact


@pytest.mark.parametrize("profile", V1_PROFILES)
async def test_ticket_details_are_stored_verbatim_plus_br(itflow_sim, profile):
    sim = await itflow_sim(profile)
    html = "Caller: Alice &amp; co<br>\nLine 2 <b>bold</b>"
    t = await create_ticket(
        sim,
        {
            "client_id": 1,
            "ticket_subject": "VM",
            "ticket_details": html,
            "ticket_priority": "<i>High</i>",
            "ticket_contact_id": 2,
        },
    )
    assert t["ticket_details"] == html + "<br>"
    assert t["ticket_priority"] == "High"
    assert t["ticket_contact_id"] == "2"


@pytest.mark.parametrize("profile", V1_PROFILES)
@pytest.mark.parametrize("subject", ["", "   ", "<+14125550101>", None])
async def test_ticket_subject_empty_after_processing_is_a_create_failure(itflow_sim, profile, subject):
    sim = await itflow_sim(profile)
    body = {"client_id": 1} if subject is None else {"client_id": 1, "ticket_subject": subject}
    r = await v1_request(sim, "tickets", "create", body=body)
    assert r.status_code == 200
    assert r.json()["success"] == "False"
    assert r.json()["message"].startswith("Auth success but insert query failed")
    assert len(sim.tickets) == 2


async def test_head_clientless_ticket_needs_an_unrestricted_user(itflow_sim):
    sim = await itflow_sim("v1-head")
    t = await create_ticket(sim, {"ticket_subject": "Unknown caller"})
    assert (t["ticket_client_id"], t["ticket_contact_id"]) == ("0", "0")
    r = await v1_request(sim, "tickets", "create", key=sim.keys["client"], body={"ticket_subject": "x"})
    assert r.status_code == 403


async def test_v25_scoped_key_writes_to_its_own_client(itflow_sim):
    sim = await itflow_sim("v1-v25")
    t = await create_ticket(
        sim, {"client_id": 2, "ticket_subject": "From scoped key"}, key=sim.keys["client"]
    )
    assert t["ticket_client_id"] == "1"


@pytest.mark.parametrize("profile", V1_PROFILES)
async def test_ticket_create_leaves_audit_log_rows(itflow_sim, profile):
    sim = await itflow_sim(profile)
    before = len(sim.db.logs)
    await create_ticket(sim, {"client_id": 1, "ticket_subject": "Audit me"})
    new = sim.db.logs[before:]
    assert [(r["log_type"], r["log_action"]) for r in new] == [("Ticket", "Create"), ("API", "Success")]
    assert new[0]["log_description"].startswith("Created ticket TCK-3 Audit me via API (")


@pytest.mark.parametrize("profile", V1_PROFILES)
async def test_form_encoded_post_authenticates_by_url_then_fails_the_insert_q10(itflow_sim, profile):
    sim = await itflow_sim(profile)
    import httpx

    async with httpx.AsyncClient(base_url=sim.url) as http:
        r = await http.post(
            "/api/v1/tickets/create.php",
            params={"api_key": sim.keys["all"]},
            data={"client_id": "1", "ticket_subject": "form"},
        )
    assert r.status_code == 200
    assert r.json()["message"].startswith("Auth success but insert query failed")


# ---- contacts ------------------------------------------------------------------------------------


@pytest.mark.parametrize("profile", V1_PROFILES)
async def test_contact_create_requires_email_strips_digits_and_leaves_country_codes_null(itflow_sim, profile):
    sim = await itflow_sim(profile)
    r = await v1_request(
        sim,
        "contacts",
        "create",
        body={
            "client_id": 4,
            "contact_name": "Una Umbrella",
            "contact_email": "una@umbrella.example",
            "contact_phone": "+1 (412) 555-0404",
            "contact_mobile": "412.555.0405",
            "contact_extension": "x12",
        },
    )
    new_id = r.json()["data"][0]["insert_id"]
    row = (await v1_request(sim, "contacts", "read", params={"contact_id": str(new_id)})).json()["data"][0]
    assert (row["contact_phone"], row["contact_mobile"], row["contact_extension"]) == (
        "14125550404",
        "4125550405",
        "12",
    )
    assert row["contact_phone_country_code"] is None and row["contact_mobile_country_code"] is None
    dup = await v1_request(
        sim,
        "contacts",
        "create",
        body={"client_id": 4, "contact_name": "Una Again", "contact_email": "UNA@umbrella.example"},
    )
    assert dup.json()["success"] == "False"
    no_client = await v1_request(
        sim, "contacts", "create", body={"contact_name": "N", "contact_email": "n@x.y"}
    )
    assert no_client.json()["success"] == "False"


@pytest.mark.parametrize("profile", V1_PROFILES)
async def test_contact_primary_flag_moves(itflow_sim, profile):
    sim = await itflow_sim(profile)
    await v1_request(
        sim,
        "contacts",
        "create",
        body={
            "client_id": 1,
            "contact_name": "New Boss",
            "contact_email": "boss@acme.example",
            "contact_primary": 1,
        },
    )
    primaries = [
        c["contact_name"]
        for c in sim.db["contacts"]
        if c["contact_client_id"] == "1" and c["contact_primary"] == "1"
    ]
    assert primaries == ["New Boss"]


async def test_contact_update_clears_primaries_even_for_a_wrong_contact_id_q11(itflow_sim):
    sim = await itflow_sim("v1-head")
    r = await v1_request(
        sim, "contacts", "update", body={"client_id": 1, "contact_id": 999, "contact_primary": 1}
    )
    assert r.json()["success"] == "False"
    assert sim.db.primary_contact(1) is None


async def test_archive_then_unarchive_contact(itflow_sim):
    sim = await itflow_sim("v1-head")
    r = await v1_request(sim, "contacts", "archive", body={"client_id": 1, "contact_id": 2})
    assert r.content == b'{"success":"True","count":1}'
    r = await v1_request(sim, "contacts", "unarchive", body={"client_id": 1, "contact_id": 2})
    assert r.content == b'{"success":"True","count":1}'
    r = await v1_request(sim, "contacts", "unarchive", body={"client_id": 1, "contact_id": 2})
    assert r.json()["success"] == "False"


# ---- resolve, replies (docs/itflow-api.md §6.7), locations ---------------------------------------


@pytest.mark.parametrize("profile", V1_PROFILES)
async def test_resolve_needs_the_tickets_client_and_only_once(itflow_sim, profile):
    sim = await itflow_sim(profile)
    wrong = await v1_request(sim, "tickets", "resolve", body={"client_id": 2, "ticket_id": 1})
    ok = await v1_request(sim, "tickets", "resolve", body={"client_id": 1, "ticket_id": 1})
    again = await v1_request(sim, "tickets", "resolve", body={"client_id": 1, "ticket_id": 1})
    assert wrong.json()["success"] == "False"
    assert ok.content == b'{"success":"True","count":1}'
    assert again.json()["success"] == "False"
    assert sim.db.find("tickets", "ticket_id", 1)["ticket_status"] == "4"


async def test_restricted_key_must_send_client_id_to_ticket_replies_create(itflow_sim):
    sim = await itflow_sim("v1-head")
    no_client = await v1_request(
        sim,
        "ticket_replies",
        "create",
        key=sim.keys["client"],
        body={"ticket_id": 1, "ticket_reply": "Called back"},
    )
    assert no_client.status_code == 403
    ok = await v1_request(
        sim,
        "ticket_replies",
        "create",
        key=sim.keys["client"],
        body={
            "ticket_id": 1,
            "client_id": 1,
            "ticket_reply": "Called back<br>",
            "ticket_reply_time_worked": "0:05:00",
            "ticket_reply_type": "Bogus",
        },
    )
    reply_id = ok.json()["data"][0]["insert_id"]
    row = sim.db.find("ticket_replies", "ticket_reply_id", reply_id)
    assert (row["ticket_reply"], row["ticket_reply_type"], row["ticket_reply_by"]) == (
        "Called back<br>",
        "Internal",
        "2",
    )
    mismatch = await v1_request(
        sim, "ticket_replies", "create", body={"ticket_id": 1, "client_id": 2, "ticket_reply": "x"}
    )
    assert mismatch.json()["success"] == "False"


@pytest.mark.parametrize("profile", V1_PROFILES)
async def test_locations_create_cannot_set_a_phone(itflow_sim, profile):
    sim = await itflow_sim(profile)
    r = await v1_request(
        sim,
        "locations",
        "create",
        body={"client_id": 4, "location_name": "Umbrella Lab", "location_phone": "4125559999"},
    )
    row = sim.db.find("locations", "location_id", r.json()["data"][0]["insert_id"])
    assert row["location_phone"] == ""
    r = await v1_request(sim, "locations", "create", body={"location_name": "No client"})
    assert r.json()["success"] == "False"
