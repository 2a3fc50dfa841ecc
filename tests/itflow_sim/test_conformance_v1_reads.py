"""Conformance: read filters, precedence, scoping per era, Q1/Q2/Q12, the §6.1 stale success
(docs/itflow-api.md §2.4, §3.1, §6 and those quirks).

Rows are compared as parsed JSON on documented columns; the seed's facts are in seed.json's comment.
"""

from __future__ import annotations

import pytest

from tests.support.sim_fixtures import v1_request

V1_PROFILES = ["v1-head", "v1-v25"]


def names(resp) -> list[str]:
    body = resp.json()
    return [r["contact_name"] for r in body.get("data", [])] if body["success"] == "True" else []


def ids(resp, col: str) -> list[int]:
    body = resp.json()
    return [int(r[col]) for r in body.get("data", [])] if body["success"] == "True" else []


@pytest.mark.parametrize("profile", V1_PROFILES)
async def test_contacts_filter_precedence_id_then_email_then_phone(itflow_sim, profile):
    sim = await itflow_sim(profile)
    r = await v1_request(
        sim,
        "contacts",
        "read",
        params={
            "contact_id": "3",
            "contact_email": "alice@acme.example",
            "contact_phone_or_mobile": "7245550121",
        },
    )
    assert names(r) == ["Bob Globex"]
    r = await v1_request(
        sim,
        "contacts",
        "read",
        params={"contact_email": "ALICE@acme.example", "contact_phone_or_mobile": "7245550121"},
    )
    assert names(r) == ["Alice Anderson"]  # e-mail match is case-insensitive
    r = await v1_request(sim, "contacts", "read", params={"contact_id": "abc"})
    assert r.json()["success"] == "False"  # intval("abc") = 0


@pytest.mark.parametrize("profile", V1_PROFILES)
@pytest.mark.parametrize(
    ("number", "expected"),
    [
        ("4125550101", ["Alice Anderson"]),  # phone
        ("4125550199", ["Alice Anderson"]),  # mobile
        ("7245550121", ["Siobhan O'Brien"]),
        (
            "17245550124",
            ["Carla Country"],
        ),  # stored with its country code typed in: only these digits find it
        ("7245550124", []),
        ("+14125550101", []),  # used as given: no digit stripping
        ("(412) 555-0101", []),
        (" 4125550101", []),  # no trimming of leading space
        ("4125550177", ["Archie Archived"]),  # archived contacts are returned (docs/itflow-api.md Q12)
    ],
)
async def test_contact_phone_or_mobile_is_an_exact_match_on_stored_digits(
    itflow_sim, profile, number, expected
):
    sim = await itflow_sim(profile)
    r = await v1_request(sim, "contacts", "read", params={"contact_phone_or_mobile": number})
    assert names(r) == expected


@pytest.mark.parametrize("profile", V1_PROFILES)
async def test_phone_or_mobile_returns_only_the_first_row(itflow_sim, profile):
    sim = await itflow_sim(profile)
    sim.db.add_contact(4, "Second Alice Phone", phone="4125550101", email="dup@umbrella.example")
    r = await v1_request(sim, "contacts", "read", params={"contact_phone_or_mobile": "4125550101"})
    assert names(r) == ["Alice Anderson"]


@pytest.mark.parametrize("profile", V1_PROFILES)
async def test_empty_phone_or_mobile_matches_the_first_empty_field(itflow_sim, profile):
    sim = await itflow_sim(profile)
    r = await v1_request(sim, "contacts", "read", params={"contact_phone_or_mobile": ""})
    assert names(r) == ["Arnold Acme"]  # contact 2 has mobile ''


@pytest.mark.parametrize("profile", V1_PROFILES)
async def test_q1_mobile_match_ignores_the_client_scope_phone_match_does_not(itflow_sim, profile):
    sim = await itflow_sim(profile)
    key = sim.keys["client"]  # restricted to client 1
    leak = await v1_request(
        sim, "contacts", "read", key=key, params={"contact_phone_or_mobile": "7245550198"}
    )
    assert names(leak) == ["Bob Globex"]  # Globex (client 2) via its mobile: the scope leak
    scoped = await v1_request(
        sim, "contacts", "read", key=key, params={"contact_phone_or_mobile": "7245550120"}
    )
    assert scoped.json()["success"] == "False"  # same contact via its phone: scoped out
    by_id = await v1_request(sim, "contacts", "read", key=key, params={"contact_id": "3"})
    assert by_id.json()["success"] == "False"


# ---- HEAD: reads ignore client_id, RBAC scoping (docs/itflow-api.md §2.3, Q2) --------------------


async def test_head_reads_ignore_client_id(itflow_sim):
    sim = await itflow_sim("v1-head")
    everything = await v1_request(sim, "invoices", "read")
    filtered = await v1_request(sim, "invoices", "read", params={"client_id": "2"})
    assert ids(filtered, "invoice_id") == ids(everything, "invoice_id") == list(range(1, 11))
    clients = await v1_request(sim, "clients", "read", params={"client_id": "3"})
    assert ids(clients, "client_id") == [1, 2, 3, 4, 5, 6]  # no lookup by id at HEAD


async def test_head_allow_list_sees_its_clients_and_client_0(itflow_sim):
    sim = await itflow_sim("v1-head")
    vendors = await v1_request(sim, "vendors", "read", key=sim.keys["client"])
    assert ids(vendors, "vendor_id") == [1, 2, 3]  # 1 and 3 global (client 0), 2 of client 1
    sim.db.add_vendor("Globex Only", client_id=2)
    vendors = await v1_request(sim, "vendors", "read", key=sim.keys["client"])
    assert ids(vendors, "vendor_id") == [1, 2, 3]
    contacts = await v1_request(sim, "contacts", "read", key=sim.keys["client"])
    assert {r["contact_client_id"] for r in contacts.json()["data"]} == {"1"}


async def test_head_deny_list_hides_denied_clients(itflow_sim):
    sim = await itflow_sim("v1-head")
    contacts = await v1_request(sim, "contacts", "read", key=sim.keys["deny"])
    assert "2" not in {r["contact_client_id"] for r in contacts.json()["data"]}
    assert {"1", "3", "5"} <= {r["contact_client_id"] for r in contacts.json()["data"]}


async def test_head_admin_and_unrestricted_see_everything(itflow_sim):
    sim = await itflow_sim("v1-head")
    for key in ("all", "readonly"):
        r = await v1_request(sim, "contacts", "read", key=sim.keys[key])
        assert r.json()["count"] == 8


# ---- V1c (v26.3): LIKE scoping, client_id filter, the docs/itflow-api.md §6.1 quirk ---------------


async def test_v25_all_clients_key_filters_by_client_id(itflow_sim):
    sim = await itflow_sim("v1-v25")
    r = await v1_request(sim, "invoices", "read", params={"client_id": "1"})
    assert ids(r, "invoice_id") == [1, 2, 3, 4, 5, 6, 7]
    r = await v1_request(sim, "clients", "read", params={"client_id": "3"})
    assert [row["client_name"] for row in r.json()["data"]] == ["Initech"]
    r = await v1_request(sim, "vendors", "read", params={"client_id": "0"})
    assert ids(r, "vendor_id") == [1, 3]  # client_id=0 selects rows whose client is 0


async def test_v25_client_scoped_key_ignores_client_id(itflow_sim):
    sim = await itflow_sim("v1-v25")
    r = await v1_request(sim, "invoices", "read", key=sim.keys["client"], params={"client_id": "2"})
    assert ids(r, "invoice_id") == [1, 2, 3, 4, 5, 6, 7]
    r = await v1_request(sim, "vendors", "read", key=sim.keys["client"])
    assert ids(r, "vendor_id") == [2]  # LIKE '1': global vendors are not visible to a scoped key


@pytest.mark.parametrize("module", ["payments", "products", "expenses"])
async def test_v25_stale_success_without_data_on_unscoped_endpoints(itflow_sim, module):
    sim = await itflow_sim("v1-v25")
    r = await v1_request(sim, module, "read", key=sim.keys["client"])
    assert (r.status_code, r.content) == (200, b'{"success":"True","count":1}')
    r = await v1_request(sim, module, "read", params={"client_id": "1"})
    assert (r.status_code, r.content) == (200, b'{"success":"True","count":1}')
    r = await v1_request(sim, module, "read")
    assert r.json()["success"] == "True" and "data" in r.json()


async def test_v25_payments_filters(itflow_sim):
    sim = await itflow_sim("v1-v25")
    r = await v1_request(sim, "payments", "read", params={"payment_invoice_id": "2"})
    assert [(p["payment_id"], p["payment_amount"]) for p in r.json()["data"]] == [("1", "49.50")]
    r = await v1_request(sim, "payments", "read", params={"payment_id": "4"})
    assert r.json()["data"][0]["payment_invoice_id"] == "9"


async def test_v25_clients_create_needs_an_all_clients_key(itflow_sim):
    sim = await itflow_sim("v1-v25")
    r = await v1_request(sim, "clients", "create", key=sim.keys["client"], body={"client_name": "Nope"})
    assert r.json()["success"] == "False"
    r = await v1_request(sim, "clients", "create", body={"client_name": "Yes", "client_id": 1})
    assert r.json()["success"] == "False"
    r = await v1_request(sim, "clients", "create", body={"client_name": "Yes"}, params={"client_id": "0"})
    assert r.json()["success"] == "False"
    r = await v1_request(sim, "clients", "create", body={"client_name": "Yes"})
    assert r.json()["data"][0]["insert_id"] == 7


# ---- other endpoints' filters --------------------------------------------------------------------


@pytest.mark.parametrize("profile", V1_PROFILES)
async def test_tickets_read_by_id_joins_statuses_list_does_not(itflow_sim, profile):
    sim = await itflow_sim(profile)
    one = (await v1_request(sim, "tickets", "read", params={"ticket_id": "1"})).json()["data"][0]
    assert (one["ticket_status"], one["ticket_status_id"], one["ticket_status_name"]) == ("2", "2", "Open")
    listed = (await v1_request(sim, "tickets", "read")).json()["data"][0]
    assert listed["ticket_status"] == "2"
    assert "ticket_status_name" not in listed


@pytest.mark.parametrize("profile", V1_PROFILES)
async def test_clients_read_by_exact_name_and_archived_rows_included(itflow_sim, profile):
    sim = await itflow_sim(profile)
    r = await v1_request(sim, "clients", "read", params={"client_name": "acme corp"})
    assert ids(r, "client_id") == [1]
    r = await v1_request(sim, "clients", "read", params={"client_name": "ACME"})
    assert r.json()["success"] == "False"
    r = await v1_request(sim, "clients", "read", params={"client_name": "Old Co"})
    assert r.json()["data"][0]["client_archived_at"] is not None


@pytest.mark.parametrize("profile", V1_PROFILES)
async def test_locations_and_vendors_have_no_phone_filter(itflow_sim, profile):
    sim = await itflow_sim(profile)
    r = await v1_request(sim, "vendors", "read", params={"vendor_phone": "8005550123"})
    assert ids(r, "vendor_id") == [1, 2, 3]
    r = await v1_request(sim, "locations", "read", params={"location_id": "2"})
    row = r.json()["data"][0]
    assert (row["location_phone"], row["location_phone_country_code"]) == ("7245550150", "")
    r = await v1_request(sim, "vendors", "read", params={"vendor_id": "1"})
    assert r.json()["data"][0]["vendor_name"] == "Bell & Whistle"


@pytest.mark.parametrize("profile", V1_PROFILES)
async def test_software_key_reads_the_software_license_parameter(itflow_sim, profile):
    sim = await itflow_sim(profile)
    r = await v1_request(sim, "software", "read", params={"software_key": "AAAA-BBBB"})
    assert r.json()["success"] == "False"
    r = await v1_request(
        sim, "software", "read", params={"software_key": "", "software_license": "AAAA-BBBB"}
    )
    assert r.json()["data"][0]["software_name"] == "Office"


@pytest.mark.parametrize("profile", V1_PROFILES)
async def test_assets_type_filter_upper_cases_the_first_letter(itflow_sim, profile):
    sim = await itflow_sim(profile)
    r = await v1_request(sim, "assets", "read", params={"asset_type": "laptop"})
    assert [a["asset_name"] for a in r.json()["data"]] == ["ACME-LT-01"]


async def test_head_invoice_items_needs_a_filter(itflow_sim):
    sim = await itflow_sim("v1-head")
    r = await v1_request(sim, "invoice_items", "read")
    assert r.status_code == 400
    assert r.content == (
        b'{"success":"False","message":"A filter is required. Please supply either invoice_id or '
        b'item_id.","count":0,"data":[]}'
    )
    r = await v1_request(sim, "invoice_items", "read", params={"invoice_id": "1"})
    assert r.json()["data"][0]["item_name"] == "Support hour"


async def test_head_ticket_replies_exclude_archived_unless_asked(itflow_sim):
    sim = await itflow_sim("v1-head")
    sim.db.insert(
        "ticket_replies",
        {
            "ticket_reply": "old",
            "ticket_reply_ticket_id": 1,
            "ticket_reply_archived_at": "2026-02-01 10:00:00",
            "ticket_reply_by": 1,
        },
    )
    r = await v1_request(sim, "ticket_replies", "read", params={"ticket_id": "1"})
    assert [x["ticket_reply"] for x in r.json()["data"]] == ["Cleared the jam"]
    row = r.json()["data"][0]
    assert (row["ticket_prefix"], row["ticket_number"], row["ticket_reply_by_name"]) == (
        "TCK-",
        "1",
        "Sim Admin",
    )
    r = await v1_request(sim, "ticket_replies", "read", params={"ticket_id": "1", "include_archived": "1"})
    assert len(r.json()["data"]) == 2


async def test_credentials_read_needs_the_decrypt_password_in_the_body(itflow_sim):
    sim = await itflow_sim("v1-head")
    r = await v1_request(sim, "credentials", "read")
    assert r.json()["success"] == "False"
    r = await v1_request(
        sim, "credentials", "read", params={"api_key_decrypt_password": "sim-decrypt-password"}
    )
    assert r.json()["success"] == "False"  # a GET body, not the query string
    r = await v1_request(
        sim, "credentials", "read", body={"api_key_decrypt_password": "sim-decrypt-password"}
    )
    assert (r.json()["data"][0]["credential_username"], r.json()["data"][0]["credential_password"]) == (
        "admin",
        "s3cret",
    )


async def test_array_where_php_wants_a_string_is_a_500(itflow_sim):
    sim = await itflow_sim("v1-head")
    r = await v1_request(sim, "tickets", "create", body={"client_id": 1, "ticket_subject": ["a"]})
    assert (r.status_code, r.content) == (500, b"")


@pytest.mark.parametrize("profile", ["v1-head", "v1-v25"])
async def test_technicians_time_validates_month(itflow_sim, profile):
    sim = await itflow_sim(profile)
    r = await v1_request(sim, "technicians", "time", params={"month": "13"})
    assert (r.status_code, r.content) == (
        200,
        b'{"success":"False","message":"Invalid month parameter. Must be between 1 and 12."}',
    )
    r = await v1_request(sim, "technicians", "time", params={"year": "2026", "month": "2"})
    row = r.json()["data"][0]
    assert (row["ticket_number"], row["time_worked"], row["company"]) == ("TCK-1", "00:15:00", "ACME Corp")


async def test_legacy_2022_v1_assets_read_uses_the_early_filter_names(itflow_sim):
    sim = await itflow_sim("legacy-2022")
    r = await v1_request(sim, "assets", "read", params={"id": "2"}, key_in="query")
    assert [a["asset_name"] for a in r.json()["data"]] == ["GLX-SRV-01"]
    assert r.content.startswith(b'{"success":"True","count":1,"data":[{"0":"2","asset_id":"2",')
