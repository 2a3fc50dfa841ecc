"""The simulator fixture starts each profile on loopback and answers the basic calls other suites rely on."""

from __future__ import annotations

import httpx
import pytest

from tests.support.sim_fixtures import ALL_PROFILES


@pytest.mark.parametrize("profile", ALL_PROFILES)
async def test_fixture_starts_each_profile_with_an_all_clients_key(itflow_sim, profile):
    sim = await itflow_sim(profile)
    assert sim.url.startswith("http://127.0.0.1:")
    assert "all" in sim.keys
    async with httpx.AsyncClient(base_url=sim.url) as http:
        r = await http.get("/api/v1/assets/read.php", params={"api_key": sim.keys["all"]})
    assert r.status_code == 200
    assert r.json()["success"] == "True"


@pytest.mark.parametrize("profile", ["v1-head", "v1-v25"])
async def test_contacts_and_ticket_create_round_trip(itflow_sim, profile):
    sim = await itflow_sim(profile)
    key = sim.keys["all"]
    async with httpx.AsyncClient(base_url=sim.url) as http:
        found = await http.request(
            "GET",
            "/api/v1/contacts/read.php",
            params={"contact_phone_or_mobile": "4125550101"},
            json={"api_key": key},
        )
        made = await http.post(
            "/api/v1/tickets/create.php",
            json={"api_key": key, "client_id": 1, "ticket_subject": "Missed call"},
        )
    assert found.json()["data"][0]["contact_name"] == "Alice Anderson"
    new_id = made.json()["data"][0]["insert_id"]
    assert sim.tickets[-1]["ticket_id"] == str(new_id)
    assert sim.tickets[-1]["ticket_contact_id"] == "1"  # primary-contact fallback


async def test_legacy_cid_and_phonebook(itflow_sim):
    sim = await itflow_sim("legacy-2022")
    async with httpx.AsyncClient(base_url=sim.url) as http:
        cid = await http.get("/api.php", params={"api_key": sim.keys["all"], "cid": "4125550101"})
        book = await http.get("/api.php", params={"api_key": sim.keys["all"], "phonebook": ""})
    assert cid.text == "Alice Anderson - 4125550101"
    assert book.text.startswith('<?xml version="1.0" encoding="utf-8"?><AddressBook>        <Contact>')
    assert "<LastName>Bell & Whistle</LastName>" in book.text
