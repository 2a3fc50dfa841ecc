"""Conformance: v1 envelopes byte for byte, row encoding, paging, 500s, the era's 404 page
(docs/itflow-api.md §2.2, §3.2, §6.6).

Expected values come from docs/itflow-api.md's tables, not from the simulator.
"""

from __future__ import annotations

import pytest

from tests.support.sim_fixtures import v1_request

NO_RESOURCE = (
    b'{"success":"False","message":"No resource (for this client and company) with the specified '
    b'parameter(s)."}'
)
CREATE_FAILED = (
    b'{"success":"False","message":"Auth success but insert query failed, ensure ALL required variables are '
    b"provided (and aren't duplicates where applicable) and database schema is up-to-date. Turn on error "
    b"logging and look for 'undefined index'.\"}"
)
UPDATE_FAILED = (
    b'{"success":"False","message":"Auth success but update query failed\\/returned no results. Ensure ALL '
    b"required variables are provided and database schema is up-to-date. Most likely cause: non-existent "
    b'module ID (i.e. bad contact ID\\/ticket ID\\/etc) or no rows changed."}'
)
DELETE_FAILED = (
    b'{"success":"False","message":"Auth success but delete query failed. Ensure ALL required variables are '
    b'provided and database schema is up-to-date. Most likely cause: asset\\/client\\/company ID mismatch."}'
)
V1_PROFILES = ["v1-head", "v1-v25"]

# Columns docs/itflow-api.md documents per table (§4.1, §4.3, §4.4); SELECT * must carry at least these.
DOCUMENTED = {
    "contacts": """contact_id contact_name contact_title contact_email contact_phone_country_code
        contact_phone contact_extension contact_mobile_country_code contact_mobile contact_photo
        contact_pin contact_notes contact_department contact_primary contact_important
        contact_billing contact_technical contact_created_at contact_updated_at
        contact_archived_at contact_accessed_at contact_location_id contact_vendor_id
        contact_user_id contact_client_id""".split(),
    "clients": """client_id client_lead client_name client_type client_website client_referral client_rate
        client_currency_code client_net_terms client_tax_id_number client_abbreviation
        client_notes client_favorite client_created_at client_updated_at client_archived_at
        client_accessed_at""".split(),
    "locations": """location_id location_name location_description location_phone_country_code location_phone
        location_phone_extension location_fax_country_code location_fax location_hours
        location_photo location_primary location_notes location_favorite location_archived_at
        location_contact_id location_client_id""".split(),
    "vendors": """vendor_id vendor_name vendor_description vendor_contact_name vendor_phone_country_code
        vendor_phone vendor_extension vendor_email vendor_website vendor_hours vendor_sla
        vendor_code vendor_account_number vendor_notes vendor_favorite vendor_archived_at
        vendor_client_id vendor_template_id""".split(),
    "invoices": """invoice_id invoice_prefix invoice_number invoice_scope invoice_status invoice_date
        invoice_due invoice_discount_amount invoice_credit_amount invoice_amount
        invoice_currency_code invoice_note invoice_url_key invoice_archived_at invoice_category_id
        invoice_recurring_invoice_id invoice_client_id""".split(),
    "payments": """payment_id payment_date payment_amount payment_currency_code payment_method
        payment_reference payment_archived_at payment_account_id payment_invoice_id""".split(),
    "tickets": """ticket_id ticket_prefix ticket_number ticket_source ticket_category ticket_subject
        ticket_details ticket_priority ticket_status ticket_billable ticket_vendor_ticket_number
        ticket_url_key ticket_created_at ticket_resolved_at ticket_closed_at ticket_archived_at
        ticket_created_by ticket_assigned_to ticket_vendor_id ticket_client_id ticket_contact_id
        ticket_location_id ticket_asset_id""".split(),
}


@pytest.mark.parametrize("module", sorted(DOCUMENTED))
async def test_rows_carry_every_documented_column_as_strings(itflow_sim, module):
    sim = await itflow_sim("v1-v25")  # the only profile with payments/read
    r = await v1_request(sim, module, "read")
    rows = r.json()["data"]
    for row in rows:
        assert set(DOCUMENTED[module]) <= set(row), set(DOCUMENTED[module]) - set(row)
        assert all(v is None or isinstance(v, str) for v in row.values())


@pytest.mark.parametrize("profile", V1_PROFILES)
async def test_read_with_rows_is_true_with_int_count_and_string_values(itflow_sim, profile):
    sim = await itflow_sim(profile)
    r = await v1_request(sim, "contacts", "read", params={"contact_id": "1"})
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    assert r.content.startswith(b'{"success":"True","count":1,"data":[{"contact_id":"1",')
    row = r.json()["data"][0]
    # every documented column present (docs/itflow-api.md §4.1), every value a string or null
    assert set(DOCUMENTED["contacts"]) <= set(row)
    assert all(v is None or isinstance(v, str) for v in row.values())
    assert row["contact_phone"] == "4125550101"
    assert row["contact_pin"] == "8642"


@pytest.mark.parametrize("profile", V1_PROFILES)
async def test_zero_rows_is_false_no_resource_with_http_200(itflow_sim, profile):
    sim = await itflow_sim(profile)
    r = await v1_request(sim, "contacts", "read", params={"contact_id": "999"})
    assert (r.status_code, r.content) == (200, NO_RESOURCE)


@pytest.mark.parametrize("profile", V1_PROFILES)
async def test_create_count_is_the_string_1_and_insert_id_an_int(itflow_sim, profile):
    sim = await itflow_sim(profile)
    r = await v1_request(sim, "tickets", "create", body={"client_id": 1, "ticket_subject": "Missed call"})
    assert r.content == b'{"success":"True","count":"1","data":[{"insert_id":3}]}'


@pytest.mark.parametrize("profile", V1_PROFILES)
async def test_failure_envelopes_are_byte_exact(itflow_sim, profile):
    sim = await itflow_sim(profile)
    r = await v1_request(sim, "contacts", "create", body={"client_id": 1, "contact_name": "No Mail"})
    assert (r.status_code, r.content) == (200, CREATE_FAILED)
    r = await v1_request(
        sim, "contacts", "update", body={"client_id": 1, "contact_id": 999, "contact_name": "x"}
    )
    assert (r.status_code, r.content) == (200, UPDATE_FAILED)
    r = await v1_request(sim, "contacts", "delete", body={"client_id": 2, "contact_id": 1})
    assert (r.status_code, r.content) == (200, DELETE_FAILED)


@pytest.mark.parametrize("profile", V1_PROFILES)
async def test_update_that_changes_nothing_is_a_failure(itflow_sim, profile):
    sim = await itflow_sim(profile)
    body = {"client_id": 1, "contact_id": 2, "contact_title": "Ops"}
    first = await v1_request(sim, "contacts", "update", body=body)
    again = await v1_request(sim, "contacts", "update", body=body)
    assert first.content == b'{"success":"True","count":1}'
    assert again.content == UPDATE_FAILED


@pytest.mark.parametrize("profile", V1_PROFILES)
async def test_json_encode_escapes_slash_and_non_ascii(itflow_sim, profile):
    sim = await itflow_sim(profile)
    cid = sim.db.add_contact(4, "Zoë A/B", email="zoe@umbrella.example", phone="5555550100")
    r = await v1_request(sim, "contacts", "read", params={"contact_id": str(cid)})
    assert b'"contact_name":"Zo\\u00eb A\\/B"' in r.content
    assert r.json()["data"][0]["contact_name"] == "Zoë A/B"


@pytest.mark.parametrize("profile", V1_PROFILES)
async def test_invalid_utf8_in_a_row_gives_an_empty_200_body(itflow_sim, profile):
    sim = await itflow_sim(profile)
    bad = b"Caf\xe9 Owner".decode("utf-8", "surrogateescape")
    cid = sim.db.add_contact(4, bad, email="cafe@umbrella.example")
    r = await v1_request(sim, "contacts", "read", params={"contact_id": str(cid)})
    assert (r.status_code, r.content) == (200, b"")
    listing = await v1_request(sim, "contacts", "read")  # the whole page dies with it
    assert (listing.status_code, listing.content) == (200, b"")


async def test_numeric_duplicate_keys_before_v26_02(itflow_sim):
    sim = await itflow_sim("v1-v25", quirks={"numeric_keys": True})
    r = await v1_request(sim, "vendors", "read", params={"vendor_id": "1"})
    assert r.content.startswith(
        b'{"success":"True","count":1,"data":[{"0":"1","vendor_id":"1","1":"Bell & Whistle",'
        b'"vendor_name":"Bell & Whistle",'
    )
    plain = await itflow_sim("v1-v25")
    r = await v1_request(plain, "vendors", "read", params={"vendor_id": "1"})
    assert r.content.startswith(b'{"success":"True","count":1,"data":[{"vendor_id":"1","vendor_name":')


# ---- paging (docs/itflow-api.md §2.2, §2.4) -------------------------------------------------------


@pytest.mark.parametrize("profile", V1_PROFILES)
async def test_default_limit_is_50_with_no_maximum_ordered_by_id(itflow_sim, profile):
    sim = await itflow_sim(profile)
    for i in range(60):
        sim.db.add_vendor(f"Vendor {i:02d}", phone=f"80055510{i:02d}")
    first = (await v1_request(sim, "vendors", "read")).json()
    assert first["count"] == 50
    ids = [int(r["vendor_id"]) for r in first["data"]]
    assert ids == sorted(ids) and ids[0] == 1
    everything = (await v1_request(sim, "vendors", "read", params={"limit": "1000"})).json()
    assert everything["count"] == 63


@pytest.mark.parametrize("profile", V1_PROFILES)
async def test_limit_and_offset_from_query_first_then_body(itflow_sim, profile):
    sim = await itflow_sim(profile)
    r = (await v1_request(sim, "contacts", "read", params={"limit": "2", "offset": "1"})).json()
    assert [row["contact_id"] for row in r["data"]] == ["2", "3"]
    r = (await v1_request(sim, "contacts", "read", body={"limit": 2, "offset": 3})).json()
    assert [row["contact_id"] for row in r["data"]] == ["4", "5"]
    r = (await v1_request(sim, "contacts", "read", params={"limit": "1"}, body={"limit": 3})).json()
    assert r["count"] == 1
    r = (await v1_request(sim, "contacts", "read", body={"limit": None})).json()
    assert r["count"] == 8  # a JSON null is not "set": the default applies


@pytest.mark.parametrize("profile", V1_PROFILES)
@pytest.mark.parametrize("params", [{"limit": "0"}, {"limit": "abc"}, {"offset": "500"}])
async def test_zero_limit_and_page_past_end_are_no_resource(itflow_sim, profile, params):
    sim = await itflow_sim(profile)
    r = await v1_request(sim, "contacts", "read", params=params)
    assert (r.status_code, r.content) == (200, NO_RESOURCE)


# ---- SQL errors become 500 with an empty body (docs/itflow-api.md Q8) ----------------------------


@pytest.mark.parametrize("profile", V1_PROFILES)
@pytest.mark.parametrize(
    ("module", "function", "params", "body"),
    [
        ("contacts", "read", {"limit": "-1"}, {}),
        ("contacts", "read", {"offset": "-5"}, {}),
        ("software", "read", {"software_name": "Office"}, {}),
        ("clients", "update", {}, {"client_id": 1, "client_name": "ACME Corporation"}),
        ("tickets", "create", {}, {"client_id": 1, "ticket_subject": "x" * 501}),
    ],
)
async def test_sql_errors_are_500_with_empty_body(itflow_sim, profile, module, function, params, body):
    sim = await itflow_sim(profile)
    r = await v1_request(sim, module, function, params=params, body=body)
    assert (r.status_code, r.content) == (500, b"")


async def test_subject_of_exactly_500_chars_is_accepted(itflow_sim):
    sim = await itflow_sim("v1-head")
    r = await v1_request(sim, "tickets", "create", body={"client_id": 1, "ticket_subject": "x" * 500})
    assert r.json()["success"] == "True"


async def test_php7_mode_turns_sql_errors_into_quiet_failures(itflow_sim):
    sim = await itflow_sim("v1-head", quirks={"mysqli_exceptions": False})
    r = await v1_request(sim, "contacts", "read", params={"limit": "-1"})
    assert (r.status_code, r.content) == (200, NO_RESOURCE)


# ---- endpoints per era answer the web server's 404 page (docs/itflow-api.md §3.2, §6.6) ----------


@pytest.mark.parametrize(
    ("profile", "module", "function"),
    [
        ("v1-head", "payments", "read"),
        ("v1-head", "vendors", "create"),
        ("v1-head", "invoices", "update"),
        ("v1-v25", "ticket_replies", "read"),
        ("v1-v25", "ticket_replies", "create"),
        ("v1-v25", "invoice_items", "read"),
        ("legacy-2022", "contacts", "read"),
        ("legacy-2022", "tickets", "create"),
        ("legacy-2022", "clients", "read"),
    ],
)
async def test_missing_endpoint_is_the_apache_404_html_page(itflow_sim, profile, module, function):
    sim = await itflow_sim(profile)
    r = await v1_request(sim, module, function)
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("text/html")
    assert r.text.startswith('<!DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN">')
    assert "<h1>Not Found</h1>" in r.text


@pytest.mark.parametrize("profile", ["v1-head", "v1-v25"])
async def test_v1_profiles_have_no_legacy_api_php(itflow_sim, profile):
    sim = await itflow_sim(profile)
    r = await v1_request(sim, "contacts", "read")
    assert r.status_code == 200
    import httpx

    async with httpx.AsyncClient(base_url=sim.url) as http:
        legacy = await http.get("/api.php", params={"api_key": sim.keys["all"], "cid": "4125550101"})
    assert legacy.status_code == 404
    assert "<title>404 Not Found</title>" in legacy.text


HEAD_41 = (
    [("assets", f) for f in ("read", "create", "update", "delete")]
    + [("certificates", "read"), ("certificates", "create")]
    + [("clients", f) for f in ("read", "create", "update", "archive", "unarchive")]
    + [("contacts", f) for f in ("read", "create", "update", "delete", "archive", "unarchive")]
    + [("credentials", f) for f in ("read", "create", "update")]
    + [("documents", f) for f in ("read", "create", "update")]
    + [
        ("domains", "read"),
        ("expenses", "read"),
        ("invoice_items", "read"),
        ("invoice_items", "create"),
        ("invoices", "read"),
        ("locations", "read"),
        ("locations", "create"),
        ("networks", "read"),
        ("products", "read"),
        ("quotes", "read"),
        ("software", "read"),
        ("technicians", "time"),
        ("ticket_replies", "read"),
        ("ticket_replies", "create"),
        ("tickets", "read"),
        ("tickets", "create"),
        ("tickets", "resolve"),
        ("vendors", "read"),
    ]
)


def test_the_head_endpoint_list_has_41_entries():
    assert len(HEAD_41) == 41


@pytest.mark.parametrize(("module", "function"), HEAD_41)
async def test_every_head_endpoint_exists_and_answers_json(itflow_sim, module, function):
    sim = await itflow_sim("v1-head")
    wrong = "POST" if function in ("read", "time") else "GET"
    r = await v1_request(sim, module, function, method=wrong)
    assert r.status_code == 405
    assert r.json()["success"] == "False"


async def test_v25_has_payments_read_and_no_head_only_endpoints(itflow_sim):
    sim = await itflow_sim("v1-v25")
    r = await v1_request(sim, "payments", "read")
    assert r.json()["count"] == 5
    assert (await v1_request(sim, "technicians", "time")).status_code == 200  # v26.3 has it
