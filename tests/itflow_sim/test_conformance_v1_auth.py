"""Conformance: the v1 request pipeline's auth framing, RBAC texts and method checks (docs/itflow-api.md
§2.2, §2.3, §6.3).

Expected values are copied from docs/itflow-api.md's tables, never from the simulator.
"""

from __future__ import annotations

import pytest

from tests.support.sim_fixtures import v1_request

WRONG_KEY = b'{"success":"False","message":"Authentication failed. API key is invalid or has expired."}'
GET_ONLY = b'{"success":"False","message":"Can only send GET requests to this endpoint."}'
POST_ONLY = b'{"success":"False","message":"Can only send POST requests to this endpoint."}'
RBAC = {
    "unbound": b'{"success":"False","message":"This API key is not tied to a user and is no longer valid. '
    b'Please recreate it."}',
    "inactive": b'{"success":"False","message":"The user linked to this API key is inactive, archived, or '
    b'invalid."}',
    "unmapped": b'{"success":"False","message":"This API resource is not mapped to a permission module."}',
    "level": b'{"success":"False","message":"The user linked to this API key does not have permission for '
    b'this action."}',
    "target": b'{"success":"False","message":"The user linked to this API key does not have access to the '
    b'target client for this write."}',
}
V1_PROFILES = ["v1-head", "v1-v25"]


@pytest.mark.parametrize("profile", V1_PROFILES)
@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH"])
async def test_other_methods_get_405_var_dump_before_any_key_check(itflow_sim, profile, method):
    sim = await itflow_sim(profile)
    r = await v1_request(sim, "contacts", "read", method=method, key=None)
    assert r.status_code == 405
    assert r.content == f'string({len(method)}) "{method}"\n'.encode()
    assert r.headers["content-type"] == "application/json"


@pytest.mark.parametrize("profile", V1_PROFILES)
async def test_missing_key_is_401_with_empty_body_and_no_log(itflow_sim, profile):
    sim = await itflow_sim(profile)
    logs_before = len(sim.db.logs)
    r = await v1_request(sim, "contacts", "read", key=None)
    assert (r.status_code, r.content) == (401, b"")
    assert r.headers["content-type"] == "application/json"
    assert len(sim.db.logs) == logs_before


@pytest.mark.parametrize("profile", V1_PROFILES)
@pytest.mark.parametrize("key_in", ["body", "query"])
async def test_wrong_key_is_401_json_and_logged(itflow_sim, profile, key_in):
    sim = await itflow_sim(profile)
    r = await v1_request(sim, "contacts", "read", key="NotAKeyAtAll", key_in=key_in)
    assert (r.status_code, r.content) == (401, WRONG_KEY)
    last = sim.db.logs[-1]
    assert (last["log_type"], last["log_action"]) == ("API", "Failed")
    assert last["log_description"] == "Incorrect or expired key (endpoint: /api/v1/contacts/read.php)"


@pytest.mark.parametrize("profile", V1_PROFILES)
async def test_present_but_empty_key_is_a_wrong_key_not_a_missing_one(itflow_sim, profile):
    sim = await itflow_sim(profile)
    r = await v1_request(sim, "contacts", "read", key="", key_in="query")
    assert (r.status_code, r.content) == (401, WRONG_KEY)


@pytest.mark.parametrize("profile", V1_PROFILES)
async def test_expired_key_is_dead_from_midnight_of_its_expiry_date(itflow_sim, profile):
    sim = await itflow_sim(profile)  # the "expired" key's expiry date is today
    r = await v1_request(sim, "contacts", "read", key=sim.keys["expired"])
    assert (r.status_code, r.content) == (401, WRONG_KEY)


@pytest.mark.parametrize("profile", V1_PROFILES)
async def test_key_matches_case_insensitively_and_ignores_trailing_spaces(itflow_sim, profile):
    sim = await itflow_sim(profile)
    r = await v1_request(sim, "vendors", "read", key=sim.keys["all"].swapcase() + "   ")
    assert r.status_code == 200
    assert r.json()["success"] == "True"


@pytest.mark.parametrize("profile", V1_PROFILES)
async def test_body_key_wins_over_query_key(itflow_sim, profile):
    sim = await itflow_sim(profile)
    r = await v1_request(
        sim, "vendors", "read", params={"api_key": sim.keys["all"]}, body={"api_key": "wrong"}, key=None
    )
    assert (r.status_code, r.content) == (401, WRONG_KEY)
    r = await v1_request(
        sim, "vendors", "read", params={"api_key": "wrong"}, body={"api_key": sim.keys["all"]}, key=None
    )
    assert r.status_code == 200


@pytest.mark.parametrize("profile", V1_PROFILES)
async def test_get_may_carry_the_key_in_a_json_body(itflow_sim, profile):
    sim = await itflow_sim(profile)
    r = await v1_request(sim, "vendors", "read", method="GET", key_in="body")
    assert r.status_code == 200
    assert "api_key" not in str(r.request.url)


@pytest.mark.parametrize("profile", V1_PROFILES)
async def test_wrong_method_is_405_json_after_auth(itflow_sim, profile):
    sim = await itflow_sim(profile)
    r = await v1_request(sim, "contacts", "read", method="POST")
    assert (r.status_code, r.content) == (405, GET_ONLY)
    r = await v1_request(sim, "tickets", "create", method="GET")
    assert (r.status_code, r.content) == (405, POST_ONLY)
    r = await v1_request(sim, "technicians", "time", method="POST")
    assert (r.status_code, r.content) == (405, GET_ONLY)
    # Auth runs first: a wrong method with a bad key is 401.
    r = await v1_request(sim, "tickets", "create", method="GET", key="bad")
    assert (r.status_code, r.content) == (401, WRONG_KEY)


def test_legacy_2022_v1_wrong_key_text_is_the_v1a_one():
    # V1a's text differs (docs/itflow-api.md §3.1); checked as a constant of the profile table.
    from itflow_sim import PROFILES

    assert PROFILES["legacy-2022"].wrong_key_message.startswith("API Key authentication failure")


async def test_legacy_2022_v1_assets_read_rejects_wrong_key_with_v1a_text(itflow_sim):
    sim = await itflow_sim("legacy-2022")
    r = await v1_request(sim, "assets", "read", key="bad", key_in="query")
    assert r.status_code == 401
    assert r.json() == {"success": "False", "message": "API Key authentication failure or expired."}


# ---- RBAC at HEAD (docs/itflow-api.md §2.3) -------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "module", "function", "body", "expected"),
    [
        ("unbound", "contacts", "read", {}, "unbound"),
        ("inactive", "contacts", "read", {}, "inactive"),
        ("all", "custom", "readme", {}, "unmapped"),
        ("readonly", "tickets", "create", {"client_id": 1, "ticket_subject": "x"}, "level"),
        ("readonly", "contacts", "delete", {"client_id": 1, "contact_id": 2}, "level"),
        ("readonly", "technicians", "time", {}, "level"),  # docs/itflow-api.md Q7: a read needing write level
        ("readonly", "tickets", "resolve", {"client_id": 1, "ticket_id": 1}, "level"),
        ("client", "tickets", "create", {"client_id": 2, "ticket_subject": "x"}, "target"),
        ("client", "tickets", "create", {"ticket_subject": "x"}, "target"),  # client 0 = global
        ("deny", "tickets", "create", {"client_id": 2, "ticket_subject": "x"}, "target"),
    ],
)
async def test_rbac_denials_are_403_with_the_exact_texts(itflow_sim, key, module, function, body, expected):
    sim = await itflow_sim("v1-head")
    method = "GET" if function in ("read", "time") else "POST"
    r = await v1_request(sim, module, function, method=method, key=sim.keys[key], body=body)
    assert (r.status_code, r.content) == (403, RBAC[expected])


async def test_rbac_runs_before_the_method_check_so_a_get_probes_write_permission(itflow_sim):
    sim = await itflow_sim("v1-head")
    allowed = await v1_request(
        sim, "tickets", "create", method="GET", key=sim.keys["client"], params={"client_id": "1"}
    )
    denied = await v1_request(
        sim, "tickets", "create", method="GET", key=sim.keys["client"], params={"client_id": "2"}
    )
    no_level = await v1_request(
        sim, "tickets", "create", method="GET", key=sim.keys["readonly"], params={"client_id": "1"}
    )
    assert (allowed.status_code, allowed.content) == (405, POST_ONLY)
    assert (denied.status_code, denied.content) == (403, RBAC["target"])
    assert (no_level.status_code, no_level.content) == (403, RBAC["level"])
    assert len(sim.tickets) == 2  # nothing written


async def test_rbac_target_client_comes_from_body_before_query(itflow_sim):
    sim = await itflow_sim("v1-head")
    r = await v1_request(
        sim,
        "tickets",
        "create",
        key=sim.keys["client"],
        params={"client_id": "1"},
        body={"client_id": 2, "ticket_subject": "x"},
    )
    assert (r.status_code, r.content) == (403, RBAC["target"])


async def test_archive_unarchive_resolve_skip_the_target_client_check_q6(itflow_sim):
    sim = await itflow_sim("v1-head")
    r = await v1_request(
        sim, "contacts", "archive", key=sim.keys["client"], body={"client_id": 2, "contact_id": 3}
    )
    assert r.json() == {"success": "True", "count": 1}
    assert sim.db.find("contacts", "contact_id", 3)["contact_archived_at"] is not None
    r = await v1_request(
        sim, "tickets", "resolve", key=sim.keys["client"], body={"client_id": 2, "ticket_id": 2}
    )
    assert r.json() == {"success": "True", "count": 1}


async def test_reads_need_only_level_1_and_admin_gets_everything(itflow_sim):
    sim = await itflow_sim("v1-head")
    r = await v1_request(sim, "contacts", "read", key=sim.keys["readonly"])
    assert r.json()["success"] == "True"
    r = await v1_request(sim, "expenses", "read", key=sim.keys["client"])  # Technician: no financial level
    assert (r.status_code, r.content) == (403, RBAC["level"])
    r = await v1_request(sim, "custom", "readme", method="GET", key=sim.keys["all"])
    assert (r.status_code, r.content) == (403, RBAC["unmapped"])
