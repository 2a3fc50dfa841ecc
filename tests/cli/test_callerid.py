"""``pbx-bridge lookup`` run as a real process against the simulator.

The simulator serves from this test's event loop, so the CLI runs through asyncio's subprocess API.
"""

from __future__ import annotations

import json

import pytest

from tests.cli.test_directory import run_cli, write_config


@pytest.mark.parametrize("profile", ["v1-head", "legacy-2022"])
async def test_lookup_syncs_first_then_answers_from_the_stored_directory(
    itflow_sim, tmp_path, profile
) -> None:
    sim = await itflow_sim(profile)
    c = sim.db.add_client("Cli Co")
    sim.db.add_contact(
        c, "Cleo Cli", phone="4125554101", mobile="4125554102", email="c@cli.example", primary=True
    )
    cfg = await write_config(tmp_path, sim)
    code, out, err = await run_cli(cfg, "lookup", "+1 (412) 555-4102", "--json")
    assert code == 0, err
    assert "syncing" in err
    answer = json.loads(out)
    assert (answer["match"], answer["display"], answer["number"], answer["source"]) == (
        "contact",
        "Cli Co - Cleo Cli",
        "+14125554102",
        "index",
    )
    # Second run: the stored directory answers, no sync, even with ITFlow down.
    sim.down = True
    code, out, err = await run_cli(cfg, "lookup", "4125554101")
    assert code == 0 and "syncing" not in err
    assert out.startswith("+14125554101  contact  Cli Co - Cleo Cli  (from index")
    if profile == "v1-head":
        assert f"client {c}, contact " in out
    code, out, err = await run_cli(cfg, "directory", "sync")
    assert code == 1 and "ITFlow" in err


async def test_lookup_of_unknown_internal_and_anonymous(itflow_sim, tmp_path) -> None:
    sim = await itflow_sim("v1-head")
    cfg = await write_config(tmp_path, sim)
    code, out, _ = await run_cli(cfg, "lookup", "4125554199")
    assert code == 0 and out.startswith("+14125554199  none")
    code, out, _ = await run_cli(cfg, "lookup", "201")
    assert code == 0 and "internal extension" in out
    code, out, _ = await run_cli(cfg, "lookup", "anonymous", "--json")
    assert code == 0 and json.loads(out)["match"] == "none" and json.loads(out)["reason"] == "anonymous"


async def test_lookup_live_asks_itflow_even_for_a_known_number(itflow_sim, tmp_path) -> None:
    sim = await itflow_sim("v1-v25")
    c = sim.db.add_client("Live Cli Co")
    sim.db.add_contact(c, "Lars Live", phone="4125554201", email="l@lc.example")
    cfg = await write_config(tmp_path, sim)
    code, out, err = await run_cli(cfg, "lookup", "4125554201", "--live", "--json")
    assert code == 0, err
    assert (json.loads(out)["source"], json.loads(out)["display"]) == ("live", "Live Cli Co - Lars Live")
