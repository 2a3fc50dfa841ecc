"""``agi/itflow-balance`` (stdlib classic AGI relay) against the daemon's loopback endpoint.

The script runs as a real subprocess with a scripted Asterisk on its stdin/stdout; the daemon side is the
real aiohttp app with ``balance_http_routes`` on a loopback port, over the simulator. Every check happens
in the daemon, so the same sequences as over FastAGI come out.
"""

from __future__ import annotations

import os
import sys
from contextlib import AsyncExitStack
from pathlib import Path

import aiohttp

from pbx_bridge.balance.http import RemoteSessions
from tests.balance.asterisk_peer import ScriptedAsterisk, agi_env
from tests.balance.harness import ALL_FILES, open_ivr, serve_internal
from tests.balance.sequences import ACME_V26_3, INTRO, REFUSAL

SCRIPT = Path(__file__).resolve().parents[2] / "agi" / "itflow-balance"


def classic_env(callerid: str) -> dict[str, str]:
    env = agi_env(callerid, args=("6505550100",))  # an argument the script must ignore
    for k in ("agi_network", "agi_network_script"):
        env.pop(k)
    env["agi_request"] = "itflow-balance"
    return env


async def run_script(
    port: int | None,
    callerid: str,
    *,
    url_in_channel: bool = False,
    secret_file: Path = Path("/nonexistent/pbx-bridge-balance.secret"),
    **peer_kw,
) -> tuple[list[str], int]:
    url = f"http://127.0.0.1:{port}" if port else "http://127.0.0.1:9"  # 9: nothing listens (discard)
    variables = {"PBXB_BALANCE_URL": url} if url_in_channel else {}
    peer = ScriptedAsterisk(existing=ALL_FILES, variables=variables, **peer_kw)
    proc_env = {
        "PATH": os.environ.get("PATH", ""),
        "PBXB_BALANCE_TIMEOUT": "5",
        "PBXB_BALANCE_SECRET_FILE": str(secret_file),
    }
    if not url_in_channel:
        proc_env["PBXB_BALANCE_URL"] = url
    return await peer.run_classic(
        [sys.executable, str(SCRIPT), "4125550101"], classic_env(callerid), proc_env=proc_env
    )


async def test_known_caller_through_the_script(itflow_sim, tmp_path) -> None:
    async with AsyncExitStack() as stack:
        ivr = await open_ivr(stack, tmp_path, await itflow_sim("v1-v25"))
        sessions = RemoteSessions(ivr.service, reply_timeout=5)
        port = await serve_internal(stack, sessions)
        commands, code = await run_script(port, "4125550101")
        assert (commands, code) == ([*ACME_V26_3, 'SET VARIABLE PBXB_BALANCE_STATUS "spoken"'], 0)
        assert sessions.live == {}


async def test_daemon_url_from_the_channel_variable(itflow_sim, tmp_path) -> None:
    async with AsyncExitStack() as stack:
        ivr = await open_ivr(stack, tmp_path, await itflow_sim("v1-v25"))
        port = await serve_internal(stack, RemoteSessions(ivr.service, reply_timeout=5))
        commands, code = await run_script(port, "4125550101", url_in_channel=True)
        assert (commands, code) == (
            ["GET VARIABLE PBXB_BALANCE_URL", *ACME_V26_3, 'SET VARIABLE PBXB_BALANCE_STATUS "spoken"'],
            0,
        )


async def test_script_refuses_a_daemon_url_off_loopback() -> None:
    peer = ScriptedAsterisk(variables={"PBXB_BALANCE_URL": "http://example.invalid:8735"})
    commands, code = await peer.run_classic(
        [sys.executable, str(SCRIPT)],
        classic_env("4125550101"),
        proc_env={"PATH": os.environ.get("PATH", "")},
    )
    assert commands == ["GET VARIABLE PBXB_BALANCE_URL"] and code == 1


async def test_script_argument_cannot_choose_the_client(itflow_sim, tmp_path) -> None:
    # The script is called with Alice's number as argv[1] but the caller is unknown: no balance.
    async with AsyncExitStack() as stack:
        ivr = await open_ivr(stack, tmp_path, await itflow_sim("v1-v25"))
        port = await serve_internal(stack, RemoteSessions(ivr.service, reply_timeout=5))
        commands, _ = await run_script(port, "15551230999")
        assert commands == [*REFUSAL, 'SET VARIABLE PBXB_BALANCE_STATUS "unknown"']


async def test_wrong_pins_through_the_script(itflow_sim, tmp_path) -> None:
    async with AsyncExitStack() as stack:
        ivr = await open_ivr(stack, tmp_path, await itflow_sim("v1-v25"), verification="pin", max_attempts=2)
        port = await serve_internal(stack, RemoteSessions(ivr.service, reply_timeout=5))
        commands, _ = await run_script(port, "4125550101", dtmf=list("1#2#"))
        assert not [c for c in commands if c.startswith("SAY NUMBER")]
        assert commands[-1] == 'SET VARIABLE PBXB_BALANCE_STATUS "refused"'


async def test_hangup_mid_readout_through_the_script(itflow_sim, tmp_path) -> None:
    async with AsyncExitStack() as stack:
        ivr = await open_ivr(stack, tmp_path, await itflow_sim("v1-v25"))
        sessions = RemoteSessions(ivr.service, reply_timeout=5)
        port = await serve_internal(stack, sessions)
        commands, code = await run_script(port, "4125550101", hangup_at=2)
        # SAY NUMBER answered result=-1: the daemon asks CHANNEL STATUS, the script reads HANGUP; end.
        assert (commands, code) == ([INTRO, 'SAY NUMBER 230 ""', "CHANNEL STATUS"], 0)
        assert sessions.live == {}
        assert ivr.outcomes() == {"hangup": 1.0}


async def test_daemon_unreachable_says_nothing_and_sets_a_status() -> None:
    commands, code = await run_script(None, "4125550101")
    assert (commands, code) == (['SET VARIABLE PBXB_BALANCE_STATUS "unavailable"'], 0)


async def test_endpoint_rejects_bad_requests(itflow_sim, tmp_path) -> None:
    async with AsyncExitStack() as stack:
        ivr = await open_ivr(stack, tmp_path, await itflow_sim("v1-v25"))
        port = await serve_internal(stack, RemoteSessions(ivr.service, reply_timeout=5))
        async with aiohttp.ClientSession() as http:
            r = await http.post(f"http://127.0.0.1:{port}/balance/agi/start", data=b"not json")
            assert r.status == 400
            r = await http.post(
                f"http://127.0.0.1:{port}/balance/agi/reply", json={"id": "nope", "reply": "200 result=0"}
            )
            assert r.status == 404


async def test_with_a_secret_only_the_script_holding_it_gets_a_balance(itflow_sim, tmp_path) -> None:
    # The script reads the secret from its file (never from the dialplan); without it, or with a wrong
    # one, the daemon refuses and the script just sets "unavailable".
    secret = "s3cret-" + "x" * 24
    good = tmp_path / "good.secret"
    good.write_text(secret + "\n")
    bad = tmp_path / "bad.secret"
    bad.write_text("not-the-secret-at-all-000\n")
    async with AsyncExitStack() as stack:
        ivr = await open_ivr(stack, tmp_path, await itflow_sim("v1-v25"))
        port = await serve_internal(stack, RemoteSessions(ivr.service, reply_timeout=5), secret=secret)
        unavailable = ['SET VARIABLE PBXB_BALANCE_STATUS "unavailable"']
        assert await run_script(port, "4125550101") == (unavailable, 0)
        assert await run_script(port, "4125550101", secret_file=bad) == (unavailable, 0)
        commands, _ = await run_script(port, "4125550101", secret_file=good)
        assert commands == [*ACME_V26_3, 'SET VARIABLE PBXB_BALANCE_STATUS "spoken"']
        assert ivr.outcomes() == {"spoken": 1.0, "forbidden": 2.0}  # refusals counted, as on FastAGI


async def test_classic_door_refuses_peers_outside_balance_allow(itflow_sim, tmp_path) -> None:
    async with AsyncExitStack() as stack:
        ivr = await open_ivr(stack, tmp_path, await itflow_sim("v1-v25"), allow=["192.0.2.0/24"])
        port = await serve_internal(stack, RemoteSessions(ivr.service, reply_timeout=5))
        assert await run_script(port, "4125550101") == (['SET VARIABLE PBXB_BALANCE_STATUS "unavailable"'], 0)
        assert ivr.outcomes() == {"forbidden": 1.0}


async def test_each_door_has_its_own_balance_budget(itflow_sim, tmp_path) -> None:
    # max_balances_per_door=1: the classic door's one balance does not use up the FastAGI door's.
    async with AsyncExitStack() as stack:
        ivr = await open_ivr(stack, tmp_path, await itflow_sim("v1-v25"), max_balances_per_door=1)
        port = await serve_internal(stack, RemoteSessions(ivr.service, reply_timeout=5))
        assert (await run_script(port, "4125550101"))[0][-1] == 'SET VARIABLE PBXB_BALANCE_STATUS "spoken"'
        assert (await run_script(port, "6505550100"))[0][-1] == 'SET VARIABLE PBXB_BALANCE_STATUS "limited"'
        assert (await ivr.call("6505550100"))[-1] == 'SET VARIABLE PBXB_BALANCE_STATUS "spoken"'
        rows = ivr.store.call(
            lambda c: c.execute(
                "SELECT door, COUNT(*) FROM balance_attempts WHERE ok = 1 GROUP BY door ORDER BY door"
            ).fetchall()
        )
        assert [tuple(r) for r in rows] == [("classic", 1), ("fastagi", 1)]
