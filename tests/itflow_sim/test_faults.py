"""The simulator's fault knobs: delay, down, drop_answer_after_commit (behaviour, never timing)."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from tests.support.sim_fixtures import legacy_request, v1_request


async def test_delay_makes_a_short_client_timeout_fire_and_zero_delay_answers(itflow_sim):
    sim = await itflow_sim("v1-head")
    sim.delay = 5.0
    async with httpx.AsyncClient(base_url=sim.url, timeout=0.2) as http:
        with pytest.raises(httpx.ReadTimeout):
            await http.get("/api/v1/vendors/read.php", params={"api_key": sim.keys["all"]})
    sim.delay = 0.0
    r = await v1_request(sim, "vendors", "read")
    assert r.json()["success"] == "True"


async def test_delay_happens_before_handling_so_a_timed_out_write_did_not_commit(itflow_sim):
    sim = await itflow_sim("v1-head")
    sim.delay = 5.0
    async with httpx.AsyncClient(base_url=sim.url, timeout=0.2) as http:
        with pytest.raises(httpx.ReadTimeout):
            await http.post(
                "/api/v1/tickets/create.php",
                json={"api_key": sim.keys["all"], "client_id": 1, "ticket_subject": "slow"},
            )
    assert len(sim.tickets) == 2


@pytest.mark.parametrize("profile", ["v1-head", "legacy-2022"])
async def test_down_refuses_then_recovers(itflow_sim, profile):
    sim = await itflow_sim(profile)
    sim.down = True
    async with httpx.AsyncClient(base_url=sim.url, timeout=5) as http:
        with pytest.raises(httpx.TransportError):
            await http.get("/api/v1/assets/read.php", params={"api_key": sim.keys["all"]})
    sim.down = False
    r = await v1_request(sim, "assets", "read", key_in="query")
    assert r.status_code == 200


async def test_down_refuses_new_connections_by_default(itflow_sim):
    sim = await itflow_sim("v1-head")
    sim.down = True
    async with httpx.AsyncClient(base_url=sim.url, timeout=5) as http:
        with pytest.raises(httpx.ConnectError):
            await http.get("/api/v1/vendors/read.php")
    sim.down = False
    sim.down = True  # flapping is fine
    sim.down = False
    assert (await v1_request(sim, "vendors", "read")).status_code == 200


async def test_down_reset_mode_accepts_then_drops(itflow_sim):
    sim = await itflow_sim("v1-head")
    sim.down_mode = "reset"
    sim.down = True
    async with httpx.AsyncClient(base_url=sim.url, timeout=5) as http:
        with pytest.raises(httpx.TransportError) as info:
            await http.get("/api/v1/vendors/read.php")
    assert not isinstance(info.value, httpx.ConnectTimeout)
    sim.down = False
    assert (await v1_request(sim, "vendors", "read")).status_code == 200


async def test_down_cuts_an_open_keep_alive_connection(itflow_sim):
    sim = await itflow_sim("v1-head")
    async with httpx.AsyncClient(base_url=sim.url, timeout=5) as http:
        first = await http.get("/api/v1/vendors/read.php", params={"api_key": sim.keys["all"]})
        assert first.status_code == 200
        sim.down = True
        with pytest.raises(httpx.TransportError):
            await http.get("/api/v1/vendors/read.php", params={"api_key": sim.keys["all"]})


async def test_drop_answer_after_commit_commits_the_write_but_sends_nothing(itflow_sim):
    sim = await itflow_sim("v1-head")
    sim.drop_answer_after_commit = True
    async with httpx.AsyncClient(base_url=sim.url, timeout=5) as http:
        with pytest.raises(httpx.TransportError):
            await http.post(
                "/api/v1/tickets/create.php",
                json={"api_key": sim.keys["all"], "client_id": 1, "ticket_subject": "lost answer"},
            )
        # Reads and failed writes still answer: only a committed change loses its answer.
        read = await http.get("/api/v1/vendors/read.php", params={"api_key": sim.keys["all"]})
        failed = await http.post(
            "/api/v1/tickets/create.php", json={"api_key": sim.keys["all"], "client_id": 1}
        )
    assert [t["ticket_subject"] for t in sim.tickets][-1] == "lost answer"
    assert read.status_code == 200
    assert failed.json()["success"] == "False"
    sim.drop_answer_after_commit = False
    r = await v1_request(sim, "tickets", "create", body={"client_id": 1, "ticket_subject": "answered"})
    assert r.json()["success"] == "True"


async def test_drop_answer_after_commit_on_legacy_cid_still_writes_the_alert(itflow_sim):
    sim = await itflow_sim("legacy-2022")
    sim.drop_answer_after_commit = True
    with pytest.raises(httpx.TransportError):
        await legacy_request(sim, {"api_key": sim.keys["all"], "cid": "4125550101"})
    assert sim.db.alerts[-1]["alert_message"] == "Inbound call from Alice Anderson - 4125550101"


async def test_requests_are_recorded_so_tests_can_check_the_key_stays_out_of_urls(itflow_sim):
    sim = await itflow_sim("v1-head")
    await v1_request(sim, "vendors", "read")
    seen = sim.requests[-1]
    assert seen.method == "GET"
    assert sim.keys["all"] not in seen.path_qs
    assert sim.keys["all"].encode() in seen.body


async def test_serve_prints_url_and_keys_and_answers(capsys):
    from itflow_sim import serve

    started = asyncio.Event()
    task = asyncio.create_task(serve("v1-v25", "127.0.0.1", 0, started=started))
    await asyncio.wait_for(started.wait(), 30)
    out = capsys.readouterr().out
    url = out.split("listening on ")[1].split()[0]
    key = next(line.split(": ")[1] for line in out.splitlines() if "key all:" in line)
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        r = await http.get("/api/v1/payments/read.php", params={"api_key": key})
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert r.json()["count"] == 5
    assert "v1-v25" in out and "tag v26.3" in out


def test_unknown_profile_and_quirk_are_clear_errors():
    from itflow_sim import Simulator

    with pytest.raises(ValueError, match="unknown simulator profile 'v2'"):
        Simulator("v2")
    with pytest.raises(ValueError, match="unknown simulator quirk"):
        Simulator("v1-head", quirks={"leading_newlines": True})
