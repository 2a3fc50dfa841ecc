"""Every endpoint of every profile survives odd input without a simulator crash (the fixture fails on one)."""

from __future__ import annotations

import pytest

from itflow_sim import PROFILES
from tests.support.sim_fixtures import v1_request

ODD_BODIES = [
    {},
    {"client_id": "abc", "contact_id": None, "ticket_id": [1], "limit": "x", "ticket_subject": {"a": 1}},
    {
        "client_id": 1,
        "contact_id": 1,
        "ticket_id": 1,
        "asset_id": 1,
        "invoice_id": 1,
        "document_id": 1,
        "credential_id": 1,
        "ticket_reply": "r",
        "contact_name": "N",
        "contact_email": "e@x.y",
        "client_name": "C",
        "location_name": "L",
        "asset_name": "A",
        "certificate_name": "c",
        "certificate_domain": "d",
        "document_name": "D",
        "document_content": "x",
        "name": "item",
        "qty": "2",
        "client_is_lead": 0,
    },
]
ODD_PARAMS = [
    {},
    {"contact_phone_or_mobile": "", "limit": "-0", "offset": "1e3", "client_id": "-1"},
    {"month": "0", "year": "abc", "item_id": "x", "ticket_id": "1", "type": "Client"},
]


@pytest.mark.parametrize("profile", list(PROFILES))
async def test_all_endpoints_with_odd_input_answer_without_crashing(itflow_sim, profile):
    sim = await itflow_sim(profile)
    for endpoint in sorted(sim.profile.endpoints):
        module, function = endpoint.split("/")
        for body, params in zip(ODD_BODIES, ODD_PARAMS, strict=True):
            r = await v1_request(sim, module, function, body=body, params=params)
            assert r.status_code in (200, 400, 403, 405, 500), (endpoint, r.status_code)
            if r.status_code == 500:
                assert r.content == b""


async def test_unknown_seed_table_is_a_clear_error():
    from itflow_sim import Simulator

    with pytest.raises(ValueError, match="seed: unknown table 'contact'"):
        Simulator("v1-head", seed={"contact": []})


async def test_partial_seed_still_has_installer_ticket_statuses(itflow_sim):
    sim = await itflow_sim("v1-head", seed={"clients": [{"client_id": 1, "client_name": "Solo"}]})
    r = await v1_request(sim, "tickets", "create", body={"client_id": 1, "ticket_subject": "hi"})
    tid = r.json()["data"][0]["insert_id"]
    row = (await v1_request(sim, "tickets", "read", params={"ticket_id": str(tid)})).json()["data"][0]
    assert (row["ticket_number"], row["ticket_status_name"]) == ("1", "New")
